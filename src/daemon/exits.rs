//! Waiting for processes that are not the daemon's direct children (an app's own children,
//! orphans it adopted) to end, without polling where the system can say when a process exits;
//! and, once an app's own process is gone, ending what is left of its tree.

use crate::platform;
use std::time::Duration;

/// True if every one of `pids` ended within `limit`.
pub async fn all_gone(pids: &[u32], limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        for &pid in pids {
            platform::exited(pid).await;
        }
    })
    .await
    .is_ok()
}

/// After the leader of an app is gone, give the rest of its group and its escaped
/// descendants the same grace, then SIGKILL what is left, so no grandchild outlives it.
/// Each wait is on exits; the group is looked at again only after they came.
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
        // A zombie keeps its group "alive" to kill(0) until it is reaped: ask for the live ones.
        waiting = platform::group_members(pgid);
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
        assert_eq!(platform::group_members(pgid), vec![pgid]);
        leader.kill().unwrap();
        // Dead but not reaped yet: a zombie is no member.
        std::thread::sleep(Duration::from_millis(50));
        assert!(platform::group_members(pgid).is_empty());
        leader.wait().unwrap();
    }
}
