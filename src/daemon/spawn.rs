//! Starting one app process: its own process group, pm2's environment, stdout/stderr pipes,
//! and for Node apps a real IPC channel (a socketpair as `NODE_CHANNEL_FD`), with no wrapper
//! script between Node and the app.

use serde_json::{Map, Value};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::process::Stdio;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use crate::config::AppSpec;

/// The fd number Node's IPC channel uses in the child, as with `child_process.fork`.
const CHANNEL_FD: i32 = 3;

pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
    /// The daemon's end of the IPC channel.
    pub ipc: Option<StdUnixStream>,
}

fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn rejections_configured(spec: &AppSpec, env: &Map<String, Value>) -> bool {
    spec.node_args.iter().any(|a| a.starts_with("--unhandled-rejections"))
        || env.get("NODE_OPTIONS").and_then(Value::as_str).is_some_and(|o| o.contains("--unhandled-rejections"))
}

/// Spawns the app with exactly `env` (plus the channel variables for Node apps); a Node
/// app loads `preload` first.
pub fn spawn(spec: &AppSpec, env: &Map<String, Value>, preload: Option<&Path>, die_with_parent: bool) -> std::io::Result<Spawned> {
    let mut cmd = if spec.interpreter == "none" {
        Command::new(&spec.exec_path)
    } else {
        let mut c = Command::new(&spec.interpreter_path);
        if spec.is_node() && !rejections_configured(spec, env) {
            // As under pm2, an unhandled rejection is reported, not fatal.
            c.arg("--unhandled-rejections=warn");
        }
        if let Some(script) = preload.filter(|_| spec.is_node()) {
            c.arg("--require").arg(script);
        }
        c.args(&spec.node_args);
        c.arg(&spec.exec_path);
        c
    };
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    for (k, v) in env {
        if !v.is_object() && !v.is_array() && !k.is_empty() && !k.contains('=') {
            cmd.env(k, env_value(v));
        }
    }

    let channel = if spec.is_node() {
        let (parent, child) = StdUnixStream::pair()?;
        cmd.env("NODE_CHANNEL_FD", CHANNEL_FD.to_string());
        cmd.env("NODE_CHANNEL_SERIALIZATION_MODE", "json");
        Some((parent, OwnedFd::from(child)))
    } else {
        None
    };
    let child_fd = channel.as_ref().map(|(_, c)| c.as_raw_fd());

    // SAFETY: only async-signal-safe calls (dup2, fcntl, prctl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = child_fd {
                if fd == CHANNEL_FD {
                    // dup2 onto itself keeps CLOEXEC: clear it instead.
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, CHANNEL_FD) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if die_with_parent {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            }
            Ok(())
        });
    }

    let mut child = cmd.spawn()?;
    // The child has its copy now; ours must close so that we see EOF when it dies.
    let ipc = channel.map(|(parent, child_end)| {
        drop(child_end);
        parent
    });
    let pid = child.id().unwrap_or(0);
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok(Spawned { child, pid, stdin, stdout, stderr, ipc })
}
