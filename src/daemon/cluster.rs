//! Cluster mode without a Node primary: the daemon speaks Node's cluster protocol on each
//! worker's IPC channel. A worker's `listen()` arrives as `queryServer`; the daemon binds
//! the address once per handle key and hands every worker a copy of that socket (Node's
//! shared-handle policy), so the kernel spreads connections and the daemon stays out of
//! the data path. Because the socket lives in the daemon while any worker of the key is
//! alive, a rolling reload never closes it.

use serde_json::{json, Value};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::watch;

use super::ipc::IpcSender;

/// `UV_TCP_IPV6ONLY` / `UV_UDP_IPV6ONLY`, `UV_UDP_REUSEADDR` in `queryServer.flags`.
const IPV6_ONLY: i64 = 1;
const UDP_REUSEADDR: i64 = 4;

struct Shared {
    socket: OwnedFd,
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
}

/// What a cluster message means for the supervisor.
#[derive(Debug, PartialEq)]
pub enum Notice {
    /// The worker finished its setup (pm2's "online").
    Online,
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
            // A stale socket file from an earlier run would make the bind fail.
            if std::fs::symlink_metadata(&path).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())) {
                let _ = std::fs::remove_file(&path);
            }
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

impl Cluster {
    /// Ids for `NODE_UNIQUE_ID`, unique for the daemon's life, from 1 as in Node.
    pub fn new_worker_id(&self) -> u32 {
        self.next_worker.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Starts following a worker; the receiver counts its `listening` servers.
    pub fn register(&self, id: u32, ipc: IpcSender) -> watch::Receiver<u32> {
        let (listening, rx) = watch::channel(0);
        self.workers.lock().unwrap().insert(id, Worker { ipc, listening });
        rx
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn reply(&self, id: u32, msg: Value) {
        if let Some(w) = self.workers.lock().unwrap().get(&id) {
            let _ = w.ipc.send(&msg);
        }
    }

    /// Handles one `NODE_CLUSTER` message from worker `id`.
    pub fn on_message(&self, id: u32, msg: &Value) -> Option<Notice> {
        let seq = msg.get("seq").cloned().unwrap_or(Value::Null);
        match msg.get("act").and_then(Value::as_str) {
            Some("online") => return Some(Notice::Online),
            Some("queryServer") => self.query_server(id, msg),
            Some("listening") => {
                if let Some(w) = self.workers.lock().unwrap().get(&id) {
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
        None
    }

    fn query_server(&self, id: u32, q: &Value) {
        let key = handle_key(q);
        let ack = q.get("seq").cloned().unwrap_or(Value::Null);
        let mut handles = self.handles.lock().unwrap();
        if !handles.contains_key(&key) {
            match bind(q) {
                Ok((socket, kind, unix_path)) => {
                    let data = q.get("data").cloned().unwrap_or(Value::Null);
                    handles.insert(key.clone(), Shared { socket, kind, data, workers: HashSet::new(), unix_path });
                }
                Err(errno) => {
                    drop(handles);
                    daemon_log!("cluster: cannot bind {key}: errno {errno}");
                    let msg = json!({"cmd": "NODE_CLUSTER", "errno": errno, "key": key, "ack": ack, "data": null, "seq": self.next_seq()});
                    return self.reply(id, msg);
                }
            }
        }
        let shared = handles.get_mut(&key).expect("inserted above");
        let copy = match shared.socket.try_clone() {
            Ok(fd) => fd,
            Err(e) => {
                let msg = json!({"cmd": "NODE_CLUSTER", "errno": errno_of(&e), "key": key, "ack": ack, "data": null, "seq": self.next_seq()});
                drop(handles);
                return self.reply(id, msg);
            }
        };
        shared.workers.insert(id);
        let msg = json!({
            "cmd": "NODE_HANDLE",
            "type": shared.kind,
            "msg": {"cmd": "NODE_CLUSTER", "errno": 0, "key": key, "ack": ack, "data": shared.data, "seq": self.next_seq()},
        });
        drop(handles);
        if let Some(w) = self.workers.lock().unwrap().get(&id) {
            let _ = w.ipc.send_handle(&msg, copy);
        }
    }

    /// Takes worker `id` off one handle (or all), closing sockets no worker holds any more.
    fn leave(&self, id: u32, only: Option<&str>) {
        let mut handles = self.handles.lock().unwrap();
        let mut emptied = Vec::new();
        for (key, shared) in handles.iter_mut() {
            if only.is_none_or(|k| k == key) && shared.workers.remove(&id) && shared.workers.is_empty() {
                emptied.push(key.clone());
            }
        }
        for key in emptied {
            if let Some(shared) = handles.remove(&key) {
                if let Some(path) = shared.unix_path {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }

    /// The worker's channel closed: it holds no socket any more.
    pub fn worker_gone(&self, id: u32) {
        self.leave(id, None);
        self.workers.lock().unwrap().remove(&id);
    }

    /// Node's graceful disconnect: the worker closes its servers, lets its connections
    /// finish, and exits.
    pub fn disconnect(&self, id: u32) {
        self.reply(id, json!({"cmd": "NODE_CLUSTER", "act": "disconnect", "seq": self.next_seq()}));
    }

    /// Sockets currently held for workers (for tests and diagnostics).
    pub fn open_handles(&self) -> usize {
        self.handles.lock().unwrap().len()
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
    fn udp_and_unix_paths() {
        let (_, kind, _) = bind(&json!({"address": "127.0.0.1", "port": 0, "addressType": "udp4", "fd": -1})).unwrap();
        assert_eq!(kind, "dgram.Native");
        let path = std::env::temp_dir().join(format!("pm2rs-{}.sock", uuid::Uuid::new_v4()));
        let (_, kind, p) = bind(&json!({"address": path.to_str().unwrap(), "port": -1, "addressType": -1})).unwrap();
        assert_eq!((kind, p.as_ref()), ("net.Native", Some(&path)));
        let _ = std::fs::remove_file(path);
    }
}
