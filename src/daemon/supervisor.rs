//! The supervisor: one task that owns the process table. Everything that changes or reads
//! the table is a message in its inbox: a step sent by a request (with a oneshot for its
//! answer) or an event (an exit, an app message, a timer, a monitor sample). Steps never
//! wait; what must wait (a stop until the process is gone, a reload until the new one is
//! ready) gets a oneshot that the matching event answers, and waits outside.
//!
//! A step that panics is caught: its requester gets an error, the supervisor goes on.

use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::sync::{mpsc, oneshot};

use super::bus::process_event;
use super::cron::CronJobs;
use super::log_format::LineFormat;
use super::logs::{self, LogOptions, LogSink};
use super::process_table::{Monit, Proc, ProcessTable, Status};
use super::rotate::Overrides;
use super::transitions::{Effect, Event};
use super::watch::Watchers;
use super::{cluster, crash_report, exits, ipc, monitor, now_ms, restart, spawn, tree, Daemon};
use crate::config::AppSpec;

/// How long a reload lets an old cluster worker drain before disconnecting it: keep-alive
/// clients that send a request within it get `Connection: close` and move on unharmed.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// A synchronous piece of work on the table, sent by a request.
pub type Step = Box<dyn FnOnce(&mut Supervisor) + Send>;

/// The supervisor's inbox.
pub enum Msg {
    Step(Step),
    /// A process of entry `pm_id` ended (`generation` tells which one).
    Exited { pm_id: u32, generation: u64, status: Option<ExitStatus> },
    /// A message on an app's IPC channel, holding one of the daemon's `app_messages` permits
    /// until it is handled.
    AppMessage { pm_id: u32, generation: u64, msg: Value, permit: tokio::sync::OwnedSemaphorePermit },
    /// A `wait_ready` app's `listen_timeout` ran out.
    ListenTimeout { pm_id: u32, generation: u64 },
    /// The delay before restarting a crashed app is over.
    RestartDue { pm_id: u32, generation: u64 },
    /// A monitor round: `(pm_id, pid, reading)`.
    Samples(Vec<(u32, u32, Monit)>),
    /// A file that entry `pm_id` watches changed (after `watch_delay`).
    WatchedChange { pm_id: u32, path: PathBuf },
    /// Entry `pm_id`'s watching hit the inotify limit and polls from now on (`why` says so).
    WatchPolling { pm_id: u32, why: String },
}

/// Why a process is being stopped: what goes on after it.
#[derive(Clone, Copy, PartialEq)]
pub enum Ending {
    /// It starts again: its watching and cron go on.
    Restart,
    Stop,
    Delete,
}

pub struct Supervisor {
    pub d: Arc<Daemon>,
    pub table: ProcessTable,
    cron: CronJobs,
    watchers: Watchers,
    /// Exit waiters of processes a reload replaced, by `(pm_id, generation)`: their exit is
    /// not the entry's any more, but the reload waits for it.
    retiring: HashMap<(u32, u64), oneshot::Sender<()>>,
}

/// Serves the inbox until the daemon drops its sender.
pub async fn run(d: Arc<Daemon>, mut inbox: mpsc::UnboundedReceiver<Msg>) {
    let mut s = Supervisor { d, table: ProcessTable::default(), cron: CronJobs::default(), watchers: Watchers::default(), retiring: HashMap::new() };
    while let Some(msg) = inbox.recv().await {
        if std::panic::catch_unwind(AssertUnwindSafe(|| s.handle(msg))).is_err() {
            daemon_log!("a supervisor step failed; the daemon and its apps go on");
        }
    }
}

/// What a stop waits for, outside the supervisor.
pub struct StopPlan {
    process: tree::ProcessId,
    generation: u64,
    exited: oneshot::Receiver<()>,
    spec: Arc<AppSpec>,
    channel: Option<ipc::IpcSender>,
    marker: String,
    apps: HashSet<u32>,
}

/// The process a reload replaces, kept until the new one is ready.
pub struct Replaced {
    process: tree::ProcessId,
    generation: u64,
    worker: Option<(u32, tokio::sync::watch::Receiver<u32>)>,
    ipc: Option<ipc::IpcSender>,
    stdin: Option<Arc<tokio::sync::Mutex<tokio::process::ChildStdin>>>,
}

/// When the new process of a reload is ready.
enum Readiness {
    /// At its `ready` message (or `listen_timeout`).
    Online(oneshot::Receiver<()>),
    /// Once it listens (cluster mode).
    Listening(Option<tokio::sync::watch::Receiver<u32>>),
}

pub struct ReloadPlan {
    old: Replaced,
    old_exit: oneshot::Receiver<()>,
    /// Resolves if the new process ends first.
    gone: oneshot::Receiver<()>,
    ready: Readiness,
    spec: Arc<AppSpec>,
}

/// A `process:event` for `p`, built only when someone listens.
/// `SIGKILL` for 9: the name pm2 prints.
fn signal_name(number: i32) -> &'static str {
    Signal::try_from(number).map(Signal::as_str).unwrap_or("a signal")
}

fn notify(d: &Daemon, p: &Proc, event: &str, manually: bool) {
    if d.bus.active() {
        d.bus.emit("process:event", process_event(event, manually, p.describe(&d.home)));
    }
}

impl Supervisor {
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Step(step) => step(self),
            Msg::Exited { pm_id, generation, status } => self.on_exit(pm_id, generation, status),
            Msg::AppMessage { pm_id, generation, msg, permit: _permit } => self.on_app_message(pm_id, generation, msg),
            Msg::ListenTimeout { pm_id, generation } => self.mark_online(pm_id, generation, Event::ListenTimeout),
            Msg::RestartDue { pm_id, generation } => self.restart_after_crash(pm_id, generation),
            Msg::Samples(samples) => self.apply_samples(samples),
            Msg::WatchedChange { pm_id, path } => self.on_watched_change(pm_id, path),
            Msg::WatchPolling { pm_id, why } => {
                let name = self.table.get(pm_id).map(|p| p.spec.name.clone()).unwrap_or_default();
                daemon_log!("{name}: {why}");
                self.notify_id(pm_id, "watch polling", false);
            }
        }
    }

    pub fn notify_id(&self, pm_id: u32, event: &str, manually: bool) {
        if let Some(p) = self.table.get(pm_id) {
            notify(&self.d, p, event, manually);
        }
    }

    /// Adds `spec.instances` new entries; starts them unless `autostart` is false.
    pub fn create(&mut self, spec: AppSpec) -> Result<Vec<u32>, String> {
        let spec = Arc::new(spec);
        let ids: Vec<u32> = (0..spec.instances)
            .map(|_| {
                let id = self.table.allocate_id();
                let instance = self.table.free_instance(&spec.name);
                self.table.insert(Proc::new(id, spec.clone(), instance, now_ms()));
                id
            })
            .collect();
        for &id in &ids {
            self.cron.ensure(&self.d, id, spec.cron.as_deref());
        }
        self.d.table_changed();
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
        env.extend(p.spec.options_as_env());
        env.extend(p.pm2_vars(&self.d.home));
        env.insert("status".into(), json!("launching"));
        env.insert("restart_time".into(), json!(p.restart_time));
        env.insert("unstable_restarts".into(), json!(p.unstable_restarts));
        env.insert("created_at".into(), json!(p.created_at));
        env
    }

    /// Spawns the process of entry `pm_id` and wires its output, channel and exit.
    pub fn launch(&mut self, pm_id: u32) -> Result<(), String> {
        let Some(p) = self.table.get(pm_id) else { return Err(format!("process {pm_id} not found")) };
        let mut env = self.spawn_env(p);
        let d = self.d.clone();
        let Some(p) = self.table.get_mut(pm_id) else { return Err(format!("process {pm_id} not found")) };
        let spec = p.spec.clone();
        // A cluster worker is a Node process with NODE_UNIQUE_ID and a channel to its primary.
        let worker_id = spec.is_cluster().then(|| d.cluster.new_worker_id());
        if let Some(id) = worker_id {
            env.insert("NODE_UNIQUE_ID".into(), json!(id.to_string()));
        }
        let preload = worker_id.and_then(|_| cluster::drain_script(&d.home.cluster_drain_script()));
        let spawned = match spawn::spawn(&spec, &env, preload.as_deref(), d.settings.in_process) {
            Ok(s) => s,
            Err(e) => {
                p.apply(Event::SpawnFailed);
                let what = if spec.interpreter == "none" { spec.exec_path.display().to_string() } else { spec.interpreter_path.clone() };
                return Err(if e.kind() == std::io::ErrorKind::NotFound {
                    format!("Failed to start {}: interpreter or program not found: {what}", spec.name)
                } else {
                    format!("Failed to start {}: {e}", spec.name)
                });
            }
        };
        p.generation = super::process_table::next_generation();
        let generation = p.generation;
        p.pid = Some(spawned.pid);
        // Not reaped yet (its waiter starts below), so the pid is surely this process.
        p.pid_started = crate::platform::start_time(spawned.pid).unwrap_or(0);
        p.stdin = Some(Arc::new(tokio::sync::Mutex::new(spawned.stdin)));
        p.pm_uptime = now_ms();
        p.monit = Default::default();
        let pid_file = spec.instance_pid_file(&d.home, pm_id);
        if let Some(dir) = pid_file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = crate::home::write_private(&pid_file, &spawned.pid.to_string()) {
            daemon_log!("cannot write {}: {e}", pid_file.display());
        }
        p.worker = None;
        if let Some(stream) = spawned.ipc {
            let inbox = d.inbox.clone();
            let cluster = d.cluster.clone();
            let closed = d.cluster.clone();
            let on_close = move || {
                if let Some(id) = worker_id {
                    closed.worker_gone(id);
                }
            };
            // Cluster traffic is the cluster's alone; the rest is the supervisor's.
            let on_message = move |msg: Value, permit| match (worker_id, msg.get("cmd").and_then(Value::as_str).filter(|c| c.starts_with("NODE_"))) {
                (Some(id), Some("NODE_CLUSTER")) => cluster.on_message(id, &msg),
                (Some(id), Some("NODE_PM2_DRAINED")) => cluster.drained(id),
                (_, Some(_)) => {}
                (_, None) => drop(inbox.send(Msg::AppMessage { pm_id, generation, msg, permit })),
            };
            match ipc::attach(stream, d.app_messages.clone(), on_message, on_close) {
                Ok(tx) => {
                    if let Some(id) = worker_id {
                        let rr = spec.env.get("NODE_CLUSTER_SCHED_POLICY").and_then(Value::as_str) == Some("rr");
                        p.worker = Some((id, d.cluster.register(id, tx.clone(), rr, preload.is_some())));
                    }
                    p.ipc = Some(tx);
                }
                Err(e) => daemon_log!("IPC channel of {} unusable: {e}", spec.name),
            }
        }
        let mut origin = p.origin();
        origin["rev"] = Value::Null;
        if p.apply(Event::Spawned { wait_ready: spec.wait_ready }) == Some(Effect::AnnounceOnline) {
            notify(&d, p, "online", false);
        } else {
            // Online at the app's 'ready' message, or when listen_timeout runs out.
            let inbox = d.inbox.clone();
            let timeout = Duration::from_millis(spec.listen_timeout);
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                let _ = inbox.send(Msg::ListenTimeout { pm_id, generation });
            });
        }
        self.watchers.start(&d, pm_id, &spec);
        self.cron.ensure(&d, pm_id, spec.cron.as_deref());

        let epoch = d.log_epoch.load(Ordering::Relaxed);
        let sink = |main: &Option<std::path::PathBuf>, kind: &'static str| {
            let paths = [spec.instance_log(main, pm_id), spec.instance_log(&spec.log_file, pm_id)];
            LogSink::open(paths.into_iter().flatten().collect(), epoch, log_options(&d, &spec, pm_id, kind))
        };
        pump_logs(&d, spawned.stdout.into_owned_fd(), sink(&spec.out_file, "out"), "log:out", origin.clone(), false);
        pump_logs(&d, spawned.stderr.into_owned_fd(), sink(&spec.error_file, "err"), "log:err", origin, spec.is_node());

        let inbox = d.inbox.clone();
        let mut child = spawned.child;
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = inbox.send(Msg::Exited { pm_id, generation, status: status.ok() });
        });
        d.table_changed();
        Ok(())
    }

    fn mark_online(&mut self, pm_id: u32, generation: u64, event: Event) {
        let Some(p) = self.table.get_mut(pm_id).filter(|p| p.generation == generation) else { return };
        if p.apply(event) == Some(Effect::AnnounceOnline) {
            p.wake_online_waiters();
            notify(&self.d, p, "online", false);
        }
    }

    /// A message from an app's IPC channel, handled as pm2's fork mode does.
    fn on_app_message(&mut self, pm_id: u32, generation: u64, msg: Value) {
        if msg == "ready" {
            self.mark_online(pm_id, generation, Event::Ready);
        }
        let d = &self.d;
        let Some(p) = self.table.get_mut(pm_id).filter(|p| p.generation == generation) else { return };
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
                d.bus.emit(kind, json!({"at": now_ms(), "data": data, "process": origin}));
            }
            _ => {
                if let Some(v) = msg.get("node_version").and_then(Value::as_str) {
                    p.node_version = Some(v.to_string());
                    return;
                }
                d.bus.emit("process:msg", json!({"at": now_ms(), "raw": msg, "process": p.origin()}));
            }
        }
    }

    /// A process ended: record it, wake whoever waits for it, apply the restart policy.
    fn on_exit(&mut self, pm_id: u32, generation: u64, status: Option<ExitStatus>) {
        if let Some(waiter) = self.retiring.remove(&(pm_id, generation)) {
            let _ = waiter.send(());
            return;
        }
        let d = &self.d;
        let Some(p) = self.table.get_mut(pm_id).filter(|p| p.generation == generation) else { return };
        // pm2 reports 0 for an app ended by a signal; the signal is named in the log and
        // on the bus.
        let code = status.and_then(|s| s.code()).or(Some(0));
        let signal = status.and_then(|s| s.signal()).map(signal_name);
        p.pid = None;
        p.ipc = None;
        p.exit_code = code;
        p.monit = Default::default();
        p.stdin = None;
        d.table_changed();
        let _ = std::fs::remove_file(p.spec.instance_pid_file(&d.home, pm_id));
        p.wake_exit_waiters();
        if p.apply(Event::Exited) == Some(Effect::ConsultPolicy) {
            let decision = restart::decide(p, code, now_ms());
            match p.apply(Event::Policy(decision)) {
                Some(Effect::ReportOverlimit) => {
                    notify(d, p, "restart overlimit", false);
                    daemon_log!("{} ({pm_id}) restarted too quickly: errored", p.spec.name);
                }
                Some(Effect::ScheduleRestart(delay)) => {
                    let inbox = d.inbox.clone();
                    tokio::spawn(async move {
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_millis(delay)).await;
                        }
                        let _ = inbox.send(Msg::RestartDue { pm_id, generation });
                    });
                }
                _ => {}
            }
        }
        daemon_log!("App [{}:{pm_id}] exited with code [{}] via signal [{}]", p.spec.name, code.unwrap_or(0), signal.unwrap_or("SIGINT"));
        if d.bus.active() {
            let mut event = process_event("exit", false, p.describe(&d.home));
            if let Some(signal) = signal {
                event["signal"] = json!(signal);
            }
            d.bus.emit("process:event", event);
        }
    }

    fn restart_after_crash(&mut self, pm_id: u32, generation: u64) {
        // A stop, restart or delete since the crash has taken over (new generation or status).
        let Some(p) = self.table.get_mut(pm_id).filter(|p| p.generation == generation) else { return };
        if p.apply(Event::RestartDue) == Some(Effect::Launch) {
            p.restart_time += 1;
            if let Err(e) = self.launch(pm_id) {
                daemon_log!("{e}");
            }
        }
    }

    /// A watched file changed: restart the app, unless a restart for a change is under way
    /// (the new process loads what changed meanwhile).
    fn on_watched_change(&mut self, pm_id: u32, path: PathBuf) {
        if !self.watchers.begin_restart(pm_id) {
            return;
        }
        let Some(p) = self.table.get_mut(pm_id) else { return };
        p.restart_reason = Some("file change");
        let name = p.spec.name.clone();
        daemon_log!("Change detected on path {} for app {name} - restarting", path.display());
        let d = self.d.clone();
        tokio::spawn(async move {
            if let Err(e) = d.restart(pm_id).await {
                daemon_log!("restart of {name} after a change failed: {e}");
            }
            let _ = d.inbox.send(Msg::Step(Box::new(move |s| s.watchers.end_restart(pm_id))));
        });
    }

    /// Starts stopping entry `pm_id`: None when there is no process to wait for.
    pub fn begin_stop(&mut self, pm_id: u32, ending: Ending) -> Result<Option<StopPlan>, String> {
        if ending != Ending::Restart {
            self.watchers.stop(pm_id);
        }
        if ending == Ending::Delete {
            self.cron.remove(pm_id);
        }
        let apps = self.pids();
        let Some(p) = self.table.get_mut(pm_id) else { return Err("process or namespace not found".into()) };
        let marker = format!("unique_id={}", p.unique_id);
        let Some(process) = p.process() else {
            // No process: cancel any pending restart, and end what it left behind.
            p.generation = super::process_table::next_generation();
            p.apply(Event::Stop { running: false });
            for orphan in tree::adopted_with_env(&marker, &apps).into_iter().filter_map(tree::ProcessId::of) {
                let _ = orphan.signal(Signal::SIGKILL);
            }
            return Ok(None);
        };
        p.apply(Event::Stop { running: true });
        let (tx, exited) = oneshot::channel();
        p.exit_waiters.push(tx);
        Ok(Some(StopPlan { process, generation: p.generation, exited, spec: p.spec.clone(), channel: p.ipc.clone(), marker, apps }))
    }

    /// After a stop (a restart, or a crash restart forced by the user): spawn again.
    /// Starts a stopped entry again; for a `wait_ready` app, also a waiter for its readiness
    /// and how long to wait.
    pub fn relaunch(&mut self, pm_id: u32, was_running: bool) -> Result<Option<(oneshot::Receiver<()>, u64)>, String> {
        let p = self.table.get_mut(pm_id).ok_or("process or namespace not found")?;
        if was_running {
            p.restart_time += 1;
        }
        p.unstable_restarts = 0;
        p.prev_restart_delay = 0;
        p.created_at = now_ms();
        p.apply(Event::Relaunch);
        let reason = p.restart_reason.take();
        self.launch(pm_id)?;
        if let Some(p) = self.table.get(pm_id).filter(|_| self.d.bus.active()) {
            // A restart the daemon decided on says why; one asked for is manual, as in pm2.
            let mut event = process_event("restart", reason.is_none(), p.describe(&self.d.home));
            if let Some(reason) = reason {
                event["reason"] = json!(reason);
            }
            self.d.bus.emit("process:event", event);
        }
        Ok(self.readiness(pm_id))
    }

    /// For a `wait_ready` app not online yet: a waiter woken when it is (at its `ready`
    /// message or when `listen_timeout` runs out; dropped if it exits first), and how long
    /// to wait at most.
    pub fn readiness(&mut self, pm_id: u32) -> Option<(oneshot::Receiver<()>, u64)> {
        let p = self.table.get_mut(pm_id)?;
        (p.spec.wait_ready && p.status == Status::Launching).then(|| {
            let (tx, rx) = oneshot::channel();
            p.online_waiters.push(tx);
            (rx, p.spec.listen_timeout)
        })
    }

    /// Starts a zero-downtime reload: None when the app is restarted instead (not cluster
    /// nor `wait_ready`, or not online).
    fn begin_reload(&mut self, pm_id: u32) -> Result<Option<ReloadPlan>, String> {
        let p = self.table.get_mut(pm_id).ok_or("process or namespace not found")?;
        let overlap = p.spec.is_cluster() || p.spec.wait_ready;
        let Some(process) = p.process().filter(|_| overlap && p.status == Status::Online) else { return Ok(None) };
        let old = Replaced { process, generation: p.generation, worker: p.worker.take(), ipc: p.ipc.take(), stdin: p.stdin.take() };
        p.restart_time += 1;
        p.unstable_restarts = 0;
        p.prev_restart_delay = 0;
        p.created_at = now_ms();
        let (tx, old_exit) = oneshot::channel();
        self.retiring.insert((pm_id, old.generation), tx);
        if let Err(e) = self.launch(pm_id) {
            self.reinstate(pm_id, old);
            return Err(e);
        }
        let p = self.table.get_mut(pm_id).ok_or("process or namespace not found")?;
        let (tx, gone) = oneshot::channel();
        p.exit_waiters.push(tx);
        let ready = if p.spec.wait_ready {
            let (tx, rx) = oneshot::channel();
            p.online_waiters.push(tx);
            Readiness::Online(rx)
        } else {
            Readiness::Listening(p.worker.as_ref().map(|(_, l)| l.clone()))
        };
        Ok(Some(ReloadPlan { old, old_exit, gone, ready, spec: p.spec.clone() }))
    }

    /// Puts back the process a failed reload meant to replace.
    fn reinstate(&mut self, pm_id: u32, old: Replaced) {
        self.retiring.remove(&(pm_id, old.generation));
        if let Some(p) = self.table.get_mut(pm_id) {
            // The old generation again: its exit is followed, the failed one's restart is not.
            p.generation = old.generation;
            p.pid = Some(old.process.pid);
            p.pid_started = old.process.started;
            p.worker = old.worker;
            p.ipc = old.ipc;
            p.stdin = old.stdin;
            // The reload did not happen: it does not count as a restart.
            p.restart_time = p.restart_time.saturating_sub(1);
            p.apply(Event::Reinstated);
        }
        self.d.table_changed();
    }

    /// The stopped process was not gone even after SIGKILL.
    fn kill_failed(&mut self, pm_id: u32, generation: u64) {
        if let Some(p) = self.table.get_mut(pm_id).filter(|p| p.generation == generation) {
            p.apply(Event::KillFailed);
        }
    }

    /// Forgets a stopped entry.
    fn remove(&mut self, pm_id: u32) {
        self.notify_id(pm_id, "delete", true);
        if let Some(p) = self.table.remove(pm_id) {
            let _ = std::fs::remove_file(p.spec.instance_pid_file(&self.d.home, pm_id));
        }
        self.d.table_changed();
    }

    /// Reads the memory of running processes the monitor has not sampled yet, so that a
    /// list right after a start shows real figures, as pm2's (which reads when asked) does.
    pub fn read_unsampled(&mut self) {
        for p in self.table.iter_mut().filter(|p| p.monit.memory == 0) {
            if let Some((_, rss)) = p.pid.and_then(monitor::sample_tree) {
                p.monit.memory = rss;
            }
        }
    }

    /// A monitor round: readings, `max_memory_restart`, and the back-off of long runs.
    fn apply_samples(&mut self, samples: Vec<(u32, u32, Monit)>) {
        let now = now_ms();
        let reset_after = self.d.settings.backoff_reset.as_millis() as u64;
        for (pm_id, pid, monit) in samples {
            let Some(p) = self.table.get_mut(pm_id).filter(|p| p.pid == Some(pid)) else { continue };
            p.monit = monit;
            if p.spec.max_memory.is_some_and(|max| monit.memory > max) && p.status == Status::Online {
                daemon_log!("{} ({pm_id}) uses {} bytes, over max_memory_restart: restarting it", p.spec.name, monit.memory);
                p.restart_reason = Some("memory limit");
                let d = self.d.clone();
                tokio::spawn(async move {
                    let _ = d.restart(pm_id).await;
                });
            }
            // A long enough run starts the exponential back-off over.
            if p.prev_restart_delay > 0 && now.saturating_sub(p.pm_uptime) > reset_after {
                p.prev_restart_delay = 0;
            }
        }
    }

    /// The pids of every running app.
    pub fn pids(&self) -> HashSet<u32> {
        self.table.iter().filter_map(|p| p.pid).collect()
    }
}

/// The app's own log format and rotation, else the daemon's defaults.
fn log_options(d: &Daemon, spec: &AppSpec, pm_id: u32, kind: &'static str) -> LogOptions {
    let date_format = spec.log_date_format.clone().or_else(|| d.settings.log_date_format.clone());
    let format = if spec.log_json {
        Some(LineFormat::Json { date_format, kind, pm_id, app_name: spec.name.clone() })
    } else {
        date_format.map(|date_format| LineFormat::Prefix { date_format })
    };
    LogOptions { format, rotation: Overrides::of(spec), defaults: d.log_rotation.subscribe() }
}

/// Copies a pipe to its files and, while someone listens, to the bus. For Node apps'
/// stderr, a fatal exception report at its end becomes `process:exception`.
fn pump_logs(d: &Arc<Daemon>, pipe: std::io::Result<std::os::fd::OwnedFd>, sink: LogSink, event: &'static str, origin: Value, report_crash: bool) {
    let Ok(pipe) = pipe else { return daemon_log!("cannot read the output of an app: {}", origin) };
    // Output that cannot be written is reported on the bus once per episode, as is its end.
    let (bus, stream, process) = (d.clone(), event.trim_start_matches("log:"), origin.clone());
    let sink = sink.reporting(move |trouble| match trouble {
        logs::LogTrouble::Failed { error } => bus.bus.emit("log:failed", json!({"process": process, "at": now_ms(), "data": {"stream": stream, "error": error}})),
        logs::LogTrouble::Resumed { lost } => bus.bus.emit("log:resumed", json!({"process": process, "at": now_ms(), "data": {"stream": stream, "lost_bytes": lost}})),
    });
    let daemon = d.clone();
    let epoch = d.log_epoch.clone();
    tokio::spawn(async move {
        let listening = daemon.clone();
        let lines = daemon.clone();
        let line_origin = origin.clone();
        let mut rejections = report_crash.then(crash_report::RejectionScanner::default);
        let tail = logs::pump(pipe, sink, epoch, report_crash, move || listening.bus.active(), move |chunk| {
            let text = String::from_utf8_lossy(chunk);
            if let Some(scanner) = rejections.as_mut() {
                for line in text.split_inclusive('\n') {
                    if let Some(error) = scanner.line(line) {
                        lines.bus.emit("process:exception", json!({"at": now_ms(), "data": error, "process": line_origin}));
                    }
                }
            }
            lines.bus.emit(event, json!({"process": line_origin, "at": now_ms(), "data": text}))
        })
        .await;
        if let Some(error) = report_crash.then(|| crash_report::parse(tail.bytes())).flatten() {
            daemon.bus.emit("process:exception", json!({"at": now_ms(), "data": error, "process": origin}));
        }
    });
}

/// The operations requests, timers and signals ask for. Each sends steps to the supervisor
/// and waits, outside it, on what the steps hand back.
impl Daemon {
    /// Runs `step` on the table inside the supervisor and returns its result.
    pub async fn ask<R: Send + 'static>(&self, step: impl FnOnce(&mut Supervisor) -> R + Send + 'static) -> Result<R, String> {
        let (tx, rx) = oneshot::channel();
        self.inbox
            .send(Msg::Step(Box::new(move |s| {
                let _ = tx.send(step(s));
            })))
            .map_err(|_| "The PM2 daemon is shutting down".to_string())?;
        rx.await.map_err(|_| "Internal error in the PM2 daemon while serving this request; the daemon and its apps keep running".to_string())
    }

    /// Stops entry `pm_id` on a user's request (a `stop` event follows).
    pub async fn stop(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        self.stop_process(pm_id, Ending::Stop).await?;
        self.ask(move |s| s.notify_id(pm_id, "stop", true)).await
    }

    /// SIGINT (or the `shutdown` message) to the app, its process group and what left the
    /// group, SIGKILL after `kill_timeout`, then whatever is left of its tree. Resolves once
    /// it is dead.
    async fn stop_process(self: &Arc<Self>, pm_id: u32, ending: Ending) -> Result<(), String> {
        let Some(plan) = self.ask(move |s| s.begin_stop(pm_id, ending)).await?? else { return Ok(()) };
        let StopPlan { process, generation, mut exited, spec, channel, marker, apps } = plan;
        // Descendants that left the process group (setsid, detached children) go too, and
        // so do those already orphaned (adopted by the daemon, found by the app's unique_id).
        let orphans = if spec.treekill { tree::adopted_with_env(&marker, &apps) } else { Vec::new() };
        let targets = tree::StopTargets::find(process, spec.treekill, orphans);
        let signal = spec.stop_signal(self.settings.kill_signal);
        let by_message = spec.shutdown_with_message || std::env::var_os("PM2_KILL_USE_MESSAGE").is_some();
        match (&channel, by_message) {
            (Some(tx), true) => {
                let _ = tx.send(&json!("shutdown"));
            }
            _ => targets.signal(signal),
        }
        let kill_timeout = Duration::from_millis(spec.kill_timeout.unwrap_or(self.settings.kill_timeout));
        if tokio::time::timeout(kill_timeout, &mut exited).await.is_err() {
            targets.signal(Signal::SIGKILL);
            if tokio::time::timeout(Duration::from_secs(5), &mut exited).await.is_err() {
                return self.ask(move |s| s.kill_failed(pm_id, generation)).await;
            }
        }
        exits::finish_tree(&targets, kill_timeout).await;
        Ok(())
    }

    /// Stop (if running), then start again with the same id.
    pub async fn restart(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        let was_running = self.ask(move |s| s.table.get(pm_id).map(|p| p.pid.is_some() || p.status.is_running())).await?.ok_or("process or namespace not found")?;
        self.stop_process(pm_id, Ending::Restart).await?;
        let ready = self.ask(move |s| s.relaunch(pm_id, was_running)).await??;
        Self::until_ready(ready).await;
        Ok(())
    }

    /// A wait_ready app has started once it is ready, or listen_timeout has passed (a waiter
    /// dropped unanswered means it exited first: the restart policy has it).
    pub async fn until_ready(readiness: Option<(oneshot::Receiver<()>, u64)>) {
        if let Some((ready, timeout)) = readiness {
            let _ = tokio::time::timeout(Duration::from_millis(timeout), ready).await;
        }
    }

    /// Zero-downtime reload of one instance: a new process starts while the old one keeps
    /// serving; once the new one listens (cluster), or sends `ready` (`wait_ready`), or
    /// `listen_timeout` passes, the old one is stopped gracefully. Other apps restart.
    pub async fn reload(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        let Some(plan) = self.ask(move |s| s.begin_reload(pm_id)).await?? else { return self.restart(pm_id).await };
        let ReloadPlan { old, old_exit, mut gone, ready, spec } = plan;
        let ready = async {
            // A waiter dropped unanswered means the entry changed: `gone` or the timeout decides.
            match ready {
                Readiness::Online(rx) => {
                    if rx.await.is_err() {
                        std::future::pending::<()>().await
                    }
                }
                Readiness::Listening(Some(mut l)) => {
                    if l.wait_for(|n| *n > 0).await.is_err() {
                        std::future::pending::<()>().await
                    }
                }
                Readiness::Listening(None) => std::future::pending::<()>().await,
            }
        };
        let failed = tokio::select! {
            _ = ready => false,
            _ = &mut gone => true,
            _ = tokio::time::sleep(Duration::from_millis(spec.listen_timeout)) => false,
        };
        if failed {
            self.ask(move |s| s.reinstate(pm_id, old)).await?;
            if !spec.is_cluster() {
                // A fork app cannot overlap when the old process holds what the new one needs
                // (its port, typically): it is restarted instead, as pm2 reloads fork apps.
                return self.restart(pm_id).await;
            }
            return Err(format!("Reload of {} ({pm_id}) failed: the new process exited before it was ready; the previous one keeps running", spec.name));
        }
        self.retire(&spec, old, old_exit).await;
        self.ask(move |s| s.notify_id(pm_id, "reload", true)).await
    }

    /// Stops a replaced process: a cluster worker drains (until its connections are gone,
    /// at most `DRAIN_LIMIT`), then is asked to disconnect (it stops accepting and finishes
    /// its requests), then SIGINT, then SIGKILL. Its exit comes back as an event.
    async fn retire(&self, spec: &AppSpec, old: Replaced, mut exited: oneshot::Receiver<()>) {
        let grace = Duration::from_millis(spec.kill_timeout.unwrap_or(self.settings.kill_timeout));
        let targets = tree::StopTargets::find(old.process, spec.treekill, Vec::new());
        let signal = spec.stop_signal(self.settings.kill_signal);
        match (old.worker.map(|(id, _)| id), old.ipc) {
            (Some(id), _) => {
                if let Some(mut drained) = self.cluster.drain(id) {
                    let _ = tokio::time::timeout(grace.min(DRAIN_LIMIT), drained.wait_for(|d| *d)).await;
                }
                self.cluster.disconnect(id)
            }
            (None, Some(tx)) if spec.shutdown_with_message => drop(tx.send(&json!("shutdown"))),
            _ => targets.signal(signal),
        }
        if tokio::time::timeout(grace, &mut exited).await.is_err() {
            targets.signal(signal);
            if tokio::time::timeout(grace, &mut exited).await.is_err() {
                targets.signal(Signal::SIGKILL);
            }
        }
        exits::finish_tree(&targets, grace).await;
    }

    /// Stop, then forget the entry.
    pub async fn delete(self: &Arc<Self>, pm_id: u32) -> Result<(), String> {
        self.stop_process(pm_id, Ending::Delete).await?;
        self.ask(move |s| s.remove(pm_id)).await
    }

    /// Deletes every app, all in parallel.
    pub async fn delete_all(self: &Arc<Self>) {
        let Ok(ids) = self.ask(|s| s.table.ids()).await else { return };
        let mut set = tokio::task::JoinSet::new();
        for id in ids {
            let d = self.clone();
            set.spawn(async move { d.delete(id).await });
        }
        while set.join_next().await.is_some() {}
    }

    /// The one way the daemon winds down (the `kill` request, SIGTERM/SIGINT/SIGQUIT):
    /// every app is deleted, then whatever they left behind is killed. The caller then
    /// lets the server exit (`begin_shutdown`) once its reply is written.
    pub async fn wind_down(self: &Arc<Self>) {
        self.delete_all().await;
        if !self.settings.in_process {
            kill_leftovers();
        }
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

/// Kills whatever is still a child of the daemon once every app is deleted: adopted
/// orphans that no stop could reach.
fn kill_leftovers() {
    for pid in crate::platform::own_children() {
        if crate::platform::is_alive(pid) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
