//! Checking option values against their kind, giving each a canonical form.

use serde_json::{json, Map, Value};

use super::schema::canonical_key;
use super::schema::Kind::{self, *};

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn num_from(v: &Value) -> Option<f64> {
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
/// A NUL anywhere in a value (keys included): options end up in paths, arguments and the
/// environment, none of which can carry one, so the start would fail only at spawn.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(holds_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

pub fn validate(raw: &Value) -> Result<Map<String, Value>, String> {
    let obj = match raw {
        Value::Object(o) => o,
        other => return Err(format!("An app must be described by an object, got {}", type_name(other))),
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if holds_nul(value) {
            return Err(format!("Option \"{key}\" contains a NUL byte, which no path, argument or environment variable can hold"));
        }
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

