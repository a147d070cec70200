//! Starting, stopping and restarting processes, and what happens when one exits.
//!
//! The table is locked only for short, synchronous steps; waiting (for an exit, a kill
//! timeout, a restart delay) happens outside the lock.

use serde_json::{json, Map, Value};
use std::process::ExitStatus;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::sync::oneshot;

use super::bus::process_event;
use super::log_format::LineFormat;
use super::logs::{self, LogOptions, LogSink};
use super::rotate::Rotation;
use super::process_table::{Proc, Status};
use super::restart::{self, Decision};
use super::{cluster, crash_report, ipc, monitor, now_ms, spawn, tree, Daemon};
use crate::config::AppSpec;

/// How long a reload lets an old cluster worker drain before disconnecting it: keep-alive
/// clients that send a request within it get `Connection: close` and move on unharmed.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

impl Daemon {
    /// Adds `spec.instances` new entries; starts them unless `autostart` is false.
    pub fn create(self: &Arc<Self>, spec: AppSpec) -> Result<Vec<u32>, String> {
        let spec = Arc::new(spec);
        let ids: Vec<u32> = {
            let mut table = self.table.lock().unwrap();
            (0..spec.instances)
                .map(|_| {
                    let id = table.allocate_id();
                    let instance = table.free_instance(&spec.name);
                    table.insert(Proc::new(id, spec.clone(), instance, now_ms()));
                    id
                })
                .collect()
        };
        for &id in &ids {
            self.cron.ensure(self, id, spec.cron.as_deref());
        }
        self.table_changed();
        if spec.autostart {
            for &id in &ids {
                self.launch(id)?;
                self.notify_id(id, "start", true);
            }
        }
        Ok(ids)
    }

    /// The environment an app is spawned with: inherited + its `env` + pm2's variables.
    fn spawn_env(&self, p: &Proc) -> Map<String, Value> {
        let mut env = p.spec.env.clone();
        for (k, v) in &p.spec.options {
            if !k.starts_with('_') && !v.is_object() && !v.is_array() && !v.is_null() {
                env.insert(k.clone(), v.clone());
            }
        }
        env.extend(p.pm2_vars(&self.home));
        env.insert("status".into(), json!("launching"));
        env.insert("restart_time".into(), json!(p.restart_time));
        env.insert("unstable_restarts".into(), json!(p.unstable_restarts));
        env.insert("created_at".into(), json!(p.created_at));
        // increment_var: instance n gets the variable's value + n (e.g. a port per instance).
        if let Some(var) = p.spec.options.get("increment_var").and_then(Value::as_str) {
            if let Some(base) = env.get(var).and_then(|v| v.as_str().map(str::to_string).or_else(|| Some(v.to_string()))).and_then(|v| v.parse::<i64>().ok()) {
                env.insert(var.to_string(), json!((base + p.instance as i64).to_string()));
            }
        }
        env
    }

    /// Spawns the process of entry `pm_id` and wires its output, channel and exit.
    pub fn launch(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        let mut table = self.table.lock().unwrap();
        let Some(p) = table.get_mut(pm_id) else { return Err(format!("process {pm_id} not found")) };
        let mut env = self.spawn_env(p);
        let spec = p.spec.clone();
        // A cluster worker is a Node process with NODE_UNIQUE_ID and a channel to its primary.
        let worker_id = spec.is_cluster().then(|| self.cluster.new_worker_id());
        if let Some(id) = worker_id {
            env.insert("NODE_UNIQUE_ID".into(), json!(id.to_string()));
        }
        let preload = worker_id.and_then(|_| cluster::drain_script(&self.home.cluster_drain_script()));
        let spawned = match spawn::spawn(&spec, &env, preload.as_deref(), self.settings.in_process) {
            Ok(s) => s,
            Err(e) => {
                p.status = Status::Errored;
                let what = if spec.interpreter == "none" { spec.exec_path.display().to_string() } else { spec.interpreter_path.clone() };
                return Err(if e.kind() == std::io::ErrorKind::NotFound {
                    format!("Failed to start {}: interpreter or program not found: {what}", spec.name)
                } else {
                    format!("Failed to start {}: {e}", spec.name)
                });
            }
        };
        p.generation += 1;
        let generation = p.generation;
        p.pid = Some(spawned.pid);
        let wait_ready = spec.options.get("wait_ready").and_then(Value::as_bool) == Some(true);
        p.status = if wait_ready { Status::Launching } else { Status::Online };
        p.stdin = Some(Arc::new(tokio::sync::Mutex::new(spawned.stdin)));
        p.pm_uptime = now_ms();
        p.monit = Default::default();
        let pid_file = spec.instance_pid_file(&self.home, pm_id);
        if let Some(dir) = pid_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = crate::home::write_private(&pid_file, &spawned.pid.to_string()) {
            daemon_log!("cannot write {}: {e}", pid_file.display());
        }
        p.worker = None;
        if let Some(stream) = spawned.ipc {
            let daemon = self.clone();
            let closed = self.clone();
            let on_close = move || {
                if let Some(id) = worker_id {
                    closed.cluster.worker_gone(id);
                }
            };
            match ipc::attach(stream, move |msg| daemon.on_app_message(pm_id, generation, worker_id, msg), on_close) {
                Ok(tx) => {
                    if let Some(id) = worker_id {
                        let rr = spec.env.get("NODE_CLUSTER_SCHED_POLICY").and_then(Value::as_str) == Some("rr");
                        p.worker = Some((id, self.cluster.register(id, tx.clone(), rr, preload.is_some())));
                    }
                    p.ipc = Some(tx);
                }
                Err(e) => daemon_log!("IPC channel of {} unusable: {e}", spec.name),
            }
        }
        self.watchers.start(self, pm_id, &spec);
        self.cron.ensure(self, pm_id, spec.cron.as_deref());
        let mut origin = p.origin();
        origin["rev"] = Value::Null;
        if wait_ready {
            // Online at the app's 'ready' message, or when listen_timeout runs out.
            let timeout = spec.options.get("listen_timeout").and_then(Value::as_u64).unwrap_or(3000);
            let daemon = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(timeout)).await;
                daemon.mark_online(pm_id, generation);
            });
        } else {
            self.notify(p, "online", false);
        }
        drop(table);

        let epoch = self.log_epoch.load(Ordering::Relaxed);
        let sink = |main: &Option<std::path::PathBuf>, kind: &'static str| {
            let paths = [spec.instance_log(main, pm_id), spec.instance_log(&spec.log_file, pm_id)];
            LogSink::open(paths.into_iter().flatten().collect(), epoch, self.log_options(&spec, pm_id, kind))
        };
        self.pump_logs(spawned.stdout.into_owned_fd(), sink(&spec.out_file, "out"), "log:out", origin.clone(), false);
        self.pump_logs(spawned.stderr.into_owned_fd(), sink(&spec.error_file, "err"), "log:err", origin, spec.is_node());

        // A first memory reading once the program has loaded, before the monitor's next round.
        let daemon = self.clone();
        let pid = spawned.pid;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some((_, rss)) = monitor::sample(pid) {
                let mut table = daemon.table.lock().unwrap();
                if let Some(p) = table.get_mut(pm_id).filter(|p| p.pid == Some(pid) && p.monit.memory == 0) {
                    p.monit.memory = rss;
                }
            }
        });

        let daemon = self.clone();
        let mut child = spawned.child;
        tokio::spawn(async move {
            let status = child.wait().await;
            daemon.on_exit(pm_id, generation, status.ok());
        });
        self.table_changed();
        Ok(())
    }

    /// The app's own log format and rotation, else the daemon's defaults.
    fn log_options(&self, spec: &AppSpec, pm_id: u32, kind: &'static str) -> LogOptions {
        let date_format = spec.log_date_format.clone().or_else(|| self.settings.log_date_format.clone());
        let format = if spec.log_json {
            Some(LineFormat::Json { date_format, kind, pm_id, app_name: spec.name.clone() })
        } else {
            date_format.map(|date_format| LineFormat::Prefix { date_format })
        };
        let defaults = self.settings.log_rotation.clone();
        let rotation = match (spec.log_max_size, defaults) {
            (Some(max_size), d) => Some(Rotation {
                max_size,
                retain: spec.log_retain.map(|r| r as usize).or(d.as_ref().map(|d| d.retain)).unwrap_or(30),
                compress: spec.log_compress.or(d.map(|d| d.compress)).unwrap_or(false),
            }),
            (None, Some(mut d)) => {
                if let Some(r) = spec.log_retain {
                    d.retain = r as usize;
                }
                if let Some(c) = spec.log_compress {
                    d.compress = c;
                }
                Some(d)
            }
            (None, None) => None,
        };
        LogOptions { format, rotation }
    }

    /// Copies a pipe to its files and, while someone listens, to the bus. For Node apps'
    /// stderr, a fatal exception report at its end becomes `process:exception`.
    fn pump_logs(self: &Arc<Self>, pipe: std::io::Result<std::os::fd::OwnedFd>, sink: LogSink, event: &'static str, origin: Value, report_crash: bool) {
        let Ok(pipe) = pipe else { return daemon_log!("cannot read the output of an app: {}", origin) };
        let daemon = self.clone();
        let epoch = self.log_epoch.clone();
        tokio::spawn(async move {
            let listening = daemon.clone();
            let lines = daemon.clone();
            let line_origin = origin.clone();
            let mut rejections = report_crash.then(crash_report::RejectionScanner::default);
            let tail = logs::pump(pipe, sink, epoch, report_crash, move || listening.bus.active(), move |line| {
                let text = String::from_utf8_lossy(line);
                if let Some(error) = rejections.as_mut().and_then(|r| r.line(&text)) {
                    lines.bus.emit("process:exception", json!({"at": now_ms(), "data": error, "process": line_origin}));
                }
                lines.bus.emit(event, json!({"process": line_origin, "at": now_ms(), "data": text}))
            })
            .await;
            if let Some(error) = report_crash.then(|| crash_report::parse(tail.bytes())).flatten() {
                daemon.bus.emit("process:exception", json!({"at": now_ms(), "data": error, "process": origin}));
            }
        });
    }

    /// A `process:event` for `p`, built only when someone listens.
    fn notify(&self, p: &Proc, event: &str, manually: bool) {
        if self.bus.active() {
            self.bus.emit("process:event", process_event(event, manually, p.describe(&self.home)));
        }
    }

    fn notify_id(&self, pm_id: u32, event: &str, manually: bool) {
        if self.bus.active() {
            if let Some(p) = self.table.lock().unwrap().get(pm_id) {
                self.notify(p, event, manually);
            }
        }
    }

    fn mark_online(&self, pm_id: u32, generation: u64) {
        let mut table = self.table.lock().unwrap();
        if let Some(p) = table.get_mut(pm_id).filter(|p| p.generation == generation && p.status == Status::Launching) {
            p.status = Status::Online;
            self.notify(p, "online", false);
        }
    }

    /// A message from an app's IPC channel, handled as pm2's fork mode does.
    fn on_app_message(&self, pm_id: u32, generation: u64, worker: Option<u32>, msg: Value) {
        if let Some(cmd) = msg.get("cmd").and_then(Value::as_str).filter(|c| c.starts_with("NODE_")) {
            match (worker, cmd) {
                (Some(id), "NODE_CLUSTER") => self.cluster.on_message(id, &msg),
                (Some(id), "NODE_PM2_DRAINED") => self.cluster.drained(id),
                _ => {}
            }
            return;
        }
        if msg == "ready" {
            self.mark_online(pm_id, generation);
        }
        let mut table = self.table.lock().unwrap();
        let Some(p) = table.get_mut(pm_id).filter(|p| p.generation == generation) else { return };
        let kind = msg.get("type").and_then(Value::as_str).map(str::to_string);
        let data = msg.get("data").filter(|d| truthy(d)).cloned();
        match (kind.as_deref(), data) {
            (Some("axm:action"), Some(action)) => {
                let name = action.get("action_name").cloned();
                if !p.axm_actions.iter().any(|a| a.get("action_name") == name.as_ref()) {
                    p.axm_actions.push(action);
                }
            }
            (Some("axm:monitor"), Some(Value::Object(m))) => p.axm_monitor.extend(m),
            (Some("axm:option:configuration"), Some(Value::Object(m))) => p.axm_options.extend(m),
            (Some("axm:option:setPID" | "axm:monitor" | "axm:option:configuration"), _) => {}
            (Some(kind), Some(data)) => {
                let mut origin = p.origin();
                origin["versioning"] = Value::Null;
                self.bus.emit(kind, json!({"at": now_ms(), "data": data, "process": origin}));
            }
            _ => {
                if let Some(v) = msg.get("node_version").and_then(Value::as_str) {
                    p.node_version = Some(v.to_string());
                    return;
                }
                self.bus.emit("process:msg", json!({"at": now_ms(), "raw": msg, "process": p.origin()}));
            }
        }
    }

    /// An app process ended: record it, wake whoever stops it, apply the restart policy.
    fn on_exit(self: &Arc<Self>, pm_id: u32, generation: u64, status: Option<ExitStatus>) {
        let mut table = self.table.lock().unwrap();
        let Some(p) = table.get_mut(pm_id) else { return };
        if p.generation != generation {
            return;
        }
        // pm2 reports 0 for an app ended by a signal.
        let code = status.and_then(|s| s.code()).or(Some(0));
        p.pid = None;
        p.ipc = None;
        p.exit_code = code;
        p.monit = Default::default();
        p.stdin = None;
        self.table_changed();
        let _ = std::fs::remove_file(p.spec.instance_pid_file(&self.home, pm_id));
        p.wake_exit_waiters();
        match p.status {
            Status::Stopping => p.status = Status::Stopped,
            Status::Stopped | Status::Errored => {}
            _ => match restart::decide(p, code, now_ms()) {
                Decision::Stay => p.status = Status::Stopped,
                Decision::Overlimit => {
                    p.status = Status::Errored;
                    self.notify(p, "restart overlimit", false);
                    daemon_log!("{} ({pm_id}) restarted too quickly: errored", p.spec.name);
                }
                Decision::Restart(delay) => {
                    p.status = restart::pending_status(delay);
                    let daemon = self.clone();
                    tokio::spawn(async move {
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        daemon.restart_after_crash(pm_id, generation);
                    });
                }
            },
        }
        self.notify(p, "exit", false);
    }

    fn restart_after_crash(self: &Arc<Self>, pm_id: u32, generation: u64) {
        {
            let mut table = self.table.lock().unwrap();
            let Some(p) = table.get_mut(pm_id) else { return };
            // A stop, restart or delete since the crash has taken over.
            if p.generation != generation || !matches!(p.status, Status::Launching | Status::WaitingRestart) {
                return;
            }
            p.restart_time += 1;
        }
        if let Err(e) = self.launch(pm_id) {
            daemon_log!("{e}");
        }
    }

    /// Stops entry `pm_id` on a user's request (a `stop` event follows).
    pub async fn stop(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        self.stop_process(pm_id).await?;
        self.notify_id(pm_id, "stop", true);
        Ok(())
    }

    /// SIGINT (or the `shutdown` message) to the app's process group, SIGKILL after
    /// `kill_timeout`, then whatever is left of its tree. Resolves once it is dead.
    async fn stop_process(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        self.watchers.stop(pm_id);
        let (pid, exited, spec, channel, marker) = {
            let mut table = self.table.lock().unwrap();
            let Some(p) = table.get_mut(pm_id) else { return Err("process or namespace not found".into()) };
            let Some(pid) = p.pid else {
                // No process: cancel any pending restart, and end what it left behind.
                p.generation += 1;
                p.status = Status::Stopped;
                let marker = format!("unique_id={}", p.unique_id);
                let apps = table.iter().filter_map(|p| p.pid).collect();
                for orphan in tree::adopted_with_env(&marker, &apps) {
                    let _ = kill(Pid::from_raw(orphan as i32), Signal::SIGKILL);
                }
                return Ok(());
            };
            p.status = Status::Stopping;
            let (tx, rx) = oneshot::channel();
            p.exit_waiters.push(tx);
            let marker = format!("unique_id={}", p.unique_id);
            (pid, rx, p.spec.clone(), p.ipc.clone(), marker)
        };
        let leader = Pid::from_raw(pid as i32);
        let group = Pid::from_raw(-(pid as i32));
        let target = if spec.treekill { group } else { leader };
        // Descendants that left the process group (setsid, detached children) go too, and
        // so do those already orphaned (adopted by the daemon, found by the app's unique_id).
        let escaped: Vec<u32> = if spec.treekill {
            let apps = self.table.lock().unwrap().iter().filter_map(|p| p.pid).collect();
            let mut all = tree::descendants(pid);
            all.extend(tree::adopted_with_env(&marker, &apps));
            all
        } else {
            Vec::new()
        };
        let signal = spec.kill_signal.as_deref().and_then(|s| crate::config::signal_named(s).ok()).unwrap_or(self.settings.kill_signal);
        let by_message = spec.shutdown_with_message || std::env::var_os("PM2_KILL_USE_MESSAGE").is_some();
        match (&channel, by_message) {
            (Some(tx), true) => {
                let _ = tx.send(&json!("shutdown"));
            }
            _ => {
                let _ = kill(target, signal);
                for &p in &escaped {
                    let _ = kill(Pid::from_raw(p as i32), signal);
                }
            }
        }
        let kill_timeout = Duration::from_millis(spec.kill_timeout.unwrap_or(self.settings.kill_timeout));
        let mut exited = exited;
        if tokio::time::timeout(kill_timeout, &mut exited).await.is_err() {
            let _ = kill(target, Signal::SIGKILL);
            if tokio::time::timeout(Duration::from_secs(5), &mut exited).await.is_err() {
                let mut table = self.table.lock().unwrap();
                if let Some(p) = table.get_mut(pm_id) {
                    p.status = Status::Errored;
                }
                return Ok(());
            }
        }
        if spec.treekill {
            finish_tree(pid, &escaped, kill_timeout).await;
        }
        Ok(())
    }

    /// Stop (if running), then start again with the same id.
    pub async fn restart(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        let was_running = {
            let table = self.table.lock().unwrap();
            let p = table.get(pm_id).ok_or("process or namespace not found")?;
            p.pid.is_some() || p.status.is_running()
        };
        self.stop_process(pm_id).await?;
        {
            let mut table = self.table.lock().unwrap();
            let p = table.get_mut(pm_id).ok_or("process or namespace not found")?;
            if was_running {
                p.restart_time += 1;
            }
            p.unstable_restarts = 0;
            p.prev_restart_delay = 0;
            p.created_at = now_ms();
            p.status = Status::Launching;
        }
        self.launch(pm_id)?;
        self.notify_id(pm_id, "restart", true);
        Ok(())
    }

    /// Zero-downtime reload of one instance: a new process starts while the old one keeps
    /// serving; once the new one listens (cluster), or sends `ready` (`wait_ready`), or
    /// `listen_timeout` passes, the old one is stopped gracefully. Other apps restart.
    pub async fn reload(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        let old = {
            let mut table = self.table.lock().unwrap();
            let p = table.get_mut(pm_id).ok_or("process or namespace not found")?;
            let overlap = p.spec.is_cluster() || p.spec.wait_ready();
            match p.pid {
                Some(pid) if overlap && p.status == Status::Online => {
                    let old = (pid, p.generation, p.worker.take(), p.ipc.take(), p.stdin.take());
                    p.restart_time += 1;
                    p.unstable_restarts = 0;
                    p.prev_restart_delay = 0;
                    p.created_at = now_ms();
                    Some(old)
                }
                _ => None,
            }
        };
        let Some((old_pid, old_generation, old_worker, old_ipc, old_stdin)) = old else {
            return self.restart(pm_id).await;
        };
        self.watchers.stop(pm_id);
        if let Err(e) = self.launch(pm_id) {
            self.reinstate(pm_id, old_pid, old_generation, old_worker, old_ipc, old_stdin);
            return Err(e);
        }
        let (spec, new_pid, mut listening) = {
            let table = self.table.lock().unwrap();
            let p = table.get(pm_id).ok_or("process or namespace not found")?;
            (p.spec.clone(), p.pid, p.worker.as_ref().map(|(_, l)| l.clone()))
        };
        let timeout = Duration::from_millis(spec.options.get("listen_timeout").and_then(Value::as_u64).unwrap_or(3000));
        let deadline = tokio::time::Instant::now() + timeout;
        // Ready: listening (cluster) or online (wait_ready); gone: the new process died first.
        loop {
            let (ready, gone) = {
                let table = self.table.lock().unwrap();
                match table.get(pm_id) {
                    Some(p) if p.pid == new_pid && new_pid.is_some() => {
                        let listened = listening.as_ref().is_some_and(|l| *l.borrow() > 0);
                        (if spec.wait_ready() { p.status == Status::Online } else { listened }, false)
                    }
                    _ => (false, true),
                }
            };
            if gone {
                self.reinstate(pm_id, old_pid, old_generation, old_worker, old_ipc, old_stdin);
                return Err(format!("Reload of {} ({pm_id}) failed: the new process exited before it was ready; the previous one keeps running", spec.name));
            }
            if ready || tokio::time::Instant::now() >= deadline {
                break;
            }
            let tick = tokio::time::sleep(Duration::from_millis(10));
            match listening.as_mut() {
                Some(l) => {
                    tokio::select! { _ = l.changed() => {}, _ = tick => {} }
                }
                None => tick.await,
            }
        }
        self.retire(&spec, old_pid, old_worker.map(|(id, _)| id), old_ipc).await;
        self.notify_id(pm_id, "reload", true);
        Ok(())
    }

    /// Puts back the process a failed reload meant to replace.
    fn reinstate(
        self: &Arc<Self>,
        pm_id: u32,
        pid: u32,
        generation: u64,
        worker: Option<(u32, tokio::sync::watch::Receiver<u32>)>,
        ipc: Option<ipc::IpcSender>,
        stdin: Option<Arc<tokio::sync::Mutex<tokio::process::ChildStdin>>>,
    ) {
        let mut table = self.table.lock().unwrap();
        if let Some(p) = table.get_mut(pm_id) {
            // The old generation again: its exit is followed, the failed one's restart is not.
            p.generation = generation;
            p.pid = Some(pid);
            p.worker = worker;
            p.ipc = ipc;
            p.stdin = stdin;
            p.status = Status::Online;
        }
        drop(table);
        self.table_changed();
    }

    /// Stops a replaced process: a cluster worker drains (until its connections are gone,
    /// at most `DRAIN_LIMIT`), then is asked to disconnect (it stops accepting and finishes
    /// its requests), then SIGINT, then SIGKILL.
    async fn retire(&self, spec: &AppSpec, pid: u32, worker: Option<u32>, channel: Option<ipc::IpcSender>) {
        let grace = Duration::from_millis(spec.kill_timeout.unwrap_or(self.settings.kill_timeout));
        let escaped = tree::descendants(pid);
        let wait_dead = |limit: Duration| async move {
            let deadline = tokio::time::Instant::now() + limit;
            while tree::is_alive(pid) && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            !tree::is_alive(pid)
        };
        let signal = spec.kill_signal.as_deref().and_then(|s| crate::config::signal_named(s).ok()).unwrap_or(self.settings.kill_signal);
        match (worker, channel) {
            (Some(id), _) => {
                if let Some(mut drained) = self.cluster.drain(id) {
                    let _ = tokio::time::timeout(grace.min(DRAIN_LIMIT), drained.wait_for(|d| *d)).await;
                }
                self.cluster.disconnect(id)
            }
            (None, Some(tx)) if spec.shutdown_with_message => drop(tx.send(&json!("shutdown"))),
            _ => drop(kill(Pid::from_raw(-(pid as i32)), signal)),
        }
        if !wait_dead(grace).await {
            let _ = kill(Pid::from_raw(-(pid as i32)), signal);
            if !wait_dead(grace).await {
                let _ = kill(Pid::from_raw(-(pid as i32)), Signal::SIGKILL);
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        finish_tree(pid, &escaped, grace).await;
    }

    /// Stop, then forget the entry.
    pub async fn delete(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        self.cron.remove(pm_id);
        self.stop_process(pm_id).await?;
        self.notify_id(pm_id, "delete", true);
        let mut table = self.table.lock().unwrap();
        if let Some(p) = table.remove(pm_id) {
            let _ = std::fs::remove_file(p.spec.instance_pid_file(&self.home, pm_id));
        }
        self.table_changed();
        Ok(())
    }

    /// Deletes every app, all in parallel.
    pub async fn delete_all(self: &Arc<Self>) {
        let ids = self.table.lock().unwrap().ids();
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let d = self.clone();
            set.spawn(async move { d.delete(id).await });
        }
        while set.join_next().await.is_some() {}
    }

    pub fn reload_logs(&self) {
        self.log_epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Ask the server to exit once the current responses are written.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// JavaScript truthiness, which decides whether pm2 re-emits `{type, data}` under `type`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// After the leader of an app is gone, give the rest of its group and its escaped
/// descendants the same grace, then SIGKILL what is left, so no grandchild outlives it.
async fn finish_tree(pgid: u32, escaped: &[u32], grace: Duration) {
    let group = Pid::from_raw(-(pgid as i32));
    let deadline = tokio::time::Instant::now() + grace;
    let alive = || kill(group, None).is_ok() || escaped.iter().any(|p| tree::is_alive(*p));
    while alive() {
        if tokio::time::Instant::now() >= deadline {
            let _ = kill(group, Signal::SIGKILL);
            for &p in escaped {
                if tree::is_alive(p) {
                    let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
                }
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reaps orphans the daemon adopted as subreaper, at every SIGCHLD.
pub async fn reap_orphans(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut sigchld) = signal(SignalKind::child()) else { return };
    while sigchld.recv().await.is_some() {
        let known: std::collections::HashSet<u32> = daemon.table.lock().unwrap().iter().filter_map(|p| p.pid).collect();
        tree::reap_orphans(&known);
    }
}

/// Kills whatever is still a child of the daemon once every app is deleted: adopted
/// orphans that no stop could reach.
pub fn kill_leftovers() {
    for pid in tree::own_children() {
        if tree::is_alive(pid) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// SIGTERM, SIGINT and SIGQUIT stop every app and the daemon; SIGUSR2 reopens log files;
/// SIGHUP is ignored, as in pm2.
pub async fn handle_signals(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut quit), Ok(mut usr2), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
        signal(SignalKind::user_defined2()),
        signal(SignalKind::hangup()),
    ) else {
        daemon_log!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = quit.recv() => break,
            _ = usr2.recv() => daemon.reload_logs(),
            _ = hup.recv() => {}
        }
    }
    daemon_log!("signal received: saving the process list and stopping every app");
    super::handlers::dump_if_any(&daemon);
    daemon.delete_all().await;
    kill_leftovers();
    daemon.begin_shutdown();
}
