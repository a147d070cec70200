//! The apps to run: a script with the flags, or a config file's apps; checked before anything
//! starts. JSON and YAML are read here; JavaScript config files are evaluated by Node.

use serde_json::{json, Map, Value};
use std::path::Path;

use super::args::Options;
use crate::config::{self, StartContext};
use crate::home::Home;

/// pm2's config file names.
fn is_config_file(target: &str) -> bool {
    [".json", ".yml", ".yaml", ".config.js", ".config.cjs", ".config.mjs"].iter().any(|ext| target.ends_with(ext))
}

/// The `start` request's parameters, every app validated.
pub fn start_request(o: &Options, home: &Home) -> Result<Value, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let node = config::which("node", None).map(|p| p.to_string_lossy().into_owned());
    let (apps, dir, mode) = if is_config_file(&o.target) {
        let file = cwd.join(&o.target);
        (config_apps(&file, o, node.as_deref())?, file.parent().map(Path::to_path_buf).unwrap_or(cwd), "json")
    } else {
        (vec![script_app(o)], cwd, "script")
    };
    let env: Map<String, Value> = std::env::vars().map(|(k, v)| (k, Value::String(v))).collect();
    let context = StartContext { cwd: dir, env, node_path: node.unwrap_or_else(|| "node".into()), env_name: o.env.clone(), ..Default::default() };
    // The daemon validates them again; here a mistake stops us before anything runs.
    for app in &apps {
        config::normalize(app, &context, home, 1600)?;
    }
    Ok(json!({"apps": apps, "mode": mode, "context": context}))
}

/// The script and the flags that describe it.
fn script_app(o: &Options) -> Value {
    let mut app = Map::new();
    app.insert("script".into(), json!(o.target));
    let mut set = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            app.insert(k.into(), json!(v));
        }
    };
    set("name", o.name.as_ref());
    set("instances", o.instances.as_ref());
    set("node_args", o.node_args.as_ref());
    set("interpreter", o.interpreter.as_ref());
    set("max_memory_restart", o.max_memory_restart.as_ref());
    set("cron_restart", o.cron.as_ref());
    if o.watch {
        app.insert("watch".into(), json!(true));
    }
    if o.no_autorestart {
        app.insert("autorestart".into(), json!(false));
    }
    if !o.script_args.is_empty() {
        app.insert("args".into(), json!(o.script_args));
    }
    log_files(&mut app, o);
    Value::Object(app)
}

/// Output goes to our stdout/stderr; to files only when asked (`--output`, `--error`, or the
/// app's own `out_file` / `error_file`).
fn log_files(app: &mut Map<String, Value>, o: &Options) {
    for (key, alias, flag) in [("out_file", "output", &o.output), ("error_file", "error", &o.error)] {
        if let Some(path) = flag {
            app.insert(key.into(), json!(path));
        } else if !app.contains_key(key) && !app.contains_key(alias) {
            app.insert(key.into(), json!("/dev/null"));
        }
    }
}

fn config_apps(file: &Path, o: &Options, node: Option<&str>) -> Result<Vec<Value>, String> {
    let doc = read_config(file, node)?;
    let mut apps = config::apps_of_config(doc).map_err(|e| format!("{e} ({})", file.display()))?;
    if let Some(only) = &o.only {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        apps.retain(|a| a.get("name").and_then(Value::as_str).is_some_and(|n| only.contains(&n)));
    }
    if apps.is_empty() {
        let only = o.only.as_ref().map(|n| format!(" (only: {n})")).unwrap_or_default();
        return Err(format!("No app to start in {}{only}", file.display()));
    }
    for app in &mut apps {
        if let Value::Object(m) = app {
            if o.watch {
                m.insert("watch".into(), json!(true));
            }
            if o.no_autorestart {
                m.insert("autorestart".into(), json!(false));
            }
            log_files(m, o);
        }
    }
    Ok(apps)
}

/// Evaluates a JavaScript config file as `require('pm2').start(file)` does and prints it as JSON.
const EVAL_CONFIG_JS: &str = r#"const f = require('path').resolve(process.argv[1]);
const load = f.endsWith('.mjs') ? import(require('url').pathToFileURL(f).href).then((m) => m.default || m) : Promise.resolve(require(f));
load.then((doc) => process.stdout.write(JSON.stringify(doc === undefined ? null : doc)), (e) => { process.stderr.write(String(e && e.message || e) + '\n'); process.exit(1) });"#;

fn read_config(file: &Path, node: Option<&str>) -> Result<Value, String> {
    let name = file.display();
    if !file.is_file() {
        return Err(format!("Config file not found: {name}"));
    }
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "js" | "cjs" | "mjs") {
        let node = node.ok_or_else(|| format!("{name} is JavaScript: Node.js must be on the PATH to read it"))?;
        let out = std::process::Command::new(node)
            .arg("-e")
            .arg(EVAL_CONFIG_JS)
            .arg(file)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {node} to read {name}: {e}"))?;
        if !out.status.success() {
            return Err(format!("Cannot load config file {name}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        return serde_json::from_slice(&out.stdout).map_err(|e| format!("Config file {name} did not give JSON: {e}"));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("Cannot read config file {name}: {e}"))?;
    if ext == "json" {
        serde_json::from_str(&text).map_err(|e| format!("Malformed JSON in config file {name}: {e}"))
    } else {
        crate::yaml::parse(&text).map_err(|e| format!("Malformed YAML in config file {name}: {e}"))
    }
}

