//! The daemon ("God"): a small standalone tokio program that owns the process table.
//!
//! `server` takes client connections and hands each request to `handlers`; `supervisor`
//! is the one task that owns the process table: requests, exits, app messages, timers and
//! monitor samples reach it through its inbox. It starts, stops and restarts processes
//! (`spawn`), `transitions` decides every status change and `restart` the policy for
//! exits; `logs` copies app output to files, `ipc` speaks Node's IPC channel, `monitor`
//! samples cpu and memory.

/// Writes a line to the daemon's log (`pm2.log`), unless the daemon runs inside a client's
/// process, whose output is the user's.
macro_rules! daemon_log {
    ($($arg:tt)*) => {
        if !$crate::daemon::QUIET.load(std::sync::atomic::Ordering::Relaxed) {
            $crate::daemon::daemon_log::write(format_args!($($arg)*));
        }
    };
}

pub mod backlog;
pub mod bus;
pub mod cluster;
pub mod crash_report;
pub mod daemon_log;
pub mod cron;
pub mod dump;
pub mod exits;
pub mod handlers;
pub mod http;
pub mod ipc;
pub mod log_format;
pub mod logrotate;
pub mod logs;
pub mod monitor;
pub mod process_table;
pub mod recovery;
pub mod restart;
pub mod rotate;
pub mod server;
pub mod signals;
pub mod spawn;
pub mod supervisor;
pub mod transitions;
pub mod tree;
pub mod watch;
pub mod watch_engine;
pub mod web;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use tokio::net::UnixListener;


use crate::home::Home;

/// Set for an in-process daemon (`connect(true)`).
pub static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Knobs read once from the environment of the client that started the daemon.
#[derive(Debug, Clone)]
pub struct Settings {
    pub kill_timeout: u64,
    /// `PM2_KILL_SIGNAL`: how apps are asked to stop (SIGINT).
    pub kill_signal: nix::sys::signal::Signal,
    /// How often cpu/memory are sampled and `max_memory_restart` is checked.
    pub monitor_interval: Duration,
    /// Uptime after which the exponential back-off starts again from its initial delay.
    pub backoff_reset: Duration,
    /// Log rotation for apps that do not set their own (`PM2_LOG_MAX_SIZE`, `PM2_LOG_RETAIN`,
    /// `PM2_LOG_COMPRESS`); off unless a size is given.
    pub log_rotation: Option<rotate::Rotation>,
    /// `PM2_LOG_DATE_FORMAT`: a date prefix for apps that set none.
    pub log_date_format: Option<String>,
    /// Running inside the client's process (`connect(true)`): apps die with it.
    pub in_process: bool,
    /// Start the saved process list (`dump.pm2`) at start (the boot service).
    pub resurrect: bool,
    /// What a bus subscriber may have waiting (`PM2_BUS_MEMORY`, `PM2_BUS_SPOOL`).
    pub bus_limits: backlog::Limits,
    /// Client connections served at once (`PM2_MAX_CONNECTIONS`).
    pub max_connections: usize,
}

impl Settings {
    pub fn from_env(in_process: bool) -> Self {
        let ms = |key: &str, default: u64| std::env::var(key).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default);
        Settings {
            kill_timeout: ms("PM2_KILL_TIMEOUT", 1600),
            kill_signal: std::env::var("PM2_KILL_SIGNAL")
                .ok()
                .and_then(|s| crate::config::signal_named(&s).ok())
                .unwrap_or(nix::sys::signal::Signal::SIGINT),
            monitor_interval: Duration::from_millis(ms("PM2_WORKER_INTERVAL", 1000).max(100)),
            backoff_reset: Duration::from_millis(ms("EXP_BACKOFF_RESET_TIMER", 30_000)),
            log_rotation: std::env::var("PM2_LOG_MAX_SIZE")
                .ok()
                .and_then(|v| crate::config::parse_bytes(&serde_json::json!(v)))
                .filter(|n| *n > 0)
                .map(|max_size| {
                    let d = rotate::Rotation::default();
                    rotate::Rotation {
                        max_size,
                        retain: ms("PM2_LOG_RETAIN", d.retain as u64) as usize,
                        compress: std::env::var("PM2_LOG_COMPRESS").is_ok_and(|v| v == "true"),
                        ..d
                    }
                }),
            log_date_format: std::env::var("PM2_LOG_DATE_FORMAT").ok().filter(|f| !f.is_empty()),
            in_process,
            resurrect: false,
            bus_limits: backlog::Limits::from_env(),
            max_connections: ms("PM2_MAX_CONNECTIONS", crate::limits::MAX_CONNECTIONS as u64).max(1) as usize,
        }
    }
}

/// What every part of the daemon shares: settings, the bus, and the supervisor's inbox,
/// the only way to the process table.
pub struct Daemon {
    pub home: Home,
    pub settings: Settings,
    pub inbox: tokio::sync::mpsc::UnboundedSender<supervisor::Msg>,
    /// Permits for app messages waiting in the inbox (`APP_MESSAGES_WAITING`): a channel
    /// reader that finds none free stops reading, so a flooding app waits in its own send
    /// queue and a request waits behind this many app messages at most.
    pub app_messages: Arc<tokio::sync::Semaphore>,
    pub bus: bus::Bus,
    pub cluster: Arc<cluster::Cluster>,
    /// Bumped by `reloadLogs`: log writers reopen their files when it changes.
    pub log_epoch: Arc<AtomicU64>,
    /// How logs rotate when apps do not say (pm2-logrotate's settings, `PM2_LOG_*`).
    pub log_rotation: logrotate::LogRotation,
    /// Signalled at each change of the process table, to save it.
    pub table_changed: tokio::sync::Notify,
    /// The web interface (`pm2 web`) and the history its charts show.
    pub web: web::Web,
    /// Becomes true when the daemon must exit.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl Daemon {
    /// The process table changed: save it soon.
    pub fn table_changed(&self) {
        self.table_changed.notify_one();
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Takes the daemon lock (an exclusive flock on `pm2.pid`, held for the daemon's life) and
/// writes our pid into it. Fails if another daemon holds it.
fn lock_pid_file(home: &Home) -> Result<Flock<std::fs::File>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(home.pid_file())
        .map_err(|e| format!("cannot open {}: {e}", home.pid_file().display()))?;
    let mut lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, _)| {
        let pid = std::fs::read_to_string(home.pid_file()).unwrap_or_default();
        format!("a pm2 daemon is already running for {} (pid {})", home.root.display(), pid.trim())
    })?;
    lock.set_len(0).map_err(|e| e.to_string())?;
    write!(&mut *lock, "{}", std::process::id()).map_err(|e| e.to_string())?;
    Ok(lock)
}

/// Runs a daemon for `home` until it is killed. `ready` is called once the socket accepts
/// connections (or with the reason it never will).
pub async fn run(home: Home, settings: Settings, ready: impl FnOnce(Result<(), String>)) {
    if settings.in_process {
        QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let setup = (|| {
        home.ensure().map_err(|e| format!("cannot create {}: {e}", home.root.display()))?;
        let lock = lock_pid_file(&home)?;
        let sock = home.rpc_socket();
        let _ = std::fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock).map_err(|e| format!("cannot listen on {}: {e}", sock.display()))?;
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
        Ok::<_, String>((lock, listener))
    })();
    let (lock, listener) = match setup {
        Ok(x) => x,
        Err(e) => return ready(Err(e)),
    };
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let (inbox, messages) = tokio::sync::mpsc::unbounded_channel();
    let daemon = Arc::new(Daemon {
        home: home.clone(),
        settings: settings.clone(),
        inbox,
        app_messages: Arc::new(tokio::sync::Semaphore::new(crate::limits::APP_MESSAGES_WAITING)),
        bus: bus::Bus::default(),
        cluster: Default::default(),
        log_epoch: Arc::new(AtomicU64::new(0)),
        log_rotation: logrotate::LogRotation::new(settings.log_rotation.clone()),
        table_changed: tokio::sync::Notify::new(),
        web: Default::default(),
        shutdown,
    });
    let supervisor = tokio::spawn(supervisor::run(daemon.clone(), messages));
    daemon.log_rotation.apply(&daemon, logrotate::Settings::load(&home));
    let monitor = tokio::spawn(monitor::run(daemon.clone(), settings.monitor_interval));
    // Apps die with an in-process daemon: only a standalone one has a table to recover.
    let persister = (!settings.in_process).then(|| tokio::spawn(recovery::persist(daemon.clone())));
    if !settings.in_process {
        recovery::restore(&daemon).await;
    }
    if settings.resurrect {
        let node = crate::config::which("node", None).map(|p| p.to_string_lossy().into_owned()).unwrap_or_else(|| "node".into());
        if let Err(e) = dump::resurrect(&daemon, &node).await {
            daemon_log!("{e}");
        }
    }
    // A standalone daemon adopts what its apps leave behind, so nothing escapes it.
    let signals = (!settings.in_process).then(|| {
        crate::platform::adopt_orphans();
        tokio::spawn(signals::handle_signals(daemon.clone()))
    });
    let reaper = (!settings.in_process).then(|| tokio::spawn(signals::reap_orphans(daemon.clone())));
    ready(Ok(()));
    let http = http::start_from_env(&home);
    daemon_log!("{} started (pid {}) for {}", crate::protocol::PACKAGE_VERSION, std::process::id(), home.root.display());

    server::serve(daemon.clone(), listener).await;

    monitor.abort();
    daemon.log_rotation.stop();
    for task in [signals, reaper, persister, http, Some(supervisor)].into_iter().flatten() {
        task.abort();
    }
    recovery::forget(&daemon);
    let _ = std::fs::remove_file(home.rpc_socket());
    let _ = std::fs::remove_file(home.pid_file());
    drop(lock);
    daemon_log!("stopped");
}
