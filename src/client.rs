//! The client side: find or start the daemon for a `PM2_HOME`, handshake, and multiplexed
//! requests over one connection.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::oneshot;

use crate::home::Home;
use crate::protocol::{self, Hello, RawRequest, RawResponse, PROTOCOL_NAME, PROTOCOL_VERSION};

/// Receives bus events in order, in batches: the JSON text of an array of `{event, data}`
/// (parsed on the JavaScript side, which is faster than building the objects through napi).
/// `None` says the stream has ended.
pub type EventSink = Arc<dyn Fn(Option<String>) + Send + Sync>;

/// A batch is handed over at this size even while more events are waiting.
const EVENT_BATCH_BYTES: usize = 256 * 1024;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(15);
const LOST: &str = "Lost the connection to the PM2 daemon (it exited or was killed)";
/// How long a call waits for its answer unless `PM2_CALL_TIMEOUT` (ms) says otherwise:
/// long enough for stopping slow apps, short of forever.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

fn call_timeout() -> Duration {
    std::env::var("PM2_CALL_TIMEOUT").ok().and_then(|v| v.trim().parse().ok()).map(Duration::from_millis).unwrap_or(CALL_TIMEOUT)
}

/// The connection's writer, locked (a frame is half written) or to be locked.
enum WriterGuard {
    Held(tokio::sync::OwnedMutexGuard<OwnedWriteHalf>),
    Wait(Arc<tokio::sync::Mutex<OwnedWriteHalf>>),
}

async fn write_rest(guard: WriterGuard, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut w = match guard {
        WriterGuard::Held(g) => g,
        WriterGuard::Wait(m) => m.lock_owned().await,
    };
    w.write_all(bytes).await
}

/// Results travel as JSON text: most go straight to JavaScript, which parses them faster.
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<String, String>>>>>;

pub struct Connection {
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    pending: Pending,
    next_id: AtomicU64,
    alive: Arc<AtomicBool>,
    /// The socket, to see a daemon's death before the reader task has noticed it.
    socket: std::os::fd::RawFd,
    reader: tokio::task::JoinHandle<()>,
    pub daemon_pid: u32,
}

/// How to start a daemon when none answers.
#[derive(Debug, Clone)]
pub enum Launch {
    /// Spawn this `pm2-daemon` executable, detached.
    Detached(PathBuf),
    /// Run the daemon on a thread of this process (`connect(true)`).
    InProcess,
}

impl Connection {
    /// False once the daemon has closed its side: a call then reconnects instead of
    /// writing into a dead socket.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && !crate::platform::peer_closed(self.socket)
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let params = serde_json::to_string(&params).expect("JSON values always serialise");
        let raw = self.call_raw(method, &params).await?;
        serde_json::from_str(&raw).map_err(|e| format!("Malformed answer from the PM2 daemon: {e}"))
    }

    /// Sends params given as JSON text; answers the result as JSON text.
    pub async fn call_raw(&self, method: &str, params_json: &str) -> Result<String, String> {
        self.start_call(method, params_json).await
    }

    /// Sends a request now, on the calling thread, when the socket takes the whole frame
    /// (the usual case: no thread hop on the way out); the future finishes the write if it
    /// could not, then resolves with the result as JSON text. Runs on any thread.
    pub fn start_call(&self, method: &str, params_json: &str) -> impl std::future::Future<Output = Result<String, String>> + Send + 'static {
        let sent = self.send_now(method, params_json);
        let pending = self.pending.clone();
        let method = method.to_string();
        let limit = call_timeout();
        async move {
            let (id, rx, unsent) = sent?;
            if let Some((guard, frame, written)) = unsent {
                if let Err(e) = write_rest(guard, &frame[written..]).await {
                    pending.lock().remove(&id);
                    return Err(format!("{LOST}: {e}"));
                }
            }
            match tokio::time::timeout(limit, rx).await {
                Ok(answer) => answer.unwrap_or_else(|_| Err(LOST.into())),
                Err(_) => {
                    pending.lock().remove(&id);
                    Err(format!(
                        "The PM2 daemon did not answer \"{method}\" within {} s (PM2_CALL_TIMEOUT, in ms, sets the limit)",
                        limit.as_secs_f64()
                    ))
                }
            }
        }
    }

    /// Registers the request and writes what the socket takes without waiting; what is left
    /// to write comes back with the writer's lock (or a lock still to take).
    #[allow(clippy::type_complexity)]
    fn send_now(&self, method: &str, params_json: &str) -> Result<(u64, oneshot::Receiver<Result<String, String>>, Option<(WriterGuard, Vec<u8>, usize)>), String> {
        if !self.is_alive() {
            return Err(LOST.into());
        }
        let params: &serde_json::value::RawValue =
            serde_json::from_str(params_json).map_err(|e| format!("Request parameters are not valid JSON: {e}"))?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        let frame = protocol::encode(&RawRequest { id, method, params });
        let Ok(guard) = self.writer.clone().try_lock_owned() else {
            return Ok((id, rx, Some((WriterGuard::Wait(self.writer.clone()), frame, 0))));
        };
        match guard.try_write(&frame) {
            Ok(n) if n == frame.len() => Ok((id, rx, None)),
            Ok(n) => Ok((id, rx, Some((WriterGuard::Held(guard), frame, n)))),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok((id, rx, Some((WriterGuard::Held(guard), frame, 0)))),
            Err(e) => {
                self.pending.lock().remove(&id);
                Err(format!("{LOST}: {e}"))
            }
        }
    }

    /// Closes the connection; requests still in flight get an error.
    pub async fn close(&self) {
        self.alive.store(false, Ordering::SeqCst);
        {
            use tokio::io::AsyncWriteExt;
            let _ = self.writer.lock().await.shutdown().await;
        }
        self.reader.abort();
        fail_all(&self.pending);
    }

    /// Waits until the daemon has closed its side and its process is gone (after `kill`),
    /// at most `limit`.
    pub async fn wait_daemon_exit(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        let in_process = self.daemon_pid == std::process::id();
        let gone = || !self.is_alive() && (in_process || !crate::platform::is_alive(self.daemon_pid));
        while !gone() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn fail_all(pending: &Pending) {
    for (_, tx) in pending.lock().drain() {
        let _ = tx.send(Err(LOST.into()));
    }
}

fn foreign_socket_error(home: &Home) -> String {
    match crate::takeover::original_daemon(home) {
        Some(pid) => format!(
            "The socket {} does not speak the pm2-rs protocol: an original pm2 daemon (pid {pid}) is running there. `pm2 update` (this package's) takes its apps over; or stop it with the original pm2 (`pm2 kill` with PM2_HOME={}), or use another PM2_HOME.",
            home.rpc_socket().display(),
            home.root.display()
        ),
        None => format!(
            "The socket {} does not speak the pm2-rs protocol: something else is listening there. Stop it or use another PM2_HOME.",
            home.rpc_socket().display()
        ),
    }
}

/// Connects and handshakes. `Ok(None)` means no daemon is listening.
async fn try_connect(home: &Home, events: Option<EventSink>) -> Result<Option<Connection>, String> {
    let sock = home.rpc_socket();
    // An original pm2 daemon would never answer the handshake: say so at once.
    if crate::takeover::original_daemon(home).is_some() {
        return Err(foreign_socket_error(home));
    }
    let stream = match UnixStream::connect(&sock).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            return Ok(None);
        }
        Err(e) => return Err(format!("Cannot connect to {}: {e}", sock.display())),
    };
    let socket = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let (reader, mut writer) = stream.into_split();
    let mut reader = tokio::io::BufReader::with_capacity(256 * 1024, reader);
    protocol::write_frame(&mut writer, &Hello::ours()).await.map_err(|e| format!("Cannot talk to the PM2 daemon: {e}"))?;
    let theirs: Hello = match tokio::time::timeout(HANDSHAKE_TIMEOUT, protocol::read_frame(&mut reader)).await {
        Ok(Ok(Some(h))) => h,
        // A daemon that dies as we connect resets or closes the connection: that is not a
        // foreign daemon, which would answer something else or nothing at all.
        Ok(Ok(None)) | Ok(Err(protocol::FrameError::Io(_))) => {
            return Err(format!(
                "The PM2 daemon at {} closed the connection during the handshake (it may have exited: see {})",
                sock.display(),
                home.log_file().display()
            ))
        }
        _ => return Err(foreign_socket_error(home)),
    };
    if theirs.hello != PROTOCOL_NAME {
        return Err(foreign_socket_error(home));
    }
    if let Some(why) = theirs.refused {
        return Err(why);
    }
    if theirs.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "The PM2 daemon (pid {}, version {}) speaks protocol {} but this client ({}) speaks {}: stop the old daemon (kill {}) and connect again.",
            theirs.pid,
            theirs.version,
            theirs.protocol,
            protocol::PACKAGE_VERSION,
            PROTOCOL_VERSION,
            theirs.pid
        ));
    }

    let pending: Pending = Arc::default();
    let alive = Arc::new(AtomicBool::new(true));
    let reader = tokio::spawn({
        let pending = pending.clone();
        let alive = alive.clone();
        async move {
            let mut batch: Vec<u8> = Vec::new();
            while let Ok(Some(frame)) = protocol::read_raw_frame_up_to(&mut reader, protocol::MAX_ANSWER_FRAME).await {
                if protocol::is_event_frame(&frame) {
                    if let Some(sink) = &events {
                        batch.push(if batch.is_empty() { b'[' } else { b',' });
                        batch.extend_from_slice(&frame);
                        // Hand over what arrived together, in bounded batches.
                        if reader.buffer().is_empty() || batch.len() >= EVENT_BATCH_BYTES {
                            batch.push(b']');
                            sink(Some(String::from_utf8_lossy(&std::mem::take(&mut batch)).into_owned()));
                        }
                    }
                    continue;
                }
                if let Some((id, result)) = protocol::successful_result(&frame) {
                    if let Some(tx) = pending.lock().remove(&id) {
                        let _ = tx.send(Ok(String::from_utf8_lossy(result).into_owned()));
                    }
                    continue;
                }
                let Ok(resp) = serde_json::from_slice::<RawResponse>(&frame) else { continue };
                if let Some(tx) = pending.lock().remove(&resp.id) {
                    let _ = tx.send(match resp.error {
                        Some(e) => Err(e),
                        None => Ok(resp.result.map(|r| r.get().to_string()).unwrap_or_else(|| "null".into())),
                    });
                }
            }
            if let Some(sink) = &events {
                if !batch.is_empty() {
                    batch.push(b']');
                    sink(Some(String::from_utf8_lossy(&batch).into_owned()));
                }
                sink(None);
            }
            alive.store(false, Ordering::SeqCst);
            fail_all(&pending);
        }
    });
    Ok(Some(Connection { writer: Arc::new(tokio::sync::Mutex::new(writer)), pending, next_id: AtomicU64::new(1), alive, socket, reader, daemon_pid: theirs.pid }))
}

/// Connects to the daemon of `home`, starting one if none answers. Concurrent first connects
/// serialise on `spawn.lock`, so exactly one daemon is started. Returns whether it is new.
pub async fn connect(home: &Home, launch: &Launch) -> Result<(Connection, bool), String> {
    home.ensure().map_err(|e| format!("Cannot create PM2_HOME {}: {e}", home.root.display()))?;
    if let Some(c) = try_connect(home, None).await? {
        return Ok((c, false));
    }
    let lock_path = home.spawn_lock();
    let lock = tokio::task::spawn_blocking(move || {
        let f = crate::home::open_private(&lock_path, true).map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| format!("cannot lock {}: {e}", lock_path.display()))
    })
    .await
    .map_err(|e| e.to_string())??;
    // Someone else may have started it while we waited for the lock.
    if let Some(c) = try_connect(home, None).await? {
        return Ok((c, false));
    }
    match launch {
        Launch::Detached(exe) => start_detached(home, exe).await?,
        Launch::InProcess => start_in_process(home).await?,
    }
    let conn = try_connect(home, None).await?.ok_or_else(|| match std::fs::read_to_string(home.pid_file()).ok().and_then(|p| p.trim().parse().ok()) {
        Some(pid) if !crate::platform::is_alive(pid) => format!("The PM2 daemon exited right after it started (see {})", home.log_file().display()),
        _ => format!("The PM2 daemon started but {} does not accept connections", home.rpc_socket().display()),
    })?;
    drop(lock);
    Ok((conn, true))
}

/// Connects to the daemon of `home`, which must be running (none is started).
pub async fn connect_running(home: &Home) -> Result<Connection, String> {
    try_connect(home, None).await?.ok_or_else(|| format!("No PM2 daemon is running for {}", home.root.display()))
}

/// Opens a connection that receives the daemon's bus events (the daemon must be running).
pub async fn subscribe(home: &Home, sink: EventSink) -> Result<Connection, String> {
    let conn = try_connect(home, Some(sink))
        .await?
        .ok_or_else(|| format!("No PM2 daemon is running for {}", home.root.display()))?;
    conn.call("subscribe", Value::Null).await?;
    Ok(conn)
}

/// Spawns `pm2-daemon`, which forks away (so it is nobody's zombie) and reports readiness on
/// the pipe it was given as stdout.
async fn start_detached(home: &Home, exe: &Path) -> Result<(), String> {
    if !exe.is_file() {
        return Err(format!("The pm2 daemon executable is missing: {} (run `npm run build`)", exe.display()));
    }
    let log = crate::home::open_private(&home.log_file(), true)
        .map_err(|e| format!("Cannot open {}: {e}", home.log_file().display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--home").arg(&home.root).arg("--detach").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| format!("Cannot start the PM2 daemon {}: {e}", exe.display()))?;
    let stdout = child.stdout.take().expect("stdout is piped above");
    let answer = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = child.wait();
        line
    });
    let line = tokio::time::timeout(DAEMON_START_TIMEOUT, answer)
        .await
        .map_err(|_| format!("The PM2 daemon did not start within {}s (see {})", DAEMON_START_TIMEOUT.as_secs(), home.log_file().display()))?
        .map_err(|e| e.to_string())?;
    match line.trim() {
        "ready" => Ok(()),
        "" => Err(format!("The PM2 daemon exited before it was ready (see {})", home.log_file().display())),
        other => Err(format!("The PM2 daemon could not start: {}", other.trim_start_matches("error: "))),
    }
}

async fn start_in_process(home: &Home) -> Result<(), String> {
    let (tx, rx) = oneshot::channel();
    let home = home.clone();
    std::thread::Builder::new()
        .name("pm2-daemon".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => return drop(tx.send(Err(format!("Cannot create the in-process daemon's event loop: {e}")))),
            };
            rt.block_on(crate::daemon::run(home, crate::daemon::Settings::from_env(true), |r| {
                let _ = tx.send(r);
            }));
        })
        .map_err(|e| format!("Cannot start the in-process daemon: {e}"))?;
    rx.await.map_err(|_| "The in-process daemon stopped before it was ready".to_string())?
}
