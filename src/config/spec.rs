//! What the daemon runs: an app's typed options ([`AppSpec`]) and the context it was started in.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

use super::paths::{file_safe, with_suffix};
use super::validate::signal_named;
use crate::home::Home;

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
    /// The version of the Node at `node_path` (`process.versions.node` of the caller).
    #[serde(default)]
    pub node_version: Option<String>,
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

impl AppSpec {
    /// The Node version that runs this app, when it runs on the caller's Node.
    pub fn node_version(&self) -> Option<&str> {
        (self.is_node() && self.interpreter_path == self.context.node_path).then_some(self.context.node_version.as_deref()).flatten()
    }

    pub(super) fn with_node_flag(mut self, is_node: bool) -> Self {
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

    /// The log files instance `pm_id` writes: out, error and combined, those it has.
    pub fn instance_logs(&self, pm_id: u32) -> impl Iterator<Item = PathBuf> + '_ {
        [&self.out_file, &self.error_file, &self.log_file].into_iter().filter_map(move |base| self.instance_log(base, pm_id))
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

