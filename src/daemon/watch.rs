//! `watch`: restart an app when files under its watched paths change (sub-directories
//! included, event-driven through inotify), except what `ignore_watch` names. Turned off
//! by stop, on again at start. Owned by the supervisor.

use globset::{Glob, GlobSet, GlobSetBuilder};
use notify::{EventKind, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use super::Daemon;
use crate::config::AppSpec;

#[derive(Default)]
pub struct Watchers(HashMap<u32, notify::RecommendedWatcher>);

/// `node_modules` ignores every `node_modules` folder and what is in it; a pattern with a
/// `/` is also taken relative to the app's cwd.
fn ignore_set(spec: &AppSpec, pm_id: u32) -> GlobSet {
    let mut b = GlobSetBuilder::new();
    let mut add = |g: String| {
        if let Ok(glob) = Glob::new(&g) {
            b.add(glob);
        }
    };
    for pattern in &spec.ignore_watch {
        let p = pattern.trim_start_matches("./");
        add(format!("**/{p}"));
        add(format!("**/{p}/**"));
        if p.contains('/') {
            add(format!("{}/{p}", spec.cwd.display()));
            add(format!("{}/{p}/**", spec.cwd.display()));
        }
    }
    // The app's own logs must not restart it.
    for log in [&spec.out_file, &spec.error_file, &spec.log_file] {
        if let Some(path) = spec.instance_log(log, pm_id) {
            add(path.display().to_string());
        }
    }
    b.build().unwrap_or_else(|_| GlobSet::empty())
}

impl Watchers {
    pub fn start(&mut self, daemon: &Arc<Daemon>, pm_id: u32, spec: &AppSpec) {
        if spec.watch.is_empty() {
            return;
        }
        let watchers = &mut self.0;
        if watchers.contains_key(&pm_id) {
            return;
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<notify::Event>();
        let mut watcher = match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                let _ = tx.send(event);
            }
        }) {
            Ok(w) => w,
            Err(e) => return daemon_log!("cannot watch {}: {e}", spec.name),
        };
        for path in &spec.watch {
            if let Err(e) = watcher.watch(path, RecursiveMode::Recursive) {
                daemon_log!("cannot watch {}: {e}", path.display());
            }
        }
        watchers.insert(pm_id, watcher);

        let ignore = ignore_set(spec, pm_id);
        let delay = Duration::from_millis(spec.watch_delay);
        let name = spec.name.clone();
        let daemon = daemon.clone();
        tokio::spawn(async move {
            let relevant = |e: &notify::Event| {
                matches!(e.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_))
                    && e.paths.iter().any(|p: &std::path::PathBuf| !ignore.is_match(Path::new(p)))
            };
            // Ends when stop drops the watcher (and with it the sender).
            while let Some(event) = rx.recv().await {
                if !relevant(&event) {
                    continue;
                }
                tokio::time::sleep(delay).await;
                while rx.try_recv().is_ok() {}
                daemon_log!("change detected in {:?}: restarting {name}", event.paths);
                let _ = daemon.restart(pm_id).await;
            }
        });
    }

    pub fn stop(&mut self, pm_id: u32) {
        self.0.remove(&pm_id);
    }
}
