//! Taking a `PM2_HOME` over from a running original (Node) pm2 daemon, as `pm2 update` does
//! between two pm2 versions: read its process list, save it as `dump.pm2`, stop its apps and
//! the daemon as `pm2 kill` would; the caller then starts this daemon and resurrects.
//!
//! The original daemon answers on `$PM2_HOME/rpc.sock`, an axon req/rep socket: each
//! message is an AMP frame (a byte `version << 4 | argc`, then per argument a big-endian
//! u32 length and the bytes), arguments tagged `j:` (JSON) or `s:` (string). A request is
//! `[j:{type: "call", method, args}, s:<id>]`; its reply `[j:{args} | j:{error}, s:<id>]`.

use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::home::Home;

/// How long one request to the original daemon may take (deleting an app waits for its
/// `kill_timeout`).
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// How long the original daemon may take to exit once told to.
const EXIT_LIMIT: Duration = Duration::from_secs(15);
/// AMP's protocol version.
const AMP_VERSION: u8 = 1;

/// The pid of the original pm2 daemon running for `home`, if one is: the pid in `pm2.pid`
/// names a live process titled "PM2 ... God Daemon".
pub fn original_daemon(home: &Home) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(home.pid_file()).ok()?.trim().parse().ok()?;
    crate::platform::command_line(pid)?.contains("God Daemon").then_some(pid)
}

/// One AMP message: its arguments.
fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![(AMP_VERSION << 4) | args.len() as u8];
    for a in args {
        out.extend_from_slice(&(a.len() as u32).to_be_bytes());
        out.extend_from_slice(a);
    }
    out
}

async fn read_message(sock: &mut UnixStream) -> std::io::Result<Vec<Vec<u8>>> {
    let argc = sock.read_u8().await? & 0x0f;
    let mut args = Vec::with_capacity(argc as usize);
    for _ in 0..argc {
        let len = sock.read_u32().await? as usize;
        if len > crate::limits::MAX_ORIGINAL_ANSWER {
            return Err(std::io::Error::other(format!("an answer of {len} bytes is more than a process list")));
        }
        let mut arg = vec![0; len];
        sock.read_exact(&mut arg).await?;
        args.push(arg);
    }
    Ok(args)
}

/// A connection to an original daemon's RPC socket.
struct OriginalRpc {
    sock: UnixStream,
    next_id: u64,
}

impl OriginalRpc {
    async fn connect(home: &Home) -> Result<Self, String> {
        let sock = UnixStream::connect(home.rpc_socket()).await.map_err(|e| format!("Cannot reach the original pm2 daemon at {}: {e}", home.rpc_socket().display()))?;
        Ok(OriginalRpc { sock, next_id: 0 })
    }

    /// Sends `method(args...)` without waiting for the answer.
    async fn send(&mut self, method: &str, args: Value) -> Result<String, String> {
        let id = format!("pm2-rs:{}", self.next_id);
        self.next_id += 1;
        let call = json!({"type": "call", "method": method, "args": args});
        let frame = encode(&[format!("j:{call}").into_bytes(), format!("s:{id}").into_bytes()]);
        self.sock.write_all(&frame).await.map_err(|e| format!("Cannot talk to the original pm2 daemon: {e}"))?;
        Ok(id)
    }

    /// Calls `method(args...)` and answers what it called back with after `err`.
    async fn call(&mut self, method: &str, args: Value) -> Result<Vec<Value>, String> {
        let id = self.send(method, args).await?;
        let answer = async {
            loop {
                let mut reply = read_message(&mut self.sock).await.map_err(|e| format!("The original pm2 daemon did not answer {method}: {e}"))?;
                if reply.last().map(|a| a.as_slice()) != Some(format!("s:{id}").as_bytes()) {
                    continue;
                }
                reply.pop();
                let body = reply.first().and_then(|a| a.strip_prefix(b"j:")).ok_or_else(|| format!("The original pm2 daemon answered {method} with something else than JSON"))?;
                let body: Value = serde_json::from_slice(body).map_err(|e| format!("The original pm2 daemon answered {method} with bad JSON: {e}"))?;
                if let Some(error) = body.get("error") {
                    return Err(format!("The original pm2 daemon refused {method}: {}", error.as_str().map(str::to_string).unwrap_or_else(|| error.to_string())));
                }
                return Ok(body.get("args").and_then(Value::as_array).cloned().unwrap_or_default());
            }
        };
        tokio::time::timeout(CALL_LIMIT, answer).await.map_err(|_| format!("The original pm2 daemon did not answer {method} within {} s", CALL_LIMIT.as_secs()))?
    }
}

/// What a takeover found and did.
pub struct TakeOver {
    /// The original daemon's pid (gone now).
    pub old_pid: u32,
    /// The apps saved to `dump.pm2` for the new daemon to resurrect.
    pub saved: usize,
}

/// Saves the original daemon's apps as `dump.pm2` (as its `pm2 save` would: every app but
/// pm2 modules, the previous dump kept as `.bak`), then stops its apps and the daemon (as
/// its `pm2 kill` would) and waits until it is gone.
pub async fn take_over(home: &Home, old_pid: u32) -> Result<TakeOver, String> {
    let mut rpc = OriginalRpc::connect(home).await?;
    let list = rpc.call("getMonitorData", json!([{}])).await?.into_iter().next().unwrap_or(Value::Null);
    let procs = list.as_array().cloned().unwrap_or_default();
    let entries: Vec<Value> = procs.iter().filter(|p| p["pm2_env"]["pmx_module"] != json!(true)).map(|p| p["pm2_env"].clone()).collect();
    crate::daemon::dump::save(home, &entries)?;

    // No app restarts while the daemon is being killed (notifyKillPM2 answers nothing); then
    // every app goes, then the daemon.
    rpc.send("notifyKillPM2", json!([{}])).await?;
    for id in procs.iter().filter_map(|p| p["pm_id"].as_u64().or_else(|| p["pm2_env"]["pm_id"].as_u64())) {
        rpc.call("deleteProcessId", json!([id])).await?;
    }
    // killMe answers nothing (it closes the socket); without a `pid` it signals no caller.
    rpc.send("killMe", json!([{}])).await?;
    let deadline = tokio::time::Instant::now() + EXIT_LIMIT;
    while crate::platform::is_alive(old_pid) {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("The original pm2 daemon (pid {old_pid}) stopped its apps but did not exit within {} s", EXIT_LIMIT.as_secs()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Its sockets and pid file, if it left them: nobody listens there any more.
    for file in [home.rpc_socket(), home.pub_socket(), home.pid_file()] {
        let _ = std::fs::remove_file(file);
    }
    Ok(TakeOver { old_pid, saved: entries.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amp_message_is_a_count_then_length_prefixed_arguments() {
        let frame = encode(&[b"j:{}".to_vec(), b"s:a".to_vec()]);
        assert_eq!(frame, [&[0x12u8][..], &[0, 0, 0, 4], b"j:{}", &[0, 0, 0, 3], b"s:a"].concat());
    }

    #[tokio::test]
    async fn a_reply_is_read_back_argument_by_argument() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        b.write_all(&encode(&[b"j:{\"args\":[1]}".to_vec(), b"s:x:0".to_vec()])).await.unwrap();
        let args = read_message(&mut a).await.unwrap();
        assert_eq!(args, vec![b"j:{\"args\":[1]}".to_vec(), b"s:x:0".to_vec()]);
    }
}
