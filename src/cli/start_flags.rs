//! pm2's start flags, each mapped onto the start option it sets (the names `start()` takes),
//! so `pm2 start app.js --max-restarts 3` and `pm2.start({script, max_restarts: 3})` are the
//! same request. `pm2 start` reads them with clap; `pm2-runtime`, whose arguments go anywhere
//! around its target, reads the ones it takes with [`find`].

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{json, Map, Value};

/// What a flag's value becomes.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A switch that sets the option to this boolean.
    Switch(bool),
    /// A string, as given.
    Text,
    /// A number when it reads as one (the daemon validates the rest).
    Number,
    /// A list separated by spaces or commas.
    List,
    /// A list of numbers separated by spaces or commas.
    Numbers,
    /// `true` when given alone, else the value (`--log [path]`).
    TextOrTrue,
    /// `true` when given alone, else a list (`--watch [paths]`).
    ListOrTrue,
}

impl Kind {
    fn takes_value(self) -> bool {
        matches!(self, Kind::Text | Kind::Number | Kind::List | Kind::Numbers)
    }
}

/// (flag, short, option, kind, help)
const FLAGS: &[(&str, Option<char>, &str, Kind, &str)] = &[
    ("name", Some('n'), "name", Kind::Text, "set a name for the process in the process list"),
    ("instances", Some('i'), "instances", Kind::Text, "launch [number] instances (cluster mode for Node apps); 'max' or 0 for one per core"),
    ("watch", None, "watch", Kind::ListOrTrue, "watch the app's folder (or these paths) and restart on changes"),
    ("ignore-watch", None, "ignore_watch", Kind::List, "paths or globs the watch ignores"),
    ("watch-delay", None, "watch_delay", Kind::Number, "delay in ms between a change and the restart"),
    ("namespace", None, "namespace", Kind::Text, "the process's namespace"),
    ("cwd", None, "cwd", Kind::Text, "run the app from this directory"),
    ("interpreter", None, "interpreter", Kind::Text, "the interpreter (node, python3, bash, none, ...)"),
    ("interpreter-args", None, "interpreter_args", Kind::Text, "arguments for the interpreter"),
    ("node-args", None, "node_args", Kind::Text, "arguments for node (alias of --interpreter-args)"),
    ("output", Some('o'), "out_file", Kind::Text, "stdout log file"),
    ("error", Some('e'), "error_file", Kind::Text, "stderr log file"),
    ("log", Some('l'), "log_file", Kind::TextOrTrue, "a combined stdout + stderr log file"),
    ("merge-logs", None, "merge_logs", Kind::Switch(true), "one log file for every instance of the app"),
    ("log-date-format", None, "log_date_format", Kind::Text, "prefix log lines with this date format"),
    ("time", None, "time", Kind::Switch(true), "prefix log lines with the time"),
    ("log-type", None, "log_type", Kind::Text, "'json' to write log lines as JSON"),
    ("pid", Some('p'), "pid_file", Kind::Text, "the pid file (`-<id>` is added before its extension)"),
    ("disable-logs", None, "disable_logs", Kind::Switch(true), "write no log files"),
    ("max-memory-restart", None, "max_memory_restart", Kind::Text, "restart when the app uses more memory (10M, 1G, ...)"),
    ("restart-delay", None, "restart_delay", Kind::Number, "wait this many ms before restarting a crashed app"),
    ("exp-backoff-restart-delay", None, "exp_backoff_restart_delay", Kind::Number, "exponential backoff between restarts, starting at this many ms"),
    ("max-restarts", None, "max_restarts", Kind::Number, "unstable restarts before the app is errored"),
    ("min-uptime", None, "min_uptime", Kind::Number, "uptime in ms below which a restart counts as unstable"),
    ("kill-timeout", None, "kill_timeout", Kind::Number, "ms between the stop signal and SIGKILL"),
    ("listen-timeout", None, "listen_timeout", Kind::Number, "ms to wait for the app to listen or be ready"),
    ("wait-ready", None, "wait_ready", Kind::Switch(true), "wait for process.send('ready') before the app counts as online"),
    ("shutdown-with-message", None, "shutdown_with_message", Kind::Switch(true), "stop the app with a 'shutdown' message instead of a signal"),
    ("cron-restart", Some('c'), "cron_restart", Kind::Text, "restart on this cron pattern (alias --cron)"),
    ("no-autorestart", None, "autorestart", Kind::Switch(false), "do not restart the app when it exits"),
    ("no-autostart", None, "autostart", Kind::Switch(false), "add the app without starting it"),
    ("stop-exit-codes", None, "stop_exit_codes", Kind::Numbers, "exit codes after which the app is not restarted"),
    ("no-treekill", None, "treekill", Kind::Switch(false), "stop only the app's process, not its children"),
    ("filter-env", None, "filter_env", Kind::ListOrTrue, "do not pass environment variables with these prefixes (all, when given alone)"),
    ("uid", None, "uid", Kind::Text, "run the app as this user"),
    ("gid", None, "gid", Kind::Text, "run the app with this group"),
    ("instance-var", None, "instance_var", Kind::Text, "the environment variable that holds the instance number"),
    ("kill-signal", None, "kill_signal", Kind::Text, "the signal that stops the app (default SIGINT)"),
    ("execute-command", Some('x'), "exec_mode", Kind::Switch(true), "run in fork mode (pm2's -x)"),
    ("source-map-support", None, "source_map_support", Kind::Switch(true), "enable source map support (on by default for Node apps)"),
    ("disable-source-map-support", None, "disable_source_map_support", Kind::Switch(true), "stack traces ignore the app's source maps"),
    ("no-automation", None, "automation", Kind::Switch(false), "accepted for pm2 compatibility (no PM2 Plus automation here)"),
    ("no-vizion", None, "vizion", Kind::Switch(false), "do not read the app's version control metadata"),
    ("no-pmx", None, "pmx", Kind::Switch(false), "do not inject @pm2/io"),
];

/// Other names of a flag (alias, flag).
const ALIASES: &[(&str, &str)] = &[("cron", "cron-restart")];

/// Flags that steer how a config file is read rather than setting an option.
pub const ENV: &str = "env";
pub const ONLY: &str = "only";
pub const UPDATE_ENV: &str = "update-env";
pub const FORCE: &str = "force";
pub const ARGS: &str = "args";

/// Adds every start flag to a command (`start`, `restart`, `startOrRestart`, ...).
pub fn add(cmd: Command) -> Command {
    let mut cmd = cmd;
    for &(long, short, _, kind, help) in FLAGS {
        let mut arg = Arg::new(long).long(long).help(help);
        if let Some(s) = short {
            arg = arg.short(s);
        }
        for &(alias, _) in ALIASES.iter().filter(|(_, of)| *of == long) {
            arg = arg.visible_alias(alias);
        }
        arg = match kind {
            Kind::Switch(_) => arg.action(ArgAction::SetTrue),
            Kind::TextOrTrue | Kind::ListOrTrue => arg.num_args(0..=1).action(ArgAction::Set).default_missing_value(""),
            _ => arg.action(ArgAction::Set).allow_hyphen_values(true),
        };
        cmd = cmd.arg(arg);
    }
    cmd.arg(Arg::new(ENV).long(ENV).action(ArgAction::Set).help("the env_<name> block of a config file to apply"))
        .arg(Arg::new(ONLY).long(ONLY).action(ArgAction::Set).help("start only these apps of a config file (comma separated)"))
        .arg(Arg::new(UPDATE_ENV).long(UPDATE_ENV).action(ArgAction::SetTrue).help("refresh the app's environment from this shell"))
        .arg(Arg::new(FORCE).short('f').long(FORCE).action(ArgAction::SetTrue).help("start the script even if it already runs"))
        .arg(Arg::new(ARGS).num_args(0..).last(true).allow_hyphen_values(true).help("arguments for the app, after --"))
}

fn split_list(s: &str) -> Vec<Value> {
    s.split([' ', ',']).filter(|p| !p.is_empty()).map(|p| json!(p)).collect()
}

fn number_or_text(s: &str) -> Value {
    s.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(s))
}

/// The option value of a flag of `kind` given with `value` (None or empty: given alone).
fn value_of(kind: Kind, value: Option<&str>) -> Value {
    match (kind, value.filter(|v| !v.is_empty())) {
        (Kind::Switch(b), _) => json!(b),
        // `--node-args=null` on restart drops the option (pm2's word for it).
        (_, Some("null")) => json!("null"),
        (Kind::TextOrTrue | Kind::ListOrTrue, None) => json!(true),
        (Kind::Number, Some(v)) => number_or_text(v),
        (Kind::List | Kind::ListOrTrue, Some(v)) => Value::Array(split_list(v)),
        (Kind::Numbers, Some(v)) => Value::Array(split_list(v).iter().map(|x| number_or_text(x.as_str().unwrap_or_default())).collect()),
        (_, v) => json!(v.unwrap_or_default()),
    }
}

/// The start options the flags given on the command line set.
pub fn options(m: &ArgMatches) -> Map<String, Value> {
    let mut o = Map::new();
    for &(long, _, key, kind, _) in FLAGS {
        let given = match kind {
            Kind::Switch(_) => m.get_flag(long).then_some(None),
            _ => m.get_one::<String>(long).map(|v| Some(v.as_str())),
        };
        if let Some(v) = given {
            o.insert(key.to_string(), value_of(kind, v));
        }
    }
    if o.get("exec_mode") == Some(&json!(true)) {
        o.insert("exec_mode".into(), json!("fork"));
    }
    if m.get_flag(FORCE) {
        o.insert("force".into(), json!(true));
    }
    if let Some(args) = m.get_many::<String>(ARGS) {
        o.insert("args".into(), Value::Array(args.map(|a| json!(a)).collect()));
    }
    o
}

/// A start flag found by a parser of its own.
#[derive(Debug, PartialEq)]
pub struct Flag {
    pub key: &'static str,
    kind: Kind,
}

impl Flag {
    /// Whether the next word is its value; the others stand alone (a switch, `--watch`,
    /// `--log`) unless given as `--flag=value`.
    pub fn takes_value(&self) -> bool {
        self.kind.takes_value()
    }

    /// The option value, the flag given with `value` (None: alone).
    pub fn value(&self, value: Option<&str>) -> Value {
        value_of(self.kind, value)
    }
}

/// The start flag `arg` names (`--name`, `-n`, an alias) if it is one of `allowed` (long names).
pub fn find(arg: &str, allowed: &[&str]) -> Option<Flag> {
    let long = match arg.strip_prefix("--") {
        Some(name) => ALIASES.iter().find(|(alias, _)| *alias == name).map_or(name, |&(_, of)| of),
        None => {
            let short = arg.strip_prefix('-').filter(|s| s.chars().count() == 1)?.chars().next();
            FLAGS.iter().find(|f| f.1.is_some() && f.1 == short)?.0
        }
    };
    let &(_, _, key, kind, _) = FLAGS.iter().find(|f| f.0 == long && allowed.contains(&long))?;
    Some(Flag { key, kind })
}

/// Help lines for the `allowed` flags, as `find` reads them (aliases are in the help texts).
pub fn help(allowed: &[&str]) -> String {
    let mut out = String::new();
    for &(long, short, _, kind, help) in FLAGS.iter().filter(|f| allowed.contains(&f.0)) {
        let mut names = short.map(|s| format!("-{s}, ")).unwrap_or_default();
        names.push_str(&format!("--{long}"));
        if kind.takes_value() {
            names.push_str(" <value>");
        }
        out.push_str(&format!("  {names:<34}{help}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Map<String, Value> {
        let cmd = add(Command::new("start").arg(Arg::new("script")));
        options(&cmd.try_get_matches_from(std::iter::once("start").chain(args.iter().copied())).unwrap())
    }

    #[test]
    fn flags_become_pm2_start_options() {
        let o = parse(&["app.js", "--name", "api", "-i", "2", "--max-restarts", "3", "--no-autorestart", "--time", "-o", "/tmp/o.log"]);
        assert_eq!(o["name"], "api");
        assert_eq!(o["instances"], "2");
        assert_eq!(o["max_restarts"], 3);
        assert_eq!(o["autorestart"], false);
        assert_eq!(o["time"], true);
        assert_eq!(o["out_file"], "/tmp/o.log");
        assert!(!o.contains_key("treekill"));
    }

    #[test]
    fn optional_values_and_lists() {
        let o = parse(&["app.js", "--watch", "--stop-exit-codes", "0,3", "--ignore-watch", "node_modules logs"]);
        assert_eq!(o["watch"], true);
        assert_eq!(o["stop_exit_codes"], json!([0, 3]));
        assert_eq!(o["ignore_watch"], json!(["node_modules", "logs"]));
        let o = parse(&["app.js", "--watch", "src,lib", "--log"]);
        assert_eq!(o["watch"], json!(["src", "lib"]));
        assert_eq!(o["log_file"], true);
    }

    #[test]
    fn a_parser_of_its_own_finds_the_allowed_flags_by_any_name() {
        let allowed = ["name", "cron-restart", "watch"];
        assert_eq!(find("-n", &allowed).map(|f| (f.key, f.takes_value())), Some(("name", true)));
        assert_eq!(find("--cron", &allowed).map(|f| f.key), Some("cron_restart"));
        assert_eq!(find("-c", &allowed).map(|f| f.key), Some("cron_restart"));
        let watch = find("--watch", &allowed).unwrap();
        assert_eq!((watch.takes_value(), watch.value(None), watch.value(Some("a,b"))), (false, json!(true), json!(["a", "b"])));
        assert_eq!(find("--max-restarts", &allowed), None, "not allowed");
        assert_eq!(find("--bogus", &allowed), None);
        assert!(help(&allowed).contains("-c, --cron-restart <value>"));
    }

    #[test]
    fn arguments_after_double_dash_go_to_the_app() {
        let o = parse(&["app.js", "--", "--port", "3000"]);
        assert_eq!(o["args"], json!(["--port", "3000"]));
    }
}
