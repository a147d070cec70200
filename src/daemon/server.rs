//! Client connections on `rpc.sock`: peer check, handshake, then requests answered
//! concurrently, each in its own task. A malformed frame closes that connection only; a
//! request whose handling fails, even by a panic, gets an error reply and nothing else.
//! At most `max_connections` clients are served at once; one more is told so and closed.
//!
//! A connection ends when its client's end does (EOF on the reading side), whatever it is
//! doing: its socket, its bus subscription, backlog and spool file are released at once.

use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{oneshot, Mutex, OwnedSemaphorePermit, Semaphore};

use super::backlog::Backlog;
use super::{handlers, Daemon};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

use crate::protocol::{self, Hello, Request, RequestFrame, Response};

/// The pause after a failed `accept` (EMFILE and the like) before the next.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

type Writer = Mutex<OwnedWriteHalf>;

pub async fn serve(daemon: Arc<Daemon>, listener: UnixListener) {
    let mut shutdown = daemon.shutdown.subscribe();
    let limit = daemon.settings.max_connections;
    // One permit per connection served, held for as long as it is open.
    let places = Arc::new(Semaphore::new(limit));
    // Refusals are logged once per episode, not once per client.
    let mut refusing = false;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match places.clone().try_acquire_owned() {
                    Ok(place) => {
                        if std::mem::take(&mut refusing) {
                            daemon_log!("accepting clients again");
                        }
                        tokio::spawn(connection(daemon.clone(), stream, place));
                    }
                    Err(_) => {
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

async fn connection(daemon: Arc<Daemon>, stream: UnixStream, _place: OwnedSemaphorePermit) {
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
    // The only strong handle on the writing half: requests still being served hold a weak
    // one, so the socket closes with the connection and their late answers are dropped.
    let writer = Arc::new(Mutex::new(writer));
    let (subscribed, events) = oneshot::channel();
    let forwarding = async {
        if let Ok(backlog) = events.await {
            forward_events(backlog, &writer).await;
        }
        // A subscription that ended (told so, or its client gone) leaves the end of the
        // connection to the reading side.
        std::future::pending::<()>().await
    };
    tokio::select! {
        () = serve_requests(&daemon, reader, Arc::downgrade(&writer), subscribed) => {}
        () = forwarding => {}
    }
}

/// Reads requests until the client's end, answering each in its own task; the first
/// `subscribe` hands the new backlog to the connection's forwarder. The subscription is
/// dropped from the bus when this returns or is dropped.
async fn serve_requests(daemon: &Arc<Daemon>, mut reader: OwnedReadHalf, writer: Weak<Writer>, subscribed: oneshot::Sender<Arc<Backlog>>) {
    let mut subscribed = Some(subscribed);
    // Held, never read, until this returns or is dropped: dropping it unsubscribes.
    let mut _subscription = None;
    loop {
        let frame: RequestFrame = match protocol::read_frame(&mut reader).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                daemon_log!("closing a connection: {e}");
                return;
            }
        };
        let id = frame.id;
        let request = Request::parse(&frame.method, frame.params);
        if matches!(request, Ok(Request::Subscribe)) {
            if let Some(subscribed) = subscribed.take() {
                let subscription = daemon.bus.subscribe(daemon.home.root.clone(), daemon.settings.bus_limits);
                let frame = protocol::encode(&Response::from_result(id, Ok(serde_json::json!({"subscribed": true}))));
                write_answer(&writer, &frame).await;
                let _ = subscribed.send(subscription.backlog());
                _subscription = Some(subscription);
                continue;
            }
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
            write_answer(&writer, &frame).await;
            if is_kill {
                daemon.begin_shutdown();
            }
        });
    }
}

/// Writes an answer, unless its connection has ended meanwhile.
async fn write_answer(writer: &Weak<Writer>, frame: &[u8]) {
    if let Some(writer) = writer.upgrade() {
        let mut w = writer.lock().await;
        let _ = w.write_all(frame).await;
        let _ = w.flush().await;
    }
}

/// Writes a subscriber's events in order, as much as is waiting per write. A backlog that
/// failed closes the connection's writing side, which the client reports.
async fn forward_events(events: Arc<Backlog>, writer: &Writer) {
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
