//! The daemon's end of a Node app's IPC channel (`json` serialization: one JSON document per
//! line), with file descriptors passed as SCM_RIGHTS the way Node passes handles.
//!
//! One reader per channel, read promptly; a line that is not valid JSON is dropped without
//! closing the channel; the daemon never writes a blank or invalid line. Every handle the
//! app sends is acknowledged; a handle the daemon sends is kept until the app acknowledges
//! it (and sent again on a NACK), and nothing else is written meanwhile, as Node does.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned};
use serde_json::Value;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

const ACK: &str = r#"{"cmd":"NODE_HANDLE_ACK"}"#;
const NACK: &str = r#"{"cmd":"NODE_HANDLE_NACK"}"#;
use crate::limits::{MAX_IPC_MESSAGE, MAX_JSON_DEPTH};

/// Node gives up on a handle after this many NACKs.
const MAX_RETRIES: usize = 3;

struct Outgoing {
    line: String,
    handle: Option<OwnedFd>,
}

/// Writes to one app's channel. Cheap to clone.
#[derive(Clone)]
pub struct IpcSender {
    normal: mpsc::UnboundedSender<Outgoing>,
}

impl IpcSender {
    /// Queues a message; `Err` once the channel is closed.
    pub fn send(&self, msg: &Value) -> Result<(), ()> {
        self.normal.send(Outgoing { line: encode(msg), handle: None }).map_err(|_| ())
    }

    /// Queues a message that carries a socket (`{"cmd":"NODE_HANDLE",...}`).
    pub fn send_handle(&self, msg: &Value, handle: OwnedFd) -> Result<(), ()> {
        self.normal.send(Outgoing { line: encode(msg), handle: Some(handle) }).map_err(|_| ())
    }
}

/// What the reader tells the writer about handles the daemon sent.
enum Receipt {
    Ack,
    Nack,
}

/// Starts the reader and writer of one channel. `on_message` gets every message the app
/// sends, in order (the inner message of a `NODE_HANDLE`, its handle closed), with a permit
/// of `waiting` to hold until it is handled: without one free, the channel is not read.
/// `on_close` runs once when the app's end closes.
pub fn attach<F, C>(stream: StdUnixStream, waiting: Arc<Semaphore>, mut on_message: F, on_close: C) -> std::io::Result<IpcSender>
where
    F: FnMut(Value, OwnedSemaphorePermit) + Send + 'static,
    C: FnOnce() + Send + 'static,
{
    stream.set_nonblocking(true)?;
    let stream = Arc::new(UnixStream::from_std(stream)?);
    let (normal_tx, normal_rx) = mpsc::unbounded_channel::<Outgoing>();
    let (urgent_tx, urgent_rx) = mpsc::unbounded_channel::<String>();
    let (receipt_tx, receipt_rx) = mpsc::unbounded_channel::<Receipt>();
    tokio::spawn(write_loop(stream.clone(), normal_rx, urgent_rx, receipt_rx));

    // ACK/NACK replies pass everything queued, as in Node.
    let urgent = urgent_tx;
    tokio::spawn(async move {
        // What has been read and not handled yet; empty (and unallocated) while idle.
        let mut pending: Vec<u8> = Vec::new();
        // How much of `pending` is known to hold no line end: each byte is looked at once.
        let mut searched = 0;
        // Skipping the rest of a message over the size limit.
        let mut skipping = false;
        let mut fds: std::collections::VecDeque<OwnedFd> = Default::default();
        loop {
            match read_more(&stream, &mut pending, &mut fds).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let mut start = 0;
            while let Some(i) = pending[searched..].iter().position(|&b| b == b'\n') {
                let line = &pending[start..searched + i];
                start = searched + i + 1;
                searched = start;
                if std::mem::take(&mut skipping) {
                    continue;
                }
                if line.len() > MAX_IPC_MESSAGE {
                    report_oversized();
                    continue;
                }
                let Some(msg) = parse_line(line) else { continue };
                let msg = match msg.get("cmd").and_then(Value::as_str) {
                    Some("NODE_HANDLE_ACK") => {
                        let _ = receipt_tx.send(Receipt::Ack);
                        continue;
                    }
                    Some("NODE_HANDLE_NACK") => {
                        let _ = receipt_tx.send(Receipt::Nack);
                        continue;
                    }
                    Some("NODE_HANDLE") => {
                        // The daemon keeps no handle an app sends; it only acknowledges it.
                        let _ = urgent.send(if fds.pop_front().is_some() { ACK } else { NACK }.to_string());
                        match msg.get("msg") {
                            Some(inner) => inner.clone(),
                            None => continue,
                        }
                    }
                    _ => msg,
                };
                let Ok(permit) = waiting.clone().acquire_owned().await else { break };
                on_message(msg, permit);
            }
            pending.drain(..start);
            searched = pending.len();
            if pending.len() > MAX_IPC_MESSAGE {
                if !skipping {
                    report_oversized();
                }
                skipping = true;
                pending.clear();
                searched = 0;
            }
            if pending.is_empty() {
                pending = Vec::new();
            }
        }
        on_close();
    });
    Ok(IpcSender { normal: normal_tx })
}

fn report_oversized() {
    daemon_log!("dropped an IPC message that exceeds the {MAX_IPC_MESSAGE} byte limit");
}

/// Parses one line; a line that is not JSON, or nested too deep, is logged and dropped.
pub fn parse_line(line: &[u8]) -> Option<Value> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if let Err(e) = crate::limits::json_shape(line, MAX_JSON_DEPTH, usize::MAX) {
        daemon_log!("dropped an IPC message {e}");
        return None;
    }
    match serde_json::from_slice::<Value>(line) {
        Ok(v) => Some(v),
        Err(first) => {
            // Node escapes lone UTF-16 surrogates, which serde_json refuses.
            let text = String::from_utf8_lossy(line);
            match serde_json::from_str::<Value>(&replace_lone_surrogates(&text)) {
                Ok(v) => Some(v),
                Err(_) => {
                    daemon_log!("dropped an IPC message that is not valid JSON: {first}");
                    None
                }
            }
        }
    }
}

/// `\ud800` … `\udfff` escapes that do not form a pair become `\ufffd`.
fn replace_lone_surrogates(s: &str) -> String {
    let b = s.as_bytes();
    let escape_at = |i: usize| -> Option<u16> {
        if i + 6 <= b.len() && b[i] == b'\\' && b[i + 1] == b'u' {
            u16::from_str_radix(std::str::from_utf8(&b[i + 2..i + 6]).ok()?, 16).ok()
        } else {
            None
        }
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        // An escaped backslash is copied whole so that `\\ud800` stays literal text.
        if b[i] == b'\\' && i + 1 < b.len() && b[i + 1] == b'\\' {
            out.push_str("\\\\");
            i += 2;
            continue;
        }
        if let Some(u) = escape_at(i) {
            if (0xD800..0xDC00).contains(&u) && escape_at(i + 6).is_some_and(|l| (0xDC00..0xE000).contains(&l)) {
                out.push_str(&s[i..i + 12]);
                i += 12;
                continue;
            }
            if (0xD800..0xE000).contains(&u) {
                out.push_str("\\ufffd");
                i += 6;
                continue;
            }
        }
        // `i` only ever steps over whole characters, so it is on a character boundary.
        let Some(c) = s[i..].chars().next() else { break };
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// One `recvmsg`: bytes into `buf`, received descriptors onto `fds`.
/// Appends what the channel has to `pending` (descriptors to `fds`); 0 at its end.
async fn read_more(stream: &UnixStream, pending: &mut Vec<u8>, fds: &mut std::collections::VecDeque<OwnedFd>) -> std::io::Result<usize> {
    const CHUNK: usize = 16 * 1024;
    let raw = stream.as_raw_fd();
    loop {
        stream.readable().await?;
        // Room is made only once there is something to read: an idle channel holds no buffer.
        let filled = pending.len();
        pending.resize(filled + CHUNK, 0);
        let got = stream.try_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(&mut pending[filled..])];
            let mut space = nix::cmsg_space!([RawFd; 64]);
            let msg = recvmsg::<()>(raw, &mut iov, Some(&mut space), crate::platform::RECV_FLAGS).map_err(std::io::Error::from)?;
            if let Ok(cmsgs) = msg.cmsgs() {
                for cmsg in cmsgs {
                    if let ControlMessageOwned::ScmRights(received) = cmsg {
                        for fd in received {
                            crate::platform::received_descriptor(fd);
                            // SAFETY: the kernel just gave us this descriptor; we own it.
                            fds.push_back(unsafe { OwnedFd::from_raw_fd(fd) });
                        }
                    }
                }
            }
            Ok(msg.bytes)
        });
        pending.truncate(filled + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `bytes`, the descriptor (if any) riding on the first `sendmsg`.
async fn write_all(stream: &UnixStream, bytes: &[u8], handle: Option<RawFd>) -> std::io::Result<()> {
    let raw = stream.as_raw_fd();
    let mut sent = 0;
    while sent < bytes.len() {
        stream.writable().await?;
        let fds: Vec<RawFd> = if sent == 0 { handle.into_iter().collect() } else { Vec::new() };
        let result = stream.try_io(Interest::WRITABLE, || {
            let iov = [IoSlice::new(&bytes[sent..])];
            let cmsg = [ControlMessage::ScmRights(&fds)];
            let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
            sendmsg::<()>(raw, &iov, cmsgs, crate::platform::SEND_FLAGS, None).map_err(std::io::Error::from)
        });
        match result {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn write_loop(
    stream: Arc<UnixStream>,
    mut normal: mpsc::UnboundedReceiver<Outgoing>,
    mut urgent: mpsc::UnboundedReceiver<String>,
    mut receipts: mpsc::UnboundedReceiver<Receipt>,
) {
    let line = |s: &str| {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(b'\n');
        v
    };
    loop {
        let next = tokio::select! {
            biased;
            Some(reply) = urgent.recv() => {
                if write_all(&stream, &line(&reply), None).await.is_err() { return; }
                continue;
            }
            next = normal.recv() => next,
        };
        let Some(out) = next else { return };
        let bytes = line(&out.line);
        let Some(handle) = out.handle else {
            if write_all(&stream, &bytes, None).await.is_err() {
                return;
            }
            continue;
        };
        // One handle in flight: wait for its receipt, answering the app's own handles meanwhile.
        let mut tries = 0;
        loop {
            if write_all(&stream, &bytes, Some(handle.as_raw_fd())).await.is_err() {
                return;
            }
            tries += 1;
            let receipt = loop {
                tokio::select! {
                    biased;
                    Some(reply) = urgent.recv() => {
                        if write_all(&stream, &line(&reply), None).await.is_err() { return; }
                    }
                    r = receipts.recv() => break r,
                }
            };
            match receipt {
                Some(Receipt::Ack) => break,
                Some(Receipt::Nack) if tries < MAX_RETRIES => continue,
                Some(Receipt::Nack) => {
                    daemon_log!("an app refused a handle {MAX_RETRIES} times: dropped");
                    break;
                }
                None => return,
            }
        }
    }
}

/// Encodes a message for the channel.
pub fn encode(msg: &Value) -> String {
    serde_json::to_string(msg).expect("JSON values always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_replaced_and_pairs_kept() {
        let fixed = replace_lone_surrogates(r#"{"a":"x\ud800y","b":"\ud83d\ude00","c":"\\ud800"}"#);
        let v: Value = serde_json::from_str(&fixed).unwrap();
        assert_eq!(v["a"], "x\u{fffd}y");
        assert_eq!(v["b"], "😀");
        assert_eq!(v["c"], "\\ud800");
    }

    #[test]
    fn garbage_lines_are_dropped() {
        assert!(parse_line(b"not json").is_none());
        assert!(parse_line(b"").is_none());
        assert_eq!(parse_line(b"{\"a\":1}\r"), Some(serde_json::json!({"a": 1})));
    }

    #[test]
    fn messages_nested_past_the_limit_are_dropped() {
        let deep = format!("{{\"type\":\"axm:monitor\",\"data\":{}1{}}}", "{\"v\":".repeat(125), "}".repeat(125));
        assert!(parse_line(deep.as_bytes()).is_none());
        let ok = format!("{}1{}", "[".repeat(60), "]".repeat(60));
        assert!(parse_line(ok.as_bytes()).is_some());
    }

    #[tokio::test]
    async fn handles_travel_and_wait_for_their_ack() {
        let (ours, theirs) = StdUnixStream::pair().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sender = attach(ours, Arc::new(Semaphore::new(16)), move |m, _| drop(tx.send(m)), || {}).unwrap();
        let (a, _b) = StdUnixStream::pair().unwrap();
        sender.send_handle(&serde_json::json!({"cmd": "NODE_HANDLE", "msg": {"n": 1}}), OwnedFd::from(a)).unwrap();
        sender.send(&serde_json::json!({"n": 2})).unwrap();

        theirs.set_nonblocking(true).unwrap();
        let peer = UnixStream::from_std(theirs).unwrap();
        let mut buf = Vec::new();
        let mut fds = Default::default();
        read_more(&peer, &mut buf, &mut fds).await.unwrap();
        assert!(std::str::from_utf8(&buf).unwrap().starts_with("{\"cmd\":\"NODE_HANDLE\""));
        assert_eq!(fds.len(), 1, "the descriptor came with the message");
        // Nothing else is sent before the ACK.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(peer.try_read(&mut [0u8; 64]).is_err());
        write_all(&peer, b"{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"hello\":true}\n", None).await.unwrap();
        buf.clear();
        read_more(&peer, &mut buf, &mut fds).await.unwrap();
        assert_eq!(std::str::from_utf8(&buf).unwrap(), "{\"n\":2}\n");
        assert_eq!(rx.recv().await.unwrap(), serde_json::json!({"hello": true}));
    }
    /// Messages wait for a permit: with none free the channel is not read, and the app's
    /// messages stay in its own queue (here, the socket) until the daemon catches up.
    #[tokio::test]
    async fn without_a_free_permit_the_channel_waits_unread() {
        let (ours, mut theirs) = StdUnixStream::pair().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _sender = attach(ours, Arc::new(Semaphore::new(2)), move |m, permit| drop(tx.send((m, permit))), || {}).unwrap();
        use std::io::Write;
        for n in 0..5 {
            writeln!(theirs, "{{\"n\":{n}}}").unwrap();
        }
        let mut held = vec![rx.recv().await.unwrap(), rx.recv().await.unwrap()];
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(rx.try_recv().is_err(), "a third message was handed over while two wait");
        held.clear();
        for n in 2..5 {
            assert_eq!(rx.recv().await.unwrap().0, serde_json::json!({"n": n}));
        }
    }
}
