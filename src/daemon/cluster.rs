//! Cluster mode without a Node primary: the daemon speaks Node's cluster protocol on each
//! worker's IPC channel. A worker's `listen()` arrives as `queryServer`; the daemon binds
//! the address once per handle key and hands every worker a copy of that socket (Node's
//! shared-handle policy), so the kernel spreads connections and the daemon stays out of
//! the data path. An app whose environment sets `NODE_CLUSTER_SCHED_POLICY=rr` gets Node's
//! round-robin policy instead: the daemon listens and hands each accepted connection to
//! the next free worker. Because the socket lives in the daemon while any worker of the
//! key is alive, a rolling reload never closes it. Before an old worker is disconnected it
//! drains (see `cluster_drain.js`), so keep-alive clients move to the new worker unharmed.

use serde_json::{json, Value};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::watch;

use super::ipc::IpcSender;

/// `UV_TCP_IPV6ONLY` / `UV_UDP_IPV6ONLY`, `UV_UDP_REUSEADDR` in `queryServer.flags`.
const IPV6_ONLY: i64 = 1;
const UDP_REUSEADDR: i64 = 4;

/// Round-robin state of one handle, as Node's `RoundRobinHandle`: a worker has at most one
/// connection in flight and is free again after its `accepted` reply.
#[derive(Default)]
struct RoundRobin {
    free: VecDeque<u32>,
    pending: VecDeque<OwnedFd>,
    /// Our `newconn` seq → (worker, our copy of the connection until it is accepted).
    in_flight: HashMap<u64, (u32, OwnedFd)>,
    accept: Option<tokio::task::AbortHandle>,
}

struct Shared {
    socket: OwnedFd,
    /// Set when the daemon accepts and distributes connections itself.
    rr: Option<RoundRobin>,
    /// `net.Native` or `dgram.Native`.
    kind: &'static str,
    /// The first worker's `data` (TLS ticket keys), echoed to every worker.
    data: Value,
    workers: HashSet<u32>,
    unix_path: Option<PathBuf>,
}

struct Worker {
    ipc: IpcSender,
    listening: watch::Sender<u32>,
    round_robin: bool,
    /// Started with the drain script; set to true when it reports no connection left.
    drained: Option<watch::Sender<bool>>,
    /// Gets no more round-robin connections.
    draining: bool,
}

/// What cluster workers preload; see the file itself.
const DRAIN_SCRIPT: &str = include_str!("cluster_drain.js");

/// A round-robin handle's listening socket; accepted connections are non-blocking, as
/// Node requires of every descriptor it receives.
enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<OwnedFd> {
        Ok(match self {
            Listener::Tcp(l) => OwnedFd::from(l.accept().await?.0.into_std()?),
            Listener::Unix(l) => OwnedFd::from(l.accept().await?.0.into_std()?),
        })
    }
}

#[derive(Default)]
pub struct Cluster {
    handles: Mutex<HashMap<String, Shared>>,
    workers: Mutex<HashMap<u32, Worker>>,
    next_worker: AtomicU32,
    seq: AtomicU64,
}

/// A field as a JavaScript template string renders it (`null`, `undefined`, `3000`).
fn js(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::Null) => "null".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Node's handle key: workers asking for the same tuple share one socket.
fn handle_key(q: &Value) -> String {
    format!("{}:{}:{}:{}:{}", js(q.get("address")), js(q.get("port")), js(q.get("addressType")), js(q.get("fd")), js(q.get("index")))
}

fn errno_of(e: &std::io::Error) -> i64 {
    -(e.raw_os_error().unwrap_or(libc::EINVAL) as i64)
}

/// Binds (without listening: each worker listens) what a `queryServer` asks for.
fn bind(q: &Value) -> Result<(OwnedFd, &'static str, Option<PathBuf>), i64> {
    if q.get("fd").is_some_and(|fd| !fd.is_null() && fd.as_i64() != Some(-1)) {
        return Err(-(libc::EINVAL as i64)); // listen({fd}) names a descriptor of a Node primary.
    }
    let flags = q.get("flags").and_then(Value::as_i64).unwrap_or(0);
    let port = q.get("port").and_then(Value::as_i64).unwrap_or(0);
    let address = q.get("address").and_then(Value::as_str);
    let io = |e: std::io::Error| errno_of(&e);
    match q.get("addressType") {
        Some(Value::String(udp)) if udp.starts_with("udp") => {
            let v6 = udp == "udp6";
            let ip: IpAddr = match address {
                Some(a) => a.parse().map_err(|_| -(libc::EINVAL as i64))?,
                None if v6 => Ipv6Addr::UNSPECIFIED.into(),
                None => Ipv4Addr::UNSPECIFIED.into(),
            };
            let s = Socket::new(if v6 { Domain::IPV6 } else { Domain::IPV4 }, Type::DGRAM, Some(Protocol::UDP)).map_err(io)?;
            if flags & UDP_REUSEADDR != 0 {
                s.set_reuse_address(true).map_err(io)?;
            }
            if v6 {
                s.set_only_v6(flags & IPV6_ONLY != 0).map_err(io)?;
            }
            s.bind(&SocketAddr::new(ip, port as u16).into()).map_err(io)?;
            s.set_nonblocking(true).map_err(io)?;
            Ok((s.into(), "dgram.Native", None))
        }
        Some(t) if t.as_i64() == Some(-1) => {
            let path = PathBuf::from(address.ok_or(-(libc::EINVAL as i64))?);
            clear_stale_socket(&path)?;
            let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(io)?;
            s.bind(&SockAddr::unix(&path).map_err(io)?).map_err(io)?;
            s.set_nonblocking(true).map_err(io)?;
            Ok((s.into(), "net.Native", Some(path)))
        }
        t => {
            let port = port as u16;
            let tcp = |addr: SocketAddr, only_v6: Option<bool>| -> std::io::Result<Socket> {
                let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
                s.set_reuse_address(true)?;
                if let Some(v6only) = only_v6 {
                    s.set_only_v6(v6only)?;
                }
                s.bind(&addr.into())?;
                s.set_nonblocking(true)?;
                Ok(s)
            };
            let socket = match (address, t.and_then(Value::as_i64)) {
                // No host: dual-stack when the machine has IPv6, as Node binds it.
                (None, _) => tcp(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), Some(false))
                    .or_else(|_| tcp(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), None)),
                (Some(a), Some(6)) => {
                    let ip: Ipv6Addr = a.parse().map_err(|_| -(libc::EINVAL as i64))?;
                    tcp(SocketAddr::new(ip.into(), port), Some(flags & IPV6_ONLY != 0))
                }
                (Some(a), _) => {
                    let ip: IpAddr = a.parse().map_err(|_| -(libc::EINVAL as i64))?;
                    tcp(SocketAddr::new(ip, port), None)
                }
            }
            .map_err(io)?;
            Ok((socket.into(), "net.Native", None))
        }
    }
}

/// Removes a stale socket file (from an earlier run) that would make the bind fail; but
/// never a socket someone still listens on, one owned by another user, or anything that is
/// not a socket: those are EADDRINUSE, as for Node.
fn clear_stale_socket(path: &Path) -> Result<(), i64> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(meta) = std::fs::symlink_metadata(path) else { return Ok(()) };
    let in_use = -(libc::EADDRINUSE as i64);
    if !meta.file_type().is_socket() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(in_use);
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            let _ = std::fs::remove_file(path);
            Ok(())
        }
        _ => Err(in_use),
    }
}

/// The drain script under `PM2_HOME`, (re)written when it is missing or differs: a
/// worker whose `--require` names a missing file would not start. None if it cannot be.
pub fn drain_script(path: &Path) -> Option<PathBuf> {
    if std::fs::read(path).is_ok_and(|s| s == DRAIN_SCRIPT.as_bytes()) {
        return Some(path.to_path_buf());
    }
    // Written aside and renamed: a worker starting now never reads half a file.
    let tmp = path.with_extension(format!("cjs.{}", std::process::id()));
    match crate::home::write_private(&tmp, DRAIN_SCRIPT).and_then(|_| std::fs::rename(&tmp, path)) {
        Ok(()) => Some(path.to_path_buf()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            daemon_log!("cannot write {}: {e}; reloads will not drain keep-alive connections", path.display());
            None
        }
    }
}

impl Cluster {
    /// Ids for `NODE_UNIQUE_ID`, unique for the daemon's life, from 1 as in Node.
    pub fn new_worker_id(&self) -> u32 {
        self.next_worker.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Starts following a worker; the receiver counts its `listening` servers. `drains`:
    /// it was started with the drain script.
    pub fn register(&self, id: u32, ipc: IpcSender, round_robin: bool, drains: bool) -> watch::Receiver<u32> {
        let (listening, rx) = watch::channel(0);
        let drained = drains.then(|| watch::channel(false).0);
        self.workers.lock().insert(id, Worker { ipc, listening, round_robin, drained, draining: false });
        rx
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn reply(&self, id: u32, msg: Value) {
        if let Some(w) = self.workers.lock().get(&id) {
            let _ = w.ipc.send(&msg);
        }
    }

    /// Handles one `NODE_CLUSTER` message from worker `id`.
    pub fn on_message(self: &Arc<Self>, id: u32, msg: &Value) {
        let seq = msg.get("seq").cloned().unwrap_or(Value::Null);
        if let (None, Some(ack)) = (msg.get("act"), msg.get("ack").and_then(Value::as_u64)) {
            return self.newconn_reply(id, ack, msg.get("accepted").and_then(Value::as_bool).unwrap_or(false));
        }
        match msg.get("act").and_then(Value::as_str) {
            Some("queryServer") => self.query_server(id, msg),
            Some("listening") => {
                if let Some(w) = self.workers.lock().get(&id) {
                    w.listening.send_modify(|n| *n += 1);
                }
            }
            Some("close") => {
                if let Some(key) = msg.get("key").and_then(Value::as_str) {
                    self.leave(id, Some(key));
                }
            }
            // The worker waits for this before it disconnects.
            Some("exitedAfterDisconnect") => self.reply(id, json!({"cmd": "NODE_CLUSTER", "ack": seq, "seq": self.next_seq()})),
            _ => {}
        }
    }

    fn query_server(self: &Arc<Self>, id: u32, q: &Value) {
        let key = handle_key(q);
        let ack = q.get("seq").cloned().unwrap_or(Value::Null);
        let is_udp = q.get("addressType").is_some_and(Value::is_string);
        let round_robin = !is_udp && self.workers.lock().get(&id).is_some_and(|w| w.round_robin);
        let fail = |errno: i64| json!({"cmd": "NODE_CLUSTER", "errno": errno, "key": key, "ack": ack, "data": null, "seq": self.next_seq()});
        let mut handles = self.handles.lock();
        let shared = match handles.entry(key.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let bound = bind(q).and_then(|(socket, kind, unix_path)| {
                    let rr = if round_robin { Some(self.listen(&key, &socket, unix_path.is_some()).map_err(|e| errno_of(&e))?) } else { None };
                    Ok(Shared { socket, rr, kind, data: q.get("data").cloned().unwrap_or(Value::Null), workers: HashSet::new(), unix_path })
                });
                match bound {
                    Ok(shared) => e.insert(shared),
                    Err(errno) => {
                        drop(handles);
                        daemon_log!("cluster: cannot bind {key}: errno {errno}");
                        return self.reply(id, fail(errno));
                    }
                }
            }
        };
        shared.workers.insert(id);
        if let Some(rr) = &mut shared.rr {
            // Round robin: no socket for the worker, only what `server.address()` reports.
            let mut reply = json!({"cmd": "NODE_CLUSTER", "errno": null, "key": key, "ack": ack, "data": shared.data, "seq": self.next_seq()});
            // Out of descriptors, the reply just lacks the address.
            if let Some(addr) = shared.socket.try_clone().ok().and_then(|fd| Socket::from(fd).local_addr().ok()) {
                if let Some(a) = addr.as_socket() {
                    reply["sockname"] = json!({"address": a.ip().to_string(), "family": if a.is_ipv4() { "IPv4" } else { "IPv6" }, "port": a.port()});
                }
            }
            rr.free.push_back(id);
            drop(handles);
            self.reply(id, reply);
            return self.distribute(&key);
        }
        let copy = match shared.socket.try_clone() {
            Ok(fd) => fd,
            Err(e) => {
                drop(handles);
                return self.reply(id, fail(errno_of(&e)));
            }
        };
        let msg = json!({
            "cmd": "NODE_HANDLE",
            "type": shared.kind,
            "msg": {"cmd": "NODE_CLUSTER", "errno": 0, "key": key, "ack": ack, "data": shared.data, "seq": self.next_seq()},
        });
        drop(handles);
        if let Some(w) = self.workers.lock().get(&id) {
            let _ = w.ipc.send_handle(&msg, copy);
        }
    }

    /// Listens on a round-robin handle and accepts on the daemon's event loop.
    fn listen(self: &Arc<Self>, key: &str, socket: &OwnedFd, unix: bool) -> std::io::Result<RoundRobin> {
        let listener = Socket::from(socket.try_clone()?);
        listener.listen(511)?;
        let listener = if unix {
            Listener::Unix(tokio::net::UnixListener::from_std(std::os::unix::net::UnixListener::from(OwnedFd::from(listener)))?)
        } else {
            Listener::Tcp(tokio::net::TcpListener::from_std(std::net::TcpListener::from(OwnedFd::from(listener)))?)
        };
        let cluster = Arc::downgrade(self);
        let key = key.to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok(conn) = listener.accept().await else {
                    tokio::time::sleep(super::server::ACCEPT_BACKOFF).await;
                    continue;
                };
                let Some(cluster) = cluster.upgrade() else { return };
                if let Some(rr) = cluster.handles.lock().get_mut(&key).and_then(|h| h.rr.as_mut()) {
                    rr.pending.push_back(conn);
                }
                cluster.distribute(&key);
            }
        });
        Ok(RoundRobin { accept: Some(task.abort_handle()), ..Default::default() })
    }

    /// Hands pending connections to free workers, one in flight per worker.
    fn distribute(&self, key: &str) {
        loop {
            let mut handles = self.handles.lock();
            let Some(rr) = handles.get_mut(key).and_then(|h| h.rr.as_mut()) else { return };
            if rr.pending.is_empty() || rr.free.is_empty() {
                return;
            }
            let (Some(worker), Some(conn)) = (rr.free.pop_front(), rr.pending.pop_front()) else { return };
            let Ok(ours) = conn.try_clone() else {
                // Out of descriptors: that connection is dropped, the worker stays free.
                rr.free.push_front(worker);
                continue;
            };
            let seq = self.next_seq();
            rr.in_flight.insert(seq, (worker, ours));
            drop(handles);
            let msg = json!({"cmd": "NODE_HANDLE", "type": "net.Native", "msg": {"cmd": "NODE_CLUSTER", "act": "newconn", "key": key, "seq": seq}});
            if let Some(w) = self.workers.lock().get(&worker) {
                let _ = w.ipc.send_handle(&msg, conn);
            }
        }
    }

    /// A worker's answer to `newconn`: free again; a refused connection goes to another.
    fn newconn_reply(&self, id: u32, seq: u64, accepted: bool) {
        let draining = self.workers.lock().get(&id).is_some_and(|w| w.draining);
        let mut handles = self.handles.lock();
        let Some((key, rr, ours)) = handles.iter_mut().find_map(|(k, h)| {
            let rr = h.rr.as_mut()?;
            let (_, ours) = rr.in_flight.remove(&seq)?;
            Some((k.clone(), rr, ours))
        }) else {
            return;
        };
        if !accepted {
            rr.pending.push_front(ours);
        }
        if !draining {
            rr.free.push_back(id);
        }
        drop(handles);
        self.distribute(&key);
    }

    /// Takes worker `id` off one handle (or all), closing sockets no worker holds any more.
    /// A round-robin connection it never answered for goes to another worker.
    fn leave(&self, id: u32, only: Option<&str>) {
        let mut handles = self.handles.lock();
        let mut emptied = Vec::new();
        let mut redistribute = Vec::new();
        for (key, shared) in handles.iter_mut() {
            if only.is_some_and(|k| k != key) || !shared.workers.remove(&id) {
                continue;
            }
            if let Some(rr) = &mut shared.rr {
                rr.free.retain(|w| *w != id);
                let orphaned: Vec<u64> = rr.in_flight.iter().filter(|(_, (w, _))| *w == id).map(|(s, _)| *s).collect();
                for seq in orphaned {
                    if let Some((_, conn)) = rr.in_flight.remove(&seq) {
                        rr.pending.push_front(conn);
                    }
                }
                redistribute.push(key.clone());
            }
            if shared.workers.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in emptied {
            if let Some(shared) = handles.remove(&key) {
                if let Some(accept) = shared.rr.as_ref().and_then(|rr| rr.accept.as_ref()) {
                    accept.abort();
                }
                if let Some(path) = shared.unix_path {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        drop(handles);
        for key in redistribute {
            self.distribute(&key);
        }
    }

    /// The worker's channel closed: it holds no socket any more.
    pub fn worker_gone(&self, id: u32) {
        self.leave(id, None);
        self.workers.lock().remove(&id);
    }

    /// Node's graceful disconnect: the worker closes its servers, lets its connections
    /// finish, and exits.
    pub fn disconnect(&self, id: u32) {
        self.reply(id, json!({"cmd": "NODE_CLUSTER", "act": "disconnect", "seq": self.next_seq()}));
    }

    /// Asks worker `id` to drain and deals it no more connections. The receiver turns true
    /// once it has no connection left; None if the worker cannot drain.
    pub fn drain(&self, id: u32) -> Option<watch::Receiver<bool>> {
        let drained = {
            let mut workers = self.workers.lock();
            let w = workers.get_mut(&id)?;
            w.draining = true;
            let drained = w.drained.as_ref()?.subscribe();
            let _ = w.ipc.send(&json!({"cmd": "NODE_PM2_DRAIN"}));
            drained
        };
        for shared in self.handles.lock().values_mut() {
            if let Some(rr) = &mut shared.rr {
                rr.free.retain(|w| *w != id);
            }
        }
        Some(drained)
    }

    /// The drain script of worker `id` reports that its last connection closed.
    pub fn drained(&self, id: u32) {
        if let Some(tx) = self.workers.lock().get(&id).and_then(|w| w.drained.as_ref()) {
            tx.send_replace(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_render_like_node() {
        let q = json!({"address": null, "port": 3000, "addressType": 4, "index": 0});
        assert_eq!(handle_key(&q), "null:3000:4:undefined:0");
        let u = json!({"address": "127.0.0.1", "port": 9, "addressType": "udp4", "fd": -1, "index": 0});
        assert_eq!(handle_key(&u), "127.0.0.1:9:udp4:-1:0");
    }

    #[test]
    fn binds_the_exact_port_and_reports_errors_as_negative_errno() {
        let (fd, kind, _) = bind(&json!({"address": "127.0.0.1", "port": 0, "addressType": 4})).unwrap();
        assert_eq!(kind, "net.Native");
        let sock = Socket::from(fd);
        let port = sock.local_addr().unwrap().as_socket().unwrap().port();
        sock.listen(1).unwrap();
        let taken = bind(&json!({"address": "127.0.0.1", "port": port, "addressType": 4}));
        assert_eq!(taken.err(), Some(-(libc::EADDRINUSE as i64)));
        assert_eq!(bind(&json!({"address": null, "port": 1, "addressType": 4, "fd": 7})).err(), Some(-(libc::EINVAL as i64)));
    }

    #[test]
    fn the_drain_script_is_written_when_missing_or_changed() {
        let dir = std::env::temp_dir().join(format!("pm2rs-drain-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cluster-drain.cjs");
        assert_eq!(drain_script(&path).as_deref(), Some(path.as_path()));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), DRAIN_SCRIPT);
        std::fs::write(&path, "stale").unwrap();
        drain_script(&path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), DRAIN_SCRIPT);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(drain_script(&path), None, "no directory to write in");
    }

    #[test]
    fn a_unix_path_is_taken_over_only_when_stale_and_ours() {
        let path = std::env::temp_dir().join(format!("pm2rs-{}.sock", uuid::Uuid::new_v4()));
        let q = json!({"address": path.to_str().unwrap(), "port": -1, "addressType": -1});
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(bind(&q).err(), Some(-(libc::EADDRINUSE as i64)), "someone listens there");
        drop(live);
        assert!(bind(&q).is_ok(), "a stale socket file is replaced");
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "not a socket").unwrap();
        assert_eq!(bind(&q).err(), Some(-(libc::EADDRINUSE as i64)));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn udp_and_unix_paths() {
        let (_, kind, _) = bind(&json!({"address": "127.0.0.1", "port": 0, "addressType": "udp4", "fd": -1})).unwrap();
        assert_eq!(kind, "dgram.Native");
        let path = std::env::temp_dir().join(format!("pm2rs-{}.sock", uuid::Uuid::new_v4()));
        let (_, kind, p) = bind(&json!({"address": path.to_str().unwrap(), "port": -1, "addressType": -1})).unwrap();
        assert_eq!((kind, p.as_ref()), ("net.Native", Some(&path)));
        let _ = std::fs::remove_file(path);
    }
}
