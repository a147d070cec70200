//! Process trees from `/proc`: an app's descendants (to stop what escaped its process
//! group), and the orphans the daemon adopts as a child subreaper (to reap and kill them).

use std::collections::{HashMap, HashSet};

/// The fields of `/proc/<pid>/stat` after the command name, which may hold spaces and
/// parentheses: 0 state, 1 ppid, 11 utime, 12 stime, 19 starttime, 21 rss (pages).
pub fn stat_fields(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(text[text.rfind(')')? + 2..].to_string())
}

/// `(state, ppid)` of a pid.
fn stat(pid: u32) -> Option<(char, u32)> {
    let rest = stat_fields(pid)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Running (a zombie is as good as dead).
pub fn is_alive(pid: u32) -> bool {
    matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// The children of `pid`, from its threads' `children` files (no scan of `/proc`).
fn children_of(pid: u32) -> Option<Vec<u32>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut out = Vec::new();
    let mut readable = false;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            readable = true;
            out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    readable.then_some(out)
}

/// Every live descendant of `root`.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        match children_of(p) {
            Some(kids) => {
                for k in kids {
                    if out.len() < 4096 && !out.contains(&k) {
                        out.push(k);
                        stack.push(k);
                    }
                }
            }
            // Kernels without `children` files: one snapshot of the whole table.
            None if p == root => return descendants_by_scan(root),
            None => {}
        }
    }
    out.retain(|p| is_alive(*p));
    out
}

fn descendants_by_scan(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some((state, ppid)) = stat(pid) {
                if state != 'Z' {
                    children.entry(ppid).or_default().push(pid);
                }
            }
        }
    }
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

/// The daemon's own children (apps, and orphans it adopted).
pub fn own_children() -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// Orphans the daemon adopted whose environment carries `marker` (an app's
/// `unique_id=...`, inherited by everything it started), with their descendants.
pub fn adopted_with_env(marker: &str, apps: &HashSet<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    for pid in own_children() {
        if apps.contains(&pid) || !is_alive(pid) {
            continue;
        }
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if environ.split(|b| *b == 0).any(|entry| entry == marker.as_bytes()) {
            out.push(pid);
            out.extend(descendants(pid));
        }
    }
    out
}

/// Reaps adopted orphans that have exited. Apps (`known`) are left to their own waiters.
pub fn reap_orphans(known: &HashSet<u32>) {
    for pid in own_children() {
        if !known.contains(&pid) && matches!(stat(pid), Some(('Z', _))) {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(own_children().iter().all(|c| *c != pid));
    }
}
