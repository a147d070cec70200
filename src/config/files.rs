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
