//! The daemon's end of a Node app's IPC channel (`json` serialization: one JSON document per
//! line). One reader per channel, read promptly; a line that is not valid JSON is dropped
//! without closing the channel; the daemon never writes a blank or invalid line.

use serde_json::Value;
use std::os::unix::net::UnixStream as StdUnixStream;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

/// Starts the reader and writer tasks of one channel. Returns the sender for outgoing
/// messages; `on_message` gets every message the app sends, in order.
pub fn attach<F>(stream: StdUnixStream, mut on_message: F) -> std::io::Result<mpsc::UnboundedSender<String>>
where
    F: FnMut(Value) + Send + 'static,
{
    stream.set_nonblocking(true)?;
    let stream = UnixStream::from_std(stream)?;
    let (read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();

    tokio::spawn(async move {
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });

    let ack = tx.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(read).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    let line = line.trim_end_matches('\r');
                    if line.is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(line) {
                        Ok(msg) => {
                            // Node queues everything after a handle until it is acknowledged.
                            if msg.get("cmd").and_then(Value::as_str) == Some("NODE_HANDLE") {
                                let _ = ack.send(r#"{"cmd":"NODE_HANDLE_ACK"}"#.to_string());
                            }
                            on_message(msg)
                        }
                        Err(e) => eprintln!("[pm2-daemon] dropped an IPC message that is not valid JSON: {e}"),
                    }
                }
                Ok(None) => break,
                // Invalid UTF-8 in a line: skip it, keep reading.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
                Err(_) => break,
            }
        }
    });
    Ok(tx)
}

/// Encodes a message for the channel.
pub fn encode(msg: &Value) -> String {
    serde_json::to_string(msg).expect("JSON values always serialise")
}
