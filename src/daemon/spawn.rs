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

/// The user and groups an app runs as when it asks (`uid` / `user`, `gid`).
#[derive(Debug, PartialEq)]
pub struct Identity {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups: the user's own (as `initgroups` sets them), else just `gid`.
    pub groups: Vec<libc::gid_t>,
}

fn numeric(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Resolves `uid` / `gid` (names or numbers) for an app run by a daemon whose effective
/// ids are `(euid, egid)`. `None`: run as the daemon. Only root can switch.
pub fn identity(name: &str, uid: Option<&Value>, gid: Option<&Value>, euid: u32, egid: u32) -> Result<Option<Identity>, String> {
    use nix::unistd::{Group, Uid, User};
    let user = match uid {
        None | Some(Value::Null) => None,
        Some(v) => Some(match numeric(v) {
            Some(n) => (n, User::from_uid(Uid::from_raw(n)).ok().flatten()),
            None => {
                let wanted = v.as_str().unwrap_or_default();
                let u = User::from_name(wanted)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("Cannot start {name} as user \"{wanted}\": there is no such user"))?;
                (u.uid.as_raw(), Some(u))
            }
        }),
    };
    let group = match gid {
        None | Some(Value::Null) => None,
        Some(v) => Some(match numeric(v) {
            Some(n) => n,
            None => {
                let wanted = v.as_str().unwrap_or_default();
                Group::from_name(wanted)
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("Cannot start {name} as group \"{wanted}\": there is no such group"))?
                    .gid
                    .as_raw()
            }
        }),
    };
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let uid = user.as_ref().map_or(euid, |(n, _)| *n);
    let gid = group.or_else(|| user.as_ref().and_then(|(_, u)| u.as_ref()).map(|u| u.gid.as_raw())).unwrap_or(egid);
    if uid == euid && gid == egid && euid != 0 {
        return Ok(None);
    }
    if euid != 0 {
        return Err(format!(
            "Cannot start {name} as uid {uid} / gid {gid}: the daemon runs as uid {euid}, and only a daemon running as root can switch users"
        ));
    }
    let groups = match user.as_ref().and_then(|(_, u)| u.as_ref()) {
        Some(u) => std::ffi::CString::new(u.name.as_str())
            .ok()
            .and_then(|n| crate::platform::group_list(&n, gid))
            .unwrap_or_else(|| vec![gid]),
        None => vec![gid],
    };
    Ok(Some(Identity { uid, gid, groups }))
}

fn rejections_configured(spec: &AppSpec, env: &Map<String, Value>) -> bool {
    spec.node_args.iter().any(|a| a.starts_with("--unhandled-rejections"))
        || env.get("NODE_OPTIONS").and_then(Value::as_str).is_some_and(|o| o.contains("--unhandled-rejections"))
}

/// Spawns the app with exactly `env` (plus the channel variables for Node apps); a Node
/// app loads `preload` first.
pub fn spawn(spec: &AppSpec, env: &Map<String, Value>, preload: Option<&Path>, die_with_parent: bool) -> std::io::Result<Spawned> {
    let who = identity(&spec.name, spec.options.get("uid"), spec.options.get("gid"), nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
        .map_err(std::io::Error::other)?;
    // The preload lives in the private PM2_HOME, which another user cannot read.
    let preload = preload.filter(|_| who.is_none());
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

    // SAFETY: only async-signal-safe calls (dup2, fcntl, setgroups, setgid, setuid, and
    // platform::die_with_parent, a prctl on Linux) between fork and exec.
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
            if let Some(who) = &who {
                // Groups first: after setuid the process may no longer change them.
                if libc::setgroups(who.groups.len() as _, who.groups.as_ptr()) == -1
                    || libc::setgid(who.gid) == -1
                    || libc::setuid(who.uid) == -1
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // After setuid, which clears it.
            if die_with_parent {
                crate::platform::die_with_parent();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn users_and_groups_resolve_by_name_or_number() {
        let root = identity("a", Some(&json!("root")), None, 0, 0).unwrap().unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        let n = identity("a", Some(&json!(4321)), Some(&json!("4322")), 0, 0).unwrap().unwrap();
        assert_eq!(n, Identity { uid: 4321, gid: 4322, groups: vec![4322] });
        assert_eq!(identity("a", None, None, 0, 0).unwrap(), None);
        let e = identity("a", Some(&json!("no-such-user-pm2rs")), None, 0, 0).unwrap_err();
        assert!(e.contains("user \"no-such-user-pm2rs\""), "{e}");
        let e = identity("a", None, Some(&json!("no-such-group-pm2rs")), 0, 0).unwrap_err();
        assert!(e.contains("group \"no-such-group-pm2rs\""), "{e}");
    }

    #[test]
    fn only_root_switches_users() {
        let e = identity("a", Some(&json!(0)), None, 1000, 1000).unwrap_err();
        assert!(e.contains("only a daemon running as root can switch users"), "{e}");
        // Asking for who the daemon already is needs no switch.
        assert_eq!(identity("a", Some(&json!(1000)), Some(&json!(1000)), 1000, 1000).unwrap(), None);
    }
}
