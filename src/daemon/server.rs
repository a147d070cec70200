//! Client connections on `rpc.sock`: peer check, handshake, then requests answered
//! concurrently. A malformed frame closes that connection only.

use std::sync::Arc;
use std::time::Duration;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Mutex;

use super::{handlers, Daemon};
use crate::protocol::{self, Hello, Request, Response};

pub async fn serve(daemon: Arc<Daemon>, listener: UnixListener) {
    let mut shutdown = daemon.shutdown.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => { tokio::spawn(connection(daemon.clone(), stream)); }
                Err(e) => eprintln!("[pm2-daemon] accept failed: {e}"),
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
    loop {
        let req: Request = match protocol::read_frame(&mut reader).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                eprintln!("[pm2-daemon] closing a connection: {e}");
                return;
            }
        };
        let daemon = daemon.clone();
        let writer = writer.clone();
        tokio::spawn(async move {
            let is_kill = req.method == "kill";
            let result = handlers::dispatch(&daemon, &req.method, req.params).await;
            let frame = protocol::encode(&Response::from_result(req.id, result));
            {
                use tokio::io::AsyncWriteExt;
                let mut w = writer.lock().await;
                let _ = w.write_all(&frame).await;
                let _ = w.flush().await;
            }
            if is_kill {
                daemon.begin_shutdown();
            }
        });
    }
}
