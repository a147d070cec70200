//! `watch` and `ignore_watch`: the paths or globs to watch (a path that does not exist yet is
//! watched for when it appears, as pm2's watcher does), and the patterns to ignore.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use super::paths::resolve;

/// What `watch` watches (empty: nothing) and what `ignore_watch` leaves out.
pub(super) fn watched(opts: &Map<String, Value>, cwd: &Path, env: &Map<String, Value>) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    let get = |k: &str| opts.get(k);
    let watch: Vec<PathBuf> = match get("watch") {
        Some(Value::Bool(true)) => vec![cwd.to_path_buf()],
        Some(Value::String(p)) => vec![resolve(cwd, p, env)],
        Some(Value::Array(ps)) => ps.iter().filter_map(Value::as_str).map(|p| resolve(cwd, p, env)).collect(),
        _ => vec![],
    };
    let ignore_watch = match get("ignore_watch") {
        Some(Value::String(p)) => vec![p.clone()],
        Some(Value::Array(ps)) => ps.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec!["node_modules".into(), ".*".into()],
    };
    Ok((watch, ignore_watch))
}
