//! Waiting for processes that are not the daemon's direct children (an app's own children,
//! orphans it adopted) to end, without polling: a pidfd becomes readable when its process exits;
//! and, once an app's own process is gone, ending what is left of its tree.

#[cfg(target_os = "linux")]
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;
#[cfg(target_os = "linux")]
use tokio::io::{unix::AsyncFd, Interest};

/// Resolves once `pid` has ended (at once if it is gone already).
pub async fn gone(pid: u32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: the descriptor was just opened and is owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
            // SAFETY: the OwnedFd stays open and unchanged for as long as the AsyncFd owns it.
            if let Ok(fd) = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                let _ = fd.readable().await;
            }
            return;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS) {
            return; // ESRCH: gone already
        }
    }
    // No pidfds (a kernel before 5.3): check on a short timer instead.
    while super::tree::is_alive(pid) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// True if every one of `pids` ended within `limit`.
pub async fn all_gone(pids: &[u32], limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        for &pid in pids {
            gone(pid).await;
        }
    })
    .await
    .is_ok()
}

/// The live (not zombie) members of process group `pgid`, from a scan of `/proc`: only
/// needed when a group outlives every member the daemon knew of.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            let Some(rest) = super::tree::stat_fields(pid) else { return false };
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("Z");
            state != "Z" && state != "X" && f.nth(1).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        })
        .collect()
}

/// After the leader of an app is gone, give the rest of its group and its escaped
/// descendants the same grace, then SIGKILL what is left, so no grandchild outlives it.
/// Each wait is on exits (pidfds); the group is looked at again only after they came.
pub async fn finish_tree(targets: &super::tree::StopTargets, grace: Duration) {
    let Some(pgid) = targets.group else { return };
    let group = nix::unistd::Pid::from_raw(-(pgid as i32));
    let deadline = tokio::time::Instant::now() + grace;
    let mut waiting = targets.escaped_pids();
    loop {
        if !all_gone(&waiting, deadline.saturating_duration_since(tokio::time::Instant::now())).await {
            break;
        }
        if nix::sys::signal::kill(group, None).is_err() {
            return;
        }
        // A zombie keeps its group "alive" to kill(0) until it is reaped: ask /proc.
        waiting = group_members(pgid);
        if waiting.is_empty() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    targets.signal(nix::sys::signal::Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_exit_is_seen_and_a_live_process_is_waited_for() {
        let mut child = std::process::Command::new("sleep").arg("0.2").spawn().unwrap();
        let pid = child.id();
        assert!(!all_gone(&[pid], Duration::from_millis(20)).await);
        let reaper = std::thread::spawn(move || child.wait());
        assert!(all_gone(&[pid], Duration::from_secs(5)).await);
        reaper.join().unwrap().unwrap();
        // Gone already (and reaped): no wait at all.
        assert!(all_gone(&[pid], Duration::from_millis(1)).await);
    }

    #[test]
    fn group_members_are_found_and_zombies_are_not() {
        use std::os::unix::process::CommandExt;
        let mut leader = std::process::Command::new("sleep").arg("5").process_group(0).spawn().unwrap();
        let pgid = leader.id();
        assert_eq!(group_members(pgid), vec![pgid]);
        leader.kill().unwrap();
        // Dead but not reaped yet: a zombie is no member.
        std::thread::sleep(Duration::from_millis(50));
        assert!(group_members(pgid).is_empty());
        leader.wait().unwrap();
    }
}
