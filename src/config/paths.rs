//! Where things are: commands on `PATH`, paths relative to an app's cwd or `~`, and the
//! log and pid files of an app and of each of its instances.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

use crate::home::Home;

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

/// `p` against `base`, normalised as Node's `path.resolve` does (`a/./b/../c` is `a/c`), so
/// that a script started as `./../app.js` is found again by that path.
pub(super) fn resolve(base: &Path, p: &str, env: &Map<String, Value>) -> PathBuf {
    lexically_normal(&base.join(expand_home(p, env)))
}

/// `a/./b/../c` as `a/c`, without touching the file system (as Node's path.resolve).
pub fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// pm2 keeps only `[A-Za-z0-9.-_]` of a name in file names.
pub(super) fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// `a/b.log` → `a/b-3.log`.
pub(super) fn with_suffix(p: &Path, pm_id: u32) -> PathBuf {
    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let file = match p.extension() {
        Some(ext) => format!("{stem}-{pm_id}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{pm_id}"),
    };
    p.with_file_name(file)
}


pub(super) struct LogFiles {
    pub out_file: Option<PathBuf>,
    pub error_file: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
}

/// An app's log files (`/dev/null` kept as is, defaults under `PM2_HOME/logs`) and pid file.
pub(super) fn log_files(opts: &Map<String, Value>, name: &str, cwd: &Path, env: &Map<String, Value>, home: &Home) -> LogFiles {
    let get = |k: &str| opts.get(k);
    let safe = file_safe(name);
    let log_path = |key: &str, default: String| -> Option<PathBuf> {
        match get(key).and_then(Value::as_str) {
            Some("/dev/null" | "NULL") => Some(PathBuf::from("/dev/null")),
            Some(p) => Some(resolve(cwd, p, env)),
            None => Some(home.logs_dir().join(default)),
        }
    };
    let out_file = log_path("out_file", format!("{safe}-out.log"));
    let error_file = log_path("error_file", format!("{safe}-error.log"));
    let log_file = match get("log_file") {
        Some(Value::Bool(true)) => Some(home.logs_dir().join(format!("{safe}.log"))),
        Some(Value::String(p)) => Some(resolve(cwd, p, env)),
        _ => None,
    };
    let pid_file = get("pid_file").and_then(Value::as_str).map(|p| resolve(cwd, p, env));

    LogFiles { out_file, error_file, log_file, pid_file }
}
