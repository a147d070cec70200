//! `watch`: the supervisor's watchers, one engine per watching app (see `watch_engine` for
//! what is watched and how). The engines put their notices into the supervisor's inbox.
//! Watching starts with the app, lasts through its restarts, and ends with stop or delete.

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

use super::supervisor::Msg;
use super::watch_engine::{Notice, WatchEngine, WatchSpec};
use super::Daemon;
use crate::config::AppSpec;

struct Watching {
    spec: WatchSpec,
    _engine: WatchEngine,
    /// A restart it asked for is under way: further changes are what the new process loads.
    restarting: bool,
}

#[derive(Default)]
pub struct Watchers(HashMap<u32, Watching>);

/// The engine's view of an app's `watch*` options.
fn watch_spec(spec: &AppSpec, pm_id: u32) -> WatchSpec {
    let opts = spec.options.get("watch_options");
    let opt = |k: &str| opts.and_then(|o| o.get(k));
    let polling = opt("usePolling").and_then(Value::as_bool).unwrap_or(false);
    let interval = opt("interval").and_then(Value::as_u64).unwrap_or(100);
    WatchSpec {
        cwd: spec.cwd.clone(),
        watch: spec.watch.clone(),
        ignore: spec.ignore_watch.clone(),
        // The app's own logs must not restart it.
        ignore_paths: spec.instance_logs(pm_id).collect(),
        delay: Duration::from_millis(spec.watch_delay),
        follow_symlinks: opt("followSymlinks").and_then(Value::as_bool).unwrap_or(true),
        poll: polling.then(|| Duration::from_millis(interval.max(10))),
    }
}

impl Watchers {
    /// Watches for `pm_id` as `spec` says; a running engine with the same options stays.
    pub fn start(&mut self, daemon: &Daemon, pm_id: u32, spec: &AppSpec) {
        if spec.watch.is_empty() {
            return self.stop(pm_id);
        }
        let wanted = watch_spec(spec, pm_id);
        if self.0.get(&pm_id).is_some_and(|w| w.spec == wanted) {
            return;
        }
        let inbox = daemon.inbox.clone();
        let engine = WatchEngine::start(wanted.clone(), move |notice| {
            let _ = inbox.send(match notice {
                Notice::Changed(path) => Msg::WatchedChange { pm_id, path },
                Notice::FellBackToPolling(why) => Msg::WatchPolling { pm_id, why },
            });
        });
        match engine {
            Ok(engine) => drop(self.0.insert(pm_id, Watching { spec: wanted, _engine: engine, restarting: false })),
            Err(e) => daemon_log!("{}: {e}", spec.name),
        }
    }

    pub fn stop(&mut self, pm_id: u32) {
        self.0.remove(&pm_id);
    }

    /// Whether a change should restart `pm_id` now (watched, and not restarting already).
    pub fn begin_restart(&mut self, pm_id: u32) -> bool {
        self.0.get_mut(&pm_id).is_some_and(|w| !std::mem::replace(&mut w.restarting, true))
    }

    pub fn end_restart(&mut self, pm_id: u32) {
        if let Some(w) = self.0.get_mut(&pm_id) {
            w.restarting = false;
        }
    }
}
