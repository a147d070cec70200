//! pm2 start options: validation, aliases, defaults and normalisation into an [`AppSpec`].
//!
//! Every entry point (an options object, a script path, a config file) ends up here, once,
//! in the daemon. Keys follow pm2's schema (`lib/API/schema.json`): each key also accepts its
//! camelCase form and pm2's aliases; unknown keys are dropped as pm2 drops them, except
//! `env_<name>` blocks. A value of the wrong type is an error naming the key, never a silent
//! default.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

use crate::home::Home;

/// What a start option accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
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

/// The caller's side of a start: where relative paths resolve, whose environment apps
/// inherit, which Node runs `.js` apps, which `env_<name>` block applies.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StartContext {
    pub cwd: PathBuf,
    #[serde(default)]
    pub env: Map<String, Value>,
    #[serde(default)]
    pub node_path: String,
    #[serde(default)]
    pub env_name: Option<String>,
}

/// One app as the daemon runs it. `options` keeps every validated option under its canonical
/// key (with pm2's defaults) for the process description.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppSpec {
    pub name: String,
    pub namespace: String,
    pub exec_path: PathBuf,
    pub cwd: PathBuf,
    pub args: Vec<String>,
    /// What pm2 reports as `exec_interpreter`: `node`, `python3`, `bash`, `none`, ...
    pub interpreter: String,
    /// The program actually executed for the interpreter (the caller's Node for `node`).
    pub interpreter_path: String,
    pub node_args: Vec<String>,
    pub instances: u32,
    /// The environment apps get on top of pm2's own variables: inherited + `env` (+ `env_<name>`).
    pub env: Map<String, Value>,
    /// Only the app's own `env` (what pm2 shows as `pm2_env.env` besides the inherited keys).
    pub app_env: Map<String, Value>,
    pub autostart: bool,
    pub autorestart: bool,
    pub max_restarts: u64,
    pub min_uptime: u64,
    pub restart_delay: u64,
    pub kill_timeout: Option<u64>,
    pub stop_exit_codes: Vec<i64>,
    pub treekill: bool,
    pub shutdown_with_message: bool,
    pub merge_logs: bool,
    pub disable_logs: bool,
    pub out_file: Option<PathBuf>,
    pub error_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub force: bool,
    pub instance_var: String,
    /// The stop signal (`kill_signal`), else the daemon's (`PM2_KILL_SIGNAL`, SIGINT): see
    /// [`AppSpec::stop_signal`].
    pub kill_signal: Option<String>,
    /// Online at the app's `ready` message (or after `listen_timeout`), not at spawn.
    #[serde(default)]
    pub wait_ready: bool,
    /// How long a `wait_ready` app or a reloaded cluster worker gets to become ready (ms).
    #[serde(default)]
    pub listen_timeout: u64,
    /// `increment_var`: the variable instance n gets as its value + n.
    #[serde(default)]
    pub increment_var: Option<String>,
    /// `cron_restart`, unless disabled.
    pub cron: Option<String>,
    pub exp_backoff_restart_delay: Option<u64>,
    /// `max_memory_restart` in bytes.
    pub max_memory: Option<u64>,
    /// What `watch` watches (empty: not watching).
    pub watch: Vec<PathBuf>,
    pub ignore_watch: Vec<String>,
    pub watch_delay: u64,
    /// Date prefix of every log line (`log_date_format`, or `time`).
    pub log_date_format: Option<String>,
    /// `log_type: 'json'`.
    pub log_json: bool,
    /// Rotation: `max_size` bytes, `retain` files, `compress`.
    pub log_max_size: Option<u64>,
    pub log_retain: Option<u64>,
    pub log_compress: Option<bool>,
    pub options: Map<String, Value>,
    /// What the app was started from, kept to apply `restart` overrides and `updateEnv`.
    pub source: Value,
    pub context: StartContext,
}

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

fn canonical_key(key: &str) -> Option<(&'static str, Kind)> {
    SCHEMA.iter().find_map(|(k, aliases, kind)| {
        (key == *k || aliases.contains(&key) || key == camel(k)).then_some((*k, *kind))
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn num_from(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn non_negative_int(v: &Value) -> Option<u64> {
    num_from(v).filter(|n| *n >= 0.0 && n.fract() == 0.0 && n.is_finite()).map(|n| n as u64)
}

/// `'10M'`, `'1G'`, `'512K'`, or plain bytes.
pub fn parse_bytes(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let (digits, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1024u64),
        'M' | 'm' => (&s[..s.len() - 1], 1024 * 1024),
        'G' | 'g' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// Milliseconds, or `'2s'`, `'1m'`, `'1h'`.
pub fn parse_duration(v: &Value) -> Option<u64> {
    if let Some(n) = non_negative_int(v) {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    let (digits, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1000u64),
        'm' => (&s[..s.len() - 1], 60_000),
        'h' => (&s[..s.len() - 1], 3_600_000),
        _ => return None,
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// `"SIGTERM"`, `"sigterm"` or `"TERM"`.
pub fn signal_named(name: &str) -> Result<nix::sys::signal::Signal, String> {
    let upper = name.trim().to_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    full.parse::<nix::sys::signal::Signal>().map_err(|_| format!("Unknown signal: {name}"))
}

/// Parses a cron pattern as pm2 (croner) does: 5 fields, or 6 with seconds.
pub fn parse_cron(pattern: &str) -> Result<croner::Cron, String> {
    croner::Cron::new(pattern.trim()).with_seconds_optional().parse().map_err(|e| e.to_string())
}

/// Checks one value against its kind and returns it in canonical form.
fn check(key: &str, kind: Kind, v: &Value) -> Result<Value, String> {
    let bad = |expected: &str| Err(format!("Option \"{key}\" must be {expected}, got {} ({v})", type_name(v)));
    match kind {
        Str => match v {
            Value::String(_) => Ok(v.clone()),
            _ => bad("a string"),
        },
        Num => match num_from(v) {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(if n.fract() == 0.0 { json!(n as u64) } else { json!(n) }),
            Some(n) if n.is_finite() => bad("a number ≥ 0"),
            _ => bad("a number"),
        },
        Bool => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(json!(s == "true")),
            _ => bad("a boolean"),
        },
        Args => match v {
            Value::String(s) => shell_words::split(s)
                .map(|w| json!(w))
                .map_err(|e| format!("Option \"{key}\" could not be split into arguments: {e}")),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(json!(s)),
                        Value::Number(_) | Value::Bool(_) => out.push(json!(item.to_string())),
                        _ => return bad("a string or an array of strings"),
                    }
                }
                Ok(Value::Array(out))
            }
            _ => bad("a string or an array of strings"),
        },
        Obj => match v {
            Value::Object(_) => Ok(v.clone()),
            _ => bad("an object"),
        },
        BoolStrOrList => match v {
            Value::Bool(_) | Value::String(_) => Ok(v.clone()),
            Value::Array(items) if items.iter().all(Value::is_string) => Ok(v.clone()),
            _ => bad("a boolean, a string or an array of strings"),
        },
        BoolOrStr => match v {
            Value::Bool(_) | Value::String(_) => Ok(v.clone()),
            _ => bad("a boolean or a path"),
        },
        Instances => match v {
            Value::String(s) if s == "max" => Ok(json!(0)),
            _ => match num_from(v) {
                Some(n) if n.fract() == 0.0 && n.is_finite() => crate::limits::instances(n).map(|_| json!(n as i64)),
                _ => bad("a number or \"max\""),
            },
        },
        Codes => {
            let items = match v {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let codes: Option<Vec<i64>> = items.iter().map(|c| num_from(c).filter(|n| n.fract() == 0.0).map(|n| n as i64)).collect();
            match codes {
                Some(c) => Ok(json!(c)),
                None => bad("an exit code or an array of exit codes"),
            }
        }
        Bytes => match parse_bytes(v) {
            Some(n) => Ok(json!(n)),
            None => bad("a size in bytes such as 1024, \"10K\", \"150M\" or \"1G\""),
        },
        Duration => match parse_duration(v) {
            Some(n) => Ok(json!(n)),
            None => bad("a duration in milliseconds or with an h/m/s suffix"),
        },
        Cron => match v {
            Value::String(s) if s.trim() == "0" => Ok(json!(0)),
            Value::String(s) => match parse_cron(s) {
                Ok(_) => Ok(v.clone()),
                Err(e) => Err(format!("Option \"{key}\" is not a valid cron pattern (\"{s}\"): {e}")),
            },
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(v.clone()),
            _ => bad("a cron pattern string"),
        },
        NumOrStr => match v {
            Value::String(_) | Value::Number(_) => Ok(v.clone()),
            _ => bad("a number or a string"),
        },
        Signal => match v.as_str().map(signal_named) {
            Some(Ok(sig)) => Ok(json!(sig.as_str())),
            Some(Err(e)) => Err(format!("Option \"{key}\": {e}")),
            None => bad("a signal name such as \"SIGTERM\""),
        },
    }
}

/// Validates raw options: canonical keys, checked values, `env_<name>` blocks kept.
pub fn validate(raw: &Value) -> Result<Map<String, Value>, String> {
    let obj = match raw {
        Value::Object(o) => o,
        other => return Err(format!("An app must be described by an object, got {}", type_name(other))),
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if key.starts_with("env_") {
            if !value.is_object() {
                return Err(format!("Option \"{key}\" must be an object of environment variables, got {}", type_name(value)));
            }
            out.insert(key.clone(), value.clone());
            continue;
        }
        let Some((canon, kind)) = canonical_key(key) else { continue };
        // null / undefined means "not set", as in pm2.
        if value.is_null() {
            continue;
        }
        out.insert(canon.to_string(), check(key, kind, value)?);
    }
    Ok(out)
}

/// The apps of a config file's content: `{apps: [...]}`, `{pm2: [...]}`, an array, or one app.
pub fn apps_of_config(doc: Value) -> Result<Vec<Value>, String> {
    match doc {
        Value::Array(apps) => Ok(apps),
        Value::Object(mut o) => {
            for key in ["apps", "pm2"] {
                if let Some(apps) = o.remove(key) {
                    return match apps {
                        Value::Array(a) => Ok(a),
                        app @ Value::Object(_) => Ok(vec![app]),
                        other => Err(format!("\"{key}\" in a config file must be an array of apps, got {}", type_name(&other))),
                    };
                }
            }
            if o.contains_key("script") || o.contains_key("exec") || o.contains_key("cmd") || o.contains_key("command") {
                Ok(vec![Value::Object(o)])
            } else {
                Err("The config file has no \"apps\" array and no \"script\"".into())
            }
        }
        other => Err(format!("A config file must hold an object with \"apps\" or an array of apps, got {}", type_name(&other))),
    }
}

fn interpreter_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "js" | "cjs" | "mjs" => "node",
        "ts" | "tsx" => "bun",
        "py" => "python3",
        "sh" => "bash",
        "rb" => "ruby",
        "php" => "php",
        "pl" => "perl",
        "coffee" => "coffee",
        "ls" => "lsc",
        _ if is_binary(path) => "none",
        _ => "node",
    }
}

/// An executable file that is not a `#!` script is run directly.
fn is_binary(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else { return false };
    if meta.permissions().mode() & 0o111 == 0 {
        return false;
    }
    let mut head = [0u8; 4];
    match std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n >= 4 && &head == b"\x7fELF",
        Err(_) => false,
    }
}

/// Finds a command on `PATH`.
pub fn which(cmd: &str, env_path: Option<&str>) -> Option<PathBuf> {
    let path = env_path.map(str::to_string).or_else(|| std::env::var("PATH").ok())?;
    path.split(':').map(|dir| Path::new(dir).join(cmd)).find(|p| p.is_file())
}

fn expand_home(p: &str, env: &Map<String, Value>) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = env.get("HOME").and_then(Value::as_str) {
            return Path::new(home).join(rest);
        }
    }
    PathBuf::from(p)
}

fn resolve(base: &Path, p: &str, env: &Map<String, Value>) -> PathBuf {
    let p = expand_home(p, env);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// pm2 keeps only `[A-Za-z0-9.-_]` of a name in file names.
fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// Environment values are strings; objects become JSON, never `[object Object]`.
fn env_string(v: &Value) -> Value {
    match v {
        Value::String(_) => v.clone(),
        Value::Null => json!(""),
        other => json!(other.to_string()),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect(),
        _ => vec![],
    }
}

/// Options that pm2 reports in every process description, with their defaults.
fn defaults(kill_timeout: u64) -> Map<String, Value> {
    let d = json!({
        "namespace": "default",
        "autostart": true,
        "autorestart": true,
        "min_uptime": 1000,
        "max_restarts": 16,
        "restart_delay": 0,
        "kill_timeout": kill_timeout,
        "kill_retry_time": 100,
        "treekill": true,
        "instances": 1,
        "node_args": [],
        "args": [],
        "watch": false,
        "merge_logs": true,
        "vizion": true,
        "windowsHide": true,
        "instance_var": "NODE_APP_INSTANCE",
        "filter_env": [],
        "pmx": true,
        "automation": true,
        "source_map_support": true,
        "disable_source_map_support": false,
        "stop_exit_codes": [],
        "shutdown_with_message": false,
        "wait_ready": false,
        "listen_timeout": 3000,
        "force": false,
        "disable_logs": false,
    });
    match d {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// Turns one app's raw options into what the daemon runs.
pub fn normalize(raw: &Value, ctx: &StartContext, home: &Home, default_kill_timeout: u64) -> Result<AppSpec, String> {
    let opts = validate(raw)?;
    let get = |k: &str| opts.get(k);
    let script = match get("script").and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => s.to_string(),
        _ => return Err("Option \"script\" is required: the path of the script to run".into()),
    };

    let cwd = match get("cwd").and_then(Value::as_str) {
        Some(c) => resolve(&ctx.cwd, c, &ctx.env),
        None => ctx.cwd.clone(),
    };
    if !cwd.is_dir() {
        return Err(format!("cwd does not exist or is not a directory: {}", cwd.display()));
    }

    let mut args = strings(get("args"));
    let mut script_path = resolve(&cwd, &script, &ctx.env);
    let mut interpreter_opt = get("exec_interpreter").and_then(Value::as_str).map(str::to_string);
    let default_name;
    if !script_path.exists() {
        let env_path = ctx.env.get("PATH").and_then(Value::as_str);
        if script.contains(' ') && interpreter_opt.is_none() {
            // A command line: run it through the shell, named after the whole command.
            default_name = script.clone();
            let shell = which("bash", env_path).or_else(|| which("sh", env_path)).unwrap_or_else(|| PathBuf::from("/bin/sh"));
            args = vec!["-c".into(), script.clone()];
            script_path = shell;
            interpreter_opt = Some("none".into());
        } else if let Some(found) = (!script.contains('/')).then(|| which(&script, env_path)).flatten() {
            default_name = script.clone();
            script_path = found;
        } else {
            return Err(format!("Script not found: {}", script_path.display()));
        }
    } else {
        default_name = script_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| script.clone());
    }
    if script_path.is_dir() {
        return Err(format!("Script is a directory, not a file: {}", script_path.display()));
    }

    let interpreter = interpreter_opt.unwrap_or_else(|| interpreter_for(&script_path).to_string());
    let is_node = interpreter == "node" || interpreter.ends_with("/node");
    let interpreter_path = if interpreter == "node" && !ctx.node_path.is_empty() {
        ctx.node_path.clone()
    } else {
        interpreter.clone()
    };

    let mut name = match get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => default_name,
    };
    if let Some(prefix) = get("name_prefix").and_then(Value::as_str) {
        name = format!("{prefix}:{name}");
    }
    if get("append_env_to_name").and_then(Value::as_bool) == Some(true) {
        if let Some(env_name) = &ctx.env_name {
            name = format!("{name}-{env_name}");
        }
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("App name \"{name}\" must not be a number: numbers select apps by id"));
    }
    if name == "all" {
        return Err("App name \"all\" is reserved: it selects every app".into());
    }

    // pm2's rule: `instances` on a Node script means cluster mode; other interpreters fork.
    let exec_mode = match get("exec_mode").and_then(Value::as_str) {
        None if is_node && get("instances").is_some() => "cluster_mode",
        None => "fork_mode",
        Some("fork" | "fork_mode") => "fork_mode",
        Some("cluster" | "cluster_mode") if is_node => "cluster_mode",
        Some("cluster" | "cluster_mode") => "fork_mode",
        Some(other) => return Err(format!("Option \"exec_mode\" must be \"fork\" or \"cluster\", got \"{other}\"")),
    };
    let cpus = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
    let instances = match get("instances").and_then(Value::as_i64) {
        None => 1,
        Some(n) if n <= 0 => (cpus + n).max(1),
        Some(n) => n,
    } as u32;

    // Environment: inherited (filtered) + env + env_<name> + port.
    let mut env = ctx.env.clone();
    // A Node process that sees these believes it is a cluster worker or has a channel.
    for private in ["NODE_UNIQUE_ID", "NODE_CHANNEL_FD", "NODE_CHANNEL_SERIALIZATION_MODE"] {
        env.remove(private);
    }
    match get("filter_env") {
        Some(Value::Bool(true)) => env.clear(),
        Some(Value::String(prefix)) => env.retain(|k, _| !k.starts_with(prefix.as_str())),
        Some(Value::Array(prefixes)) => {
            let prefixes: Vec<&str> = prefixes.iter().filter_map(Value::as_str).collect();
            env.retain(|k, _| !prefixes.iter().any(|p| k.starts_with(p)));
        }
        _ => {}
    }
    let mut app_env = Map::new();
    if let Some(Value::Object(e)) = get("env") {
        for (k, v) in e {
            app_env.insert(k.clone(), env_string(v));
        }
    }
    if let Some(env_name) = &ctx.env_name {
        if let Some(Value::Object(e)) = opts.get(&format!("env_{env_name}")) {
            for (k, v) in e {
                app_env.insert(k.clone(), env_string(v));
            }
        }
    }
    if let Some(port) = get("port") {
        app_env.insert("PORT".into(), env_string(port));
    }
    if interpreter.starts_with("python") {
        app_env.entry("PYTHONUNBUFFERED").or_insert(json!("1"));
    }
    for (k, v) in &app_env {
        env.insert(k.clone(), v.clone());
    }

    // Logs: defaults under PM2_HOME; `-<pm_id>` added per instance unless merged.
    let merge_logs = get("merge_logs").and_then(Value::as_bool).unwrap_or(get("instances").is_none() && exec_mode == "fork_mode");
    let disable_logs = get("disable_logs").and_then(Value::as_bool).unwrap_or(false);
    let safe = file_safe(&name);
    let log_path = |key: &str, default: String| -> Option<PathBuf> {
        match get(key).and_then(Value::as_str) {
            Some("/dev/null" | "NULL") => Some(PathBuf::from("/dev/null")),
            Some(p) => Some(resolve(&cwd, p, &ctx.env)),
            None => Some(home.logs_dir().join(default)),
        }
    };
    let out_file = log_path("out_file", format!("{safe}-out.log"));
    let error_file = log_path("error_file", format!("{safe}-error.log"));
    let log_file = match get("log_file") {
        Some(Value::Bool(true)) => Some(home.logs_dir().join(format!("{safe}.log"))),
        Some(Value::String(p)) => Some(resolve(&cwd, p, &ctx.env)),
        _ => None,
    };
    let pid_file = get("pid_file").and_then(Value::as_str).map(|p| resolve(&cwd, p, &ctx.env));

    let mut options = defaults(default_kill_timeout);
    for (k, v) in &opts {
        if k != "script" && !k.ends_with("_file") {
            options.insert(k.clone(), v.clone());
        }
    }
    options.insert("name".into(), json!(name));
    options.insert("exec_mode".into(), json!(exec_mode));
    options.insert("instances".into(), json!(instances));
    options.insert("merge_logs".into(), json!(merge_logs));
    options.insert("exec_interpreter".into(), json!(interpreter));
    options.insert("args".into(), json!(args));
    options.insert("version".into(), json!(package_version(&script_path)));

    let u64_of = |k: &str, d: u64| get(k).and_then(Value::as_u64).unwrap_or(d);
    let watch: Vec<PathBuf> = match get("watch") {
        Some(Value::Bool(true)) => vec![cwd.clone()],
        Some(Value::String(p)) => vec![resolve(&cwd, p, &ctx.env)],
        Some(Value::Array(ps)) => ps.iter().filter_map(Value::as_str).map(|p| resolve(&cwd, p, &ctx.env)).collect(),
        _ => vec![],
    };
    if let Some(missing) = watch.iter().find(|p| !p.exists()) {
        return Err(format!("Watch path does not exist: {}", missing.display()));
    }
    let ignore_watch = match get("ignore_watch") {
        Some(Value::String(p)) => vec![p.clone()],
        Some(Value::Array(ps)) => ps.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec!["node_modules".into(), ".*".into()],
    };
    Ok(AppSpec {
        namespace: get("namespace").and_then(Value::as_str).unwrap_or("default").to_string(),
        exec_path: script_path,
        cwd,
        args,
        node_args: strings(get("node_args")),
        interpreter,
        interpreter_path,
        instances,
        env,
        app_env,
        autostart: get("autostart").and_then(Value::as_bool).unwrap_or(true),
        autorestart: get("autorestart").and_then(Value::as_bool).unwrap_or(true),
        max_restarts: u64_of("max_restarts", 16),
        min_uptime: u64_of("min_uptime", 1000),
        restart_delay: u64_of("restart_delay", 0),
        kill_timeout: get("kill_timeout").and_then(Value::as_u64),
        stop_exit_codes: get("stop_exit_codes").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_i64).collect()).unwrap_or_default(),
        treekill: get("treekill").and_then(Value::as_bool).unwrap_or(true),
        shutdown_with_message: get("shutdown_with_message").and_then(Value::as_bool).unwrap_or(false),
        merge_logs,
        disable_logs,
        out_file: if disable_logs { None } else { out_file },
        error_file: if disable_logs { None } else { error_file },
        log_file: if disable_logs { None } else { log_file },
        pid_file,
        force: get("force").and_then(Value::as_bool).unwrap_or(false),
        instance_var: get("instance_var").and_then(Value::as_str).unwrap_or("NODE_APP_INSTANCE").to_string(),
        kill_signal: get("kill_signal").and_then(Value::as_str).map(str::to_string),
        wait_ready: get("wait_ready").and_then(Value::as_bool) == Some(true),
        listen_timeout: get("listen_timeout").and_then(Value::as_u64).unwrap_or(3000),
        increment_var: get("increment_var").and_then(Value::as_str).map(str::to_string),
        cron: get("cron_restart").and_then(Value::as_str).filter(|c| c.trim() != "0").map(str::to_string),
        exp_backoff_restart_delay: get("exp_backoff_restart_delay").and_then(Value::as_u64).filter(|d| *d > 0),
        max_memory: get("max_memory_restart").and_then(Value::as_u64).filter(|m| *m > 0),
        watch,
        ignore_watch,
        watch_delay: u64_of("watch_delay", 0),
        log_date_format: get("log_date_format")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| (get("time").and_then(Value::as_bool) == Some(true)).then(|| "YYYY-MM-DDTHH:mm:ss".to_string())),
        log_json: get("log_type").and_then(Value::as_str) == Some("json"),
        log_max_size: get("max_size").and_then(Value::as_u64).filter(|n| *n > 0),
        log_retain: get("retain").and_then(Value::as_u64),
        log_compress: get("compress").and_then(Value::as_bool),
        name,
        options,
        source: raw.clone(),
        context: ctx.clone(),
    }
    .with_node_flag(is_node))
}

impl AppSpec {
    fn with_node_flag(mut self, is_node: bool) -> Self {
        self.options.insert("_is_node".into(), json!(is_node));
        self
    }

    pub fn is_cluster(&self) -> bool {
        self.options.get("exec_mode").and_then(Value::as_str) == Some("cluster_mode")
    }

    /// Options an app also sees as environment variables (scalars, as pm2 passes them).
    pub fn options_as_env(&self) -> impl Iterator<Item = (String, Value)> + '_ {
        self.options.iter().filter(|(k, v)| !k.starts_with('_') && !v.is_object() && !v.is_array() && !v.is_null()).map(|(k, v)| (k.clone(), v.clone()))
    }

    /// The signal that asks this app to stop: its `kill_signal`, else the daemon's.
    pub fn stop_signal(&self, default: nix::sys::signal::Signal) -> nix::sys::signal::Signal {
        self.kill_signal.as_deref().and_then(|s| signal_named(s).ok()).unwrap_or(default)
    }

    /// Node apps get the IPC channel.
    pub fn is_node(&self) -> bool {
        self.options.get("_is_node").and_then(Value::as_bool).unwrap_or(false)
    }

    /// Per-instance file: `-<pm_id>` goes before `.log` unless logs are merged; other
    /// names are shared as they are (pm2's rule).
    pub fn instance_log(&self, base: &Option<PathBuf>, pm_id: u32) -> Option<PathBuf> {
        let base = base.as_ref()?;
        if self.merge_logs || base.extension().and_then(|e| e.to_str()) != Some("log") {
            return Some(base.clone());
        }
        Some(with_suffix(base, pm_id))
    }

    /// `$PM2_HOME/pids/<name>-<pm_id>.pid`, or the `pid_file` option (suffixed when it ends in `.pid`).
    pub fn instance_pid_file(&self, home: &Home, pm_id: u32) -> PathBuf {
        match &self.pid_file {
            Some(p) if p.extension().and_then(|e| e.to_str()) == Some("pid") => with_suffix(p, pm_id),
            Some(p) => p.clone(),
            None => home.pids_dir().join(format!("{}-{pm_id}.pid", file_safe(&self.name))),
        }
    }
}

/// The `version` of the nearest `package.json` above the script, as pm2 reports it.
fn package_version(script: &Path) -> String {
    for dir in script.ancestors().skip(1) {
        if let Ok(text) = std::fs::read_to_string(dir.join("package.json")) {
            return serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("version").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| "N/A".into());
        }
    }
    "N/A".into()
}

/// `a/b.log` → `a/b-3.log`.
fn with_suffix(p: &Path, pm_id: u32) -> PathBuf {
    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let file = match p.extension() {
        Some(ext) => format!("{stem}-{pm_id}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{pm_id}"),
    };
    p.with_file_name(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path) -> StartContext {
        StartContext { cwd: dir.to_path_buf(), env: Map::new(), node_path: "/usr/bin/node".into(), env_name: None }
    }

    fn tmp_with_script() -> (PathBuf, Home) {
        let dir = std::env::temp_dir().join(format!("pm2rs-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.js"), "").unwrap();
        (dir.clone(), Home::new(dir.join("home")))
    }

    #[test]
    fn aliases_and_camel_case_map_to_canonical_keys() {
        let v = validate(&json!({"maxRestarts": "3", "interpreter": "node", "out": "x.log", "bogus": 1})).unwrap();
        assert_eq!(v["max_restarts"], json!(3));
        assert_eq!(v["exec_interpreter"], json!("node"));
        assert_eq!(v["out_file"], json!("x.log"));
        assert!(!v.contains_key("bogus"));
    }

    #[test]
    fn wrong_types_are_clear_errors() {
        let e = validate(&json!({"instances": {}})).unwrap_err();
        assert!(e.contains("\"instances\"") && e.contains("an object"), "{e}");
        assert!(validate(&json!({"max_restarts": "abc"})).unwrap_err().contains("max_restarts"));
        assert!(validate(&json!({"name": 42})).unwrap_err().contains("\"name\""));
        assert!(validate(&json!({"max_memory_restart": "10X"})).is_err());
        assert!(validate(&json!({"restart_delay": -5})).is_err());
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_bytes(&json!("10M")), Some(10 * 1024 * 1024));
        assert_eq!(parse_bytes(&json!("1G")), Some(1024 * 1024 * 1024));
        assert_eq!(parse_bytes(&json!(2048)), Some(2048));
        assert_eq!(parse_duration(&json!("2s")), Some(2000));
        assert_eq!(parse_duration(&json!("5000")), Some(5000));
    }

    #[test]
    fn normalizes_name_paths_and_env() {
        let (dir, home) = tmp_with_script();
        let mut c = ctx(&dir);
        c.env.insert("INHERITED".into(), json!("yes"));
        c.env_name = Some("production".into());
        let spec = normalize(
            &json!({"script": "app.js", "env": {"A": 1, "O": {"x": 1}}, "env_production": {"NODE_ENV": "production"}}),
            &c,
            &home,
            1600,
        )
        .unwrap();
        assert_eq!(spec.name, "app");
        assert_eq!(spec.exec_path, dir.join("app.js"));
        assert_eq!(spec.interpreter, "node");
        assert_eq!(spec.interpreter_path, "/usr/bin/node");
        assert_eq!(spec.env["A"], json!("1"));
        assert_eq!(spec.env["O"], json!("{\"x\":1}"));
        assert_eq!(spec.env["NODE_ENV"], json!("production"));
        assert_eq!(spec.env["INHERITED"], json!("yes"));
        assert_eq!(spec.instance_log(&spec.out_file, 0), Some(home.logs_dir().join("app-out.log")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_script_names_the_absolute_path() {
        let (dir, home) = tmp_with_script();
        let e = normalize(&json!({"script": "nope.js"}), &ctx(&dir), &home, 1600).unwrap_err();
        assert_eq!(e, format!("Script not found: {}", dir.join("nope.js").display()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn instances_on_a_node_script_mean_cluster() {
        let (dir, home) = tmp_with_script();
        let spec = normalize(&json!({"script": "app.js", "instances": 2}), &ctx(&dir), &home, 1600).unwrap();
        assert!(spec.is_cluster());
        assert!(!spec.merge_logs);
        let spec = normalize(&json!({"script": "app.js", "instances": 2, "exec_mode": "fork"}), &ctx(&dir), &home, 1600).unwrap();
        assert!(!spec.is_cluster());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn instances_add_pm_id_suffixes() {
        let (dir, home) = tmp_with_script();
        let spec = normalize(&json!({"script": "app.js", "instances": 2, "exec_mode": "fork"}), &ctx(&dir), &home, 1600).unwrap();
        assert_eq!(spec.instances, 2);
        assert_eq!(spec.instance_log(&spec.error_file, 3), Some(home.logs_dir().join("app-error-3.log")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cron_patterns_are_checked() {
        assert!(validate(&json!({"cron_restart": "*/5 * * * *"})).is_ok());
        assert!(validate(&json!({"cron_restart": "0 0 * * * *"})).is_ok());
        assert!(validate(&json!({"cron_restart": 0})).is_ok());
        let e = validate(&json!({"cron_restart": "not a cron"})).unwrap_err();
        assert!(e.contains("cron_restart"), "{e}");
    }

    #[test]
    fn watch_paths_must_exist() {
        let (dir, home) = tmp_with_script();
        let e = normalize(&json!({"script": "app.js", "watch": ["nope"]}), &ctx(&dir), &home, 1600).unwrap_err();
        assert!(e.starts_with("Watch path does not exist"), "{e}");
        let spec = normalize(&json!({"script": "app.js", "watch": true}), &ctx(&dir), &home, 1600).unwrap();
        assert_eq!(spec.watch, vec![dir.clone()]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn config_shapes() {
        assert_eq!(apps_of_config(json!({"apps": [{"script": "a"}]})).unwrap().len(), 1);
        assert_eq!(apps_of_config(json!([{"script": "a"}, {"script": "b"}])).unwrap().len(), 2);
        assert!(apps_of_config(json!({"nothing": 1})).is_err());
        assert!(apps_of_config(json!(3)).is_err());
    }
}
