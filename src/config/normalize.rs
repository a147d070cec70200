//! Raw start options into an [`AppSpec`]: the script and its interpreter, the name, the
//! mode and instances, the environment, and pm2's defaults.

use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

use super::paths::{log_files, resolve, which, LogFiles};
use super::spec::{AppSpec, StartContext};
use super::validate::validate;
use super::watch::watched;
use crate::home::Home;

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
        _ => unreachable!("json!({{…}}) is an object"),
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
    // A number is a valid name, as in pm2: selecting `455` looks for that name before an id.
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
    let (settings, all_settings) = app_settings(home, &name);
    app_env.extend(settings);
    if !env.contains_key(&name) && !app_env.contains_key(&name) {
        app_env.insert(name.clone(), all_settings);
    }
    for (k, v) in &app_env {
        env.insert(k.clone(), v.clone());
    }

    // Logs: defaults under PM2_HOME; `-<pm_id>` added per instance unless merged.
    let merge_logs = get("merge_logs").and_then(Value::as_bool).unwrap_or(get("instances").is_none() && exec_mode == "fork_mode");
    let disable_logs = get("disable_logs").and_then(Value::as_bool).unwrap_or(false);
    let LogFiles { out_file, error_file, log_file, pid_file } = log_files(&opts, &name, &cwd, &ctx.env, home);

    let mut options = defaults(default_kill_timeout);
    for (k, v) in &opts {
        if k != "script" && !k.ends_with("_file") {
            options.insert(k.clone(), v.clone());
        }
    }
    // An option set to null (cleared on restart with `--node-args=null`) leaves the
    // description instead of showing its default, as in pm2.
    let cleared = raw.as_object().into_iter().flatten().filter(|(_, v)| v.is_null());
    for (key, _) in cleared {
        if let Some((canon, _)) = super::schema::canonical_key(key) {
            options.remove(canon);
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
    let (watch, ignore_watch) = watched(&opts, &cwd, &ctx.env)?;
    Ok(AppSpec {
        namespace: get("namespace").and_then(Value::as_str).unwrap_or("default").to_string(),
        exec_path: script_path,
        cwd,
        args,
        node_args: node_args(&opts, is_node),
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
        // `time: true` wins over log_date_format, as in pm2.
        log_date_format: (get("time").and_then(Value::as_bool) == Some(true))
            .then(|| "YYYY-MM-DDTHH:mm:ss".to_string())
            .or_else(|| get("log_date_format").and_then(Value::as_str).map(str::to_string)),
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

/// An app's settings (`pm2 set <app>.<key> <value>`, kept in module_conf.json) as pm2 gives
/// them to the app: each key as a variable, and all of them as JSON (under the app's name).
fn app_settings(home: &Home, name: &str) -> (Map<String, Value>, Value) {
    let conf: Value = std::fs::read(home.module_conf_file()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let mine = conf.get(name).and_then(Value::as_object).cloned().unwrap_or_default();
    let each = mine.iter().map(|(k, v)| (k.clone(), env_string(v))).collect();
    (each, json!(Value::Object(mine).to_string()))
}

/// The interpreter's arguments. A Node app's stack traces follow its source maps unless
/// `disable_source_map_support` says not to (pm2 turns them on in every Node app).
fn node_args(opts: &Map<String, Value>, is_node: bool) -> Vec<String> {
    let mut args = strings(opts.get("node_args"));
    let disabled = opts.get("disable_source_map_support").and_then(Value::as_bool) == Some(true);
    if is_node && !disabled && !args.iter().any(|a| a.contains("source-maps")) {
        args.insert(0, "--enable-source-maps".into());
    }
    args
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

