//! pm2's start options: canonical keys, their aliases and camelCase forms, and what each accepts.

/// What a start option accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    Str,
    Num,
    Bool,
    /// An array of strings, or one string split shell-style.
    Args,
    Obj,
    /// `true`, a string or an array of strings (`filter_env`, `watch`, `ignore_watch`).
    BoolStrOrList,
    /// `log_file`: `true` or a path.
    BoolOrStr,
    /// A number, a numeric string, or `'max'`.
    Instances,
    /// A number or an array of numbers (`stop_exit_codes`).
    Codes,
    /// Bytes with an optional K/M/G suffix (`max_memory_restart`).
    Bytes,
    /// Milliseconds, or a number with an h/m/s suffix.
    Duration,
    /// A cron pattern (string) or `0` to disable.
    Cron,
    /// A number or a string (`uid`, `gid`).
    NumOrStr,
    /// A signal name (`SIGTERM`, `SIGUSR2`, ...).
    Signal,
}

use Kind::*;

/// pm2's schema: canonical key, extra aliases, kind.
const SCHEMA: &[(&str, &[&str], Kind)] = &[
    ("script", &["exec", "cmd", "command"], Str),
    ("name", &[], Str),
    ("name_prefix", &[], Str),
    ("namespace", &[], Str),
    ("cwd", &[], Str),
    ("args", &["scriptArgs"], Args),
    ("exec_interpreter", &["interpreter"], Str),
    ("node_args", &["interpreter_args", "interpreterArgs"], Args),
    ("exec_mode", &[], Str),
    ("instances", &[], Instances),
    ("out_file", &["out", "output", "out_log"], Str),
    ("error_file", &["error", "err", "err_file", "err_log"], Str),
    ("log_file", &["log"], BoolOrStr),
    ("merge_logs", &["combine_logs"], Bool),
    ("disable_logs", &[], Bool),
    ("log_type", &[], Str),
    ("log_date_format", &[], Str),
    ("time", &[], Bool),
    ("pid_file", &["pid"], Str),
    ("env", &[], Obj),
    ("filter_env", &[], BoolStrOrList),
    ("port", &[], Num),
    ("autostart", &[], Bool),
    ("autorestart", &[], Bool),
    ("min_uptime", &[], Duration),
    ("max_restarts", &[], Num),
    ("restart_delay", &[], Num),
    ("exp_backoff_restart_delay", &[], Num),
    ("stop_exit_codes", &[], Codes),
    ("max_memory_restart", &[], Bytes),
    ("kill_timeout", &[], Num),
    ("kill_retry_time", &[], Num),
    ("kill_signal", &[], Signal),
    ("shutdown_with_message", &[], Bool),
    ("treekill", &[], Bool),
    ("wait_ready", &[], Bool),
    ("listen_timeout", &[], Num),
    ("cron_restart", &["cron"], Cron),
    ("watch", &[], BoolStrOrList),
    ("ignore_watch", &[], BoolStrOrList),
    ("watch_delay", &[], Num),
    ("watch_options", &[], Obj),
    ("uid", &["user"], NumOrStr),
    ("gid", &[], NumOrStr),
    ("instance_var", &[], Str),
    ("increment_var", &[], Str),
    ("append_env_to_name", &[], Bool),
    ("force", &[], Bool),
    ("windowsHide", &[], Bool),
    ("source_map_support", &[], Bool),
    ("disable_source_map_support", &[], Bool),
    ("vizion", &[], Bool),
    ("pmx", &[], Bool),
    ("automation", &[], Bool),
    ("trace", &[], Bool),
    ("disable_trace", &[], Bool),
    ("max_size", &[], Bytes),
    ("retain", &[], Num),
    ("compress", &[], Bool),
    ("post_update", &[], Args),
    ("username", &[], Str),
];

fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut up = false;
    for c in key.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Is `key` one of pm2's start options under its canonical name?
pub fn is_option_key(key: &str) -> bool {
    SCHEMA.iter().any(|(k, _, _)| *k == key)
}

pub(super) fn canonical_key(key: &str) -> Option<(&'static str, Kind)> {
    SCHEMA.iter().find_map(|(k, aliases, kind)| {
        (key == *k || aliases.contains(&key) || key == camel(k)).then_some((*k, *kind))
    })
}

