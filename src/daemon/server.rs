//! Client connections on `rpc.sock`: peer check, handshake, then requests answered
//! concurrently. A malformed frame closes that connection only.

use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Mutex;

use super::bus::Frame;
use super::{handlers, Daemon};
use crate::protocol::{self, Hello, Request, Response};

/// The pause after a failed `accept` (EMFILE and the like) before the next.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub async fn serve(daemon: Arc<Daemon>, listener: UnixListener) {
    let mut shutdown = daemon.shutdown.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(connection(daemon.clone(), stream)); }
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

async fn connection(daemon: Arc<Daemon>, stream: UnixStream) {
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
        let req: Request = match protocol::read_frame(&mut reader).await {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                daemon_log!("closing a connection: {e}");
                break;
            }
        };
        if req.method == "subscribe" && subscription.is_none() {
            let (id, events) = daemon.bus.subscribe();
            subscription = Some(id);
            let frame = protocol::encode(&Response::from_result(req.id, Ok(serde_json::json!({"subscribed": true}))));
            writer.lock().await.write_all(&frame).await.ok();
            tokio::spawn(forward_events(events, writer.clone()));
            continue;
        }
        let daemon = daemon.clone();
        let writer = writer.clone();
        tokio::spawn(async move {
            let is_kill = req.method == "kill";
            let frame = match handlers::dispatch(&daemon, &req.method, req.params).await {
                Ok(handlers::Answer::Json(text)) => protocol::encode_json_result(req.id, &text),
                Ok(handlers::Answer::Value(v)) => protocol::encode(&Response::from_result(req.id, Ok(v))),
                Err(e) => protocol::encode(&Response::from_result(req.id, Err(e))),
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

/// Writes a subscriber's events in order, several per write when they queue up.
async fn forward_events(mut events: tokio::sync::mpsc::Receiver<Frame>, writer: Arc<Mutex<OwnedWriteHalf>>) {
    let mut batch = Vec::with_capacity(64 * 1024);
    while let Some(first) = events.recv().await {
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < 256 * 1024 {
            match events.try_recv() {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        if writer.lock().await.write_all(&batch).await.is_err() {
            return;
        }
    }
}
