//! Process trees: an app's descendants (to stop what escaped its process group), and the
//! orphans the daemon adopts as a child subreaper (to reap and kill them). The facts come
//! from the platform layer.

use crate::platform::{self, is_alive, pgid};
use std::collections::HashSet;

/// One process, told apart from a later one that reuses its pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    pub started: u64,
}

impl ProcessId {
    /// The process now running as `pid`.
    pub fn of(pid: u32) -> Option<Self> {
        Some(ProcessId { pid, started: platform::start_time(pid)? })
    }

    /// Sends `signal` if this process still runs; `Ok(false)` when it is gone or its pid
    /// now names another process, which is never hit.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> nix::Result<bool> {
        platform::signal_if_same(self.pid, self.started, signal)
    }
}

/// What stopping an app signals: its own process, its process group (when the stop reaches
/// the whole tree), and the processes found outside the group (descendants that moved to
/// another group or session, orphans it left to the daemon). Each process is known by its
/// start time, so a pid reused meanwhile is never hit; a process still in the group gets
/// the group's signal only, never the same signal twice.
#[derive(Debug, Clone)]
pub struct StopTargets {
    pub leader: ProcessId,
    pub group: Option<u32>,
    pub escaped: Vec<ProcessId>,
}

impl StopTargets {
    /// The app `leader`; with `treekill`, also its group and every process of its tree
    /// found now (`more`: orphans it left behind) that is outside the group.
    pub fn find(leader: ProcessId, treekill: bool, more: Vec<u32>) -> Self {
        if !treekill {
            return StopTargets { leader, group: None, escaped: Vec::new() };
        }
        let mut pids = descendants(leader.pid);
        pids.extend(more);
        pids.sort_unstable();
        pids.dedup();
        let escaped = pids.into_iter().filter(|&p| pgid(p) != Some(leader.pid)).filter_map(ProcessId::of).collect();
        StopTargets { leader, group: Some(leader.pid), escaped }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        if let Some(g) = self.group {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(-(g as i32)), signal);
        }
        for p in std::iter::once(&self.leader).chain(&self.escaped) {
            if self.group.is_none() || pgid(p.pid) != self.group {
                let _ = p.signal(signal);
            }
        }
    }

    /// The pids outside the group, to wait for.
    pub fn escaped_pids(&self) -> Vec<u32> {
        self.escaped.iter().map(|p| p.pid).collect()
    }
}

/// Every live descendant of `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        match platform::children(p) {
            Some(kids) => {
                for k in kids {
                    if out.len() < 4096 && !out.contains(&k) {
                        out.push(k);
                        stack.push(k);
                    }
                }
            }
            // Systems that cannot list one process's children: one snapshot of the whole table.
            None if p == root => return descendants_by_scan(root),
            None => {}
        }
    }
    out.retain(|p| is_alive(*p));
    out
}

fn descendants_by_scan(root: u32) -> Vec<u32> {
    let children = platform::children_by_parent();
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        if let Some(kids) = children.get(&p) {
            for &k in kids {
                out.push(k);
                stack.push(k);
            }
        }
    }
    out
}

/// Orphans the daemon adopted whose environment carries `marker` (an app's
/// `unique_id=...`, inherited by everything it started), with their descendants.
pub fn adopted_with_env(marker: &str, apps: &HashSet<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    for pid in platform::own_children() {
        if apps.contains(&pid) || !is_alive(pid) {
            continue;
        }
        if platform::environ_contains(pid, marker) {
            out.push(pid);
            out.extend(descendants(pid));
        }
    }
    out
}

/// Reaps adopted orphans that have exited. Apps (`known`) are left to their own waiters.
pub fn reap_orphans(known: &HashSet<u32>) {
    for pid in platform::own_children() {
        if !known.contains(&pid) && platform::is_zombie(pid) {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_signalled_only_while_its_start_time_matches() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let me = ProcessId::of(child.id()).unwrap();
        let impostor = ProcessId { started: me.started + 1, ..me };
        assert_eq!(impostor.signal(nix::sys::signal::Signal::SIGKILL), Ok(false), "another process under the same pid");
        assert!(is_alive(child.id()));
        assert_eq!(me.signal(nix::sys::signal::Signal::SIGKILL), Ok(true));
        child.wait().unwrap();
        assert_eq!(me.signal(nix::sys::signal::Signal::SIGKILL), Ok(false), "gone");
    }

    /// A child that left its parent's group is found and signalled by itself; one in the
    /// group is left to the group's signal.
    #[test]
    #[cfg_attr(not(target_os = "linux"), ignore = "needs util-linux's setsid command")]
    fn stop_targets_reach_a_child_outside_the_group() {
        use std::os::unix::process::CommandExt;
        let mut sh = std::process::Command::new("sh").arg("-c").arg("setsid sleep 30 & sleep 30 & wait").process_group(0).spawn().unwrap();
        let leader = ProcessId::of(sh.id()).unwrap();
        let mut targets = StopTargets::find(leader, true, Vec::new());
        for _ in 0..100 {
            if descendants(sh.id()).len() == 2 && !targets.escaped.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            targets = StopTargets::find(leader, true, Vec::new());
        }
        assert_eq!(targets.group, Some(sh.id()));
        assert_eq!(targets.escaped.len(), 1, "only the setsid child is outside the group");
        let outside = targets.escaped[0].pid;
        assert_ne!(pgid(outside), Some(sh.id()));
        targets.signal(nix::sys::signal::Signal::SIGKILL);
        sh.wait().unwrap();
        for _ in 0..100 {
            if !is_alive(outside) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!is_alive(outside), "the escaped child was killed too");
        assert!(!StopTargets::find(leader, false, Vec::new()).group.is_some());
    }

    #[test]
    fn finds_a_grandchild() {
        let mut child = std::process::Command::new("sh").arg("-c").arg("sleep 30 & wait").spawn().unwrap();
        let pid = child.id();
        let mut found = Vec::new();
        for _ in 0..100 {
            found = descendants(pid);
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(found.len(), 1, "the sleep under sh");
        assert!(is_alive(found[0]));
        for p in &found {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p as i32), nix::sys::signal::Signal::SIGKILL);
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_alive(pid));
        assert!(platform::own_children().iter().all(|c| *c != pid));
    }
}
