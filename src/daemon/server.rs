//! Client connections on `rpc.sock`: peer check, handshake, then requests answered
//! concurrently, each in its own task. A malformed frame closes that connection only; a
//! request whose handling fails, even by a panic, gets an error reply and nothing else.
//! At most `max_connections` clients are served at once; one more is told so and closed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Mutex;

use super::backlog::Backlog;
use super::{handlers, Daemon};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

use crate::protocol::{self, Hello, Request, RequestFrame, Response};

/// The pause after a failed `accept` (EMFILE and the like) before the next.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One of the `max_connections` places, held for as long as its connection is open.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, limit: usize) -> Option<Slot> {
        open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < limit).then_some(n + 1)).ok().map(|_| Slot(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub async fn serve(daemon: Arc<Daemon>, listener: UnixListener) {
    let mut shutdown = daemon.shutdown.subscribe();
    let open = Arc::new(AtomicUsize::new(0));
    let limit = daemon.settings.max_connections;
    // Refusals are logged once per episode, not once per client.
    let mut refusing = false;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match Slot::take(&open, limit) {
                    Some(slot) => {
                        if std::mem::take(&mut refusing) {
                            daemon_log!("accepting clients again");
                        }
                        tokio::spawn(connection(daemon.clone(), stream, slot));
                    }
                    None => {
                        if !std::mem::replace(&mut refusing, true) {
                            daemon_log!("refusing new clients: {limit} are connected, the limit (PM2_MAX_CONNECTIONS)");
                        }
                        tokio::spawn(refuse(stream, limit));
                    }
                },
                Err(e) => {
                    daemon_log!("accept failed: {e}");
                    // Out of descriptors: retrying at once would only spin (and fill the log).
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// Tells a client past the limit why it is not served: its handshake is answered with the
/// reason, which the client reports as its error.
async fn refuse(stream: UnixStream, limit: usize) {
    let (mut reader, mut writer) = stream.into_split();
    // Read its hello first: closing on unread data would reset the connection before the
    // client has read the answer.
    let _ = tokio::time::timeout(Duration::from_secs(1), protocol::read_frame::<_, Hello>(&mut reader)).await;
    let why = format!(
        "The PM2 daemon already serves {limit} clients, its limit (PM2_MAX_CONNECTIONS): this connection was refused. Close some clients, or start the daemon with a higher PM2_MAX_CONNECTIONS."
    );
    let _ = protocol::write_frame(&mut writer, &Hello { refused: Some(why), ..Hello::ours() }).await;
}

async fn connection(daemon: Arc<Daemon>, stream: UnixStream, _slot: Slot) {
    // Only the daemon's own user may drive it.
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == nix::unistd::getuid().as_raw() => {}
        _ => return,
    }
    let (mut reader, mut writer) = stream.into_split();
    let hello = tokio::time::timeout(Duration::from_secs(10), protocol::read_frame::<_, Hello>(&mut reader)).await;
    // Answer even a mismatched hello, so that the client can say what is wrong.
    let _ = protocol::write_frame(&mut writer, &Hello::ours()).await;
    match hello {
        Ok(Ok(Some(h))) if h.hello == protocol::PROTOCOL_NAME && h.protocol == protocol::PROTOCOL_VERSION => {}
        _ => return,
    }
    let writer = Arc::new(Mutex::new(writer));
    let mut subscription = None;
    loop {
        let frame: RequestFrame = match protocol::read_frame(&mut reader).await {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                daemon_log!("closing a connection: {e}");
                break;
            }
        };
        let id = frame.id;
        let request = Request::parse(&frame.method, frame.params);
        if matches!(request, Ok(Request::Subscribe)) && subscription.is_none() {
            let (sub, events) = daemon.bus.subscribe(daemon.home.root.clone(), daemon.settings.bus_limits);
            subscription = Some(sub);
            let frame = protocol::encode(&Response::from_result(id, Ok(serde_json::json!({"subscribed": true}))));
            writer.lock().await.write_all(&frame).await.ok();
            tokio::spawn(forward_events(events, writer.clone()));
            continue;
        }
        let daemon = daemon.clone();
        let writer = writer.clone();
        tokio::spawn(async move {
            let is_kill = matches!(request, Ok(Request::Kill));
            let answer = match request {
                Ok(request) => AssertUnwindSafe(handlers::dispatch(&daemon, request))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err("Internal error in the PM2 daemon while serving this request; the daemon and its apps keep running".into())),
                Err(e) => Err(e),
            };
            let frame = match answer {
                Ok(handlers::Answer::Json(text)) => protocol::encode_json_result(id, &text),
                Ok(handlers::Answer::Value(v)) => protocol::encode(&Response::from_result(id, Ok(v))),
                Err(e) => protocol::encode(&Response::from_result(id, Err(e))),
            };
            {
                let mut w = writer.lock().await;
                let _ = w.write_all(&frame).await;
                let _ = w.flush().await;
            }
            if is_kill {
                daemon.begin_shutdown();
            }
        });
    }
    if let Some(id) = subscription {
        daemon.bus.unsubscribe(id);
    }
}

/// Writes a subscriber's events in order, as much as is waiting per write. A backlog that
/// failed closes the connection's writing side, which the client reports.
async fn forward_events(events: Arc<Backlog>, writer: Arc<Mutex<OwnedWriteHalf>>) {
    let mut batch = Vec::with_capacity(256 * 1024);
    loop {
        batch.clear();
        if let Err(reason) = events.next(&mut batch, 256 * 1024).await {
            // The last word, after what it had already received: the client reconnects.
            daemon_log!("dropping a bus subscriber: it {reason}");
            let last = protocol::encode(&protocol::Event { event: "bus:dropped".into(), data: serde_json::json!({ "reason": reason }) });
            let mut w = writer.lock().await;
            let _ = w.write_all(&last).await;
            let _ = w.shutdown().await;
            return;
        }
        if writer.lock().await.write_all(&batch).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::client::{connect, Launch};
    use crate::home::Home;
    use serde_json::{json, Value};

    /// A request that panics, in its own task or inside the supervisor, gets an error reply;
    /// the next request is served and the app it was started with is still the same process.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_harms_nothing_else() {
        let dir = std::env::temp_dir().join(format!("pm2rs-panic-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.sh"), "exec sleep 60\n").unwrap();
        let home = Home::new(dir.join("home"));
        let (conn, _) = connect(&home, &Launch::InProcess).await.unwrap();
        let context = json!({"cwd": dir, "env": {"PATH": std::env::var("PATH").unwrap_or_default()}});
        conn.call("start", json!({"apps": [{"script": "app.sh", "name": "steady"}], "mode": "json", "context": context})).await.unwrap();
        let online = |list: &Value| list[0]["pm2_env"]["status"] == "online";
        let before = conn.call("list", Value::Null).await.unwrap();
        assert!(online(&before), "{before}");

        for place in ["request", "supervisor"] {
            let err = conn.call("panic", json!({"in": place})).await.unwrap_err();
            assert!(err.contains("Internal error"), "{place}: {err}");
            let after = conn.call("list", Value::Null).await.unwrap();
            assert!(online(&after), "{place}: {after}");
            assert_eq!(after[0]["pid"], before[0]["pid"]);
        }
        // The supervisor still changes state: stop and start work.
        let stopped = conn.call("stop", json!({"target": "steady"})).await.unwrap();
        assert_eq!(stopped[0]["pm2_env"]["status"], "stopped");
        conn.call("kill", Value::Null).await.unwrap();
        conn.wait_daemon_exit(std::time::Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
