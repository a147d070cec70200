//! The apps to run: a script with the flags, or a config file's apps (read as the `pm2`
//! command reads them); checked before anything starts.

use serde_json::{json, Map, Value};
use std::path::Path;

use super::args::Options;
use crate::cli::config_file;
use crate::config::{self, StartContext};
use crate::home::Home;

/// The `start` request's parameters, every app validated.
pub fn start_request(o: &Options, home: &Home) -> Result<Value, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let node = config_file::node_path().map(|p| p.to_string_lossy().into_owned());
    let (apps, dir, mode) = if config_file::is_config_file(&o.target) {
        let loaded = config_file::load(&cwd, &o.target)?;
        (config_apps(loaded.apps, &cwd.join(&o.target), o)?, loaded.dir, "json")
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
    let mut app = o.app.clone();
    app.insert("script".into(), json!(o.target));
    if !o.script_args.is_empty() {
        app.insert("args".into(), json!(o.script_args));
    }
    log_files(&mut app);
    Value::Object(app)
}

/// Output goes to our stdout/stderr; to files only when asked (`--output`, `--error`, or the
/// app's own `out_file` / `error_file`).
fn log_files(app: &mut Map<String, Value>) {
    for (key, alias) in [("out_file", "output"), ("error_file", "error")] {
        if !app.contains_key(key) && !app.contains_key(alias) {
            app.insert(key.into(), json!("/dev/null"));
        }
    }
}

/// The options the flags set on every app of a config file.
const CONFIG_OVERRIDES: [&str; 4] = ["watch", "autorestart", "out_file", "error_file"];

fn config_apps(apps: Vec<Value>, file: &Path, o: &Options) -> Result<Vec<Value>, String> {
    let mut apps = config::only_apps(apps, o.only.as_deref(), &file.display().to_string())?;
    for app in &mut apps {
        if let Value::Object(m) = app {
            for key in CONFIG_OVERRIDES {
                if let Some(v) = o.app.get(key) {
                    m.insert(key.into(), v.clone());
                }
            }
            log_files(m);
        }
    }
    Ok(apps)
}
