//! The shapes a config file (ecosystem file) may have.

use serde_json::Value;

use super::validate::type_name;

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

/// The name a declaration gives its app: `name`, else its script's file name without extension.
pub fn declared_name(app: &Value) -> Option<String> {
    if let Some(name) = app.get("name").and_then(Value::as_str) {
        return Some(name.to_string());
    }
    let script = ["script", "exec", "cmd", "command"].iter().find_map(|k| app.get(*k).and_then(Value::as_str))?;
    std::path::Path::new(script).file_stem().map(|s| s.to_string_lossy().into_owned())
}

/// The apps `--only a,b` keeps (all without it); none left is an error naming `file`.
pub fn only_apps(mut apps: Vec<Value>, only: Option<&str>, file: &str) -> Result<Vec<Value>, String> {
    if let Some(only) = only {
        let names: Vec<&str> = only.split(',').map(str::trim).collect();
        apps.retain(|app| declared_name(app).is_some_and(|n| names.contains(&n.as_str())));
    }
    if apps.is_empty() {
        let only = only.map(|o| format!(" (only: {o})")).unwrap_or_default();
        return Err(format!("No app to start in {file}{only}"));
    }
    Ok(apps)
}
