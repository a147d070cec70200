//! Linux: process facts from `/proc`, exits and safe signals through pidfds, orphans adopted
//! as a child subreaper, inotify for watching.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::socket::MsgFlags;

/// The fields of `/proc/<pid>/stat` after the command name, which may hold spaces and
/// parentheses: 0 state, 1 ppid, 2 pgrp, 11 utime, 12 stime, 19 starttime, 21 rss (pages).
fn stat_fields(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text.get(text.rfind(')')? + 2..).map(str::to_string)
}

/// `(state, ppid)` of a pid.
fn stat(pid: u32) -> Option<(char, u32)> {
    let rest = stat_fields(pid)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Clock ticks after boot.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.split_whitespace().nth(19)?.parse().ok()
}

pub fn is_alive(pid: u32) -> bool {
    matches!(stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

pub fn is_zombie(pid: u32) -> bool {
    matches!(stat(pid), Some(('Z', _)))
}

pub fn pgid(pid: u32) -> Option<u32> {
    stat_fields(pid)?.split_whitespace().nth(2)?.parse().ok()
}

/// utime + stime in clock ticks, and rss.
pub fn usage(pid: u32) -> Option<(u64, u64)> {
    let rest = stat_fields(pid)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    Some((utime + stime, rss_pages * page_size()))
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

pub fn cpu_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if n > 0 {
        n as f64
    } else {
        100.0
    }
}

pub fn environ_contains(pid: u32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| environ.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
}

pub fn command_line(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&cmdline).replace('\0', " ").trim_end().to_string())
}

/// From its threads' `children` files (no scan of `/proc`); `None` on kernels without them.
pub fn children(pid: u32) -> Option<Vec<u32>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut out = Vec::new();
    let mut readable = false;
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            readable = true;
            out.extend(parse_pids(&text));
        }
    }
    readable.then_some(out)
}

pub fn main_thread_children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).map(|t| parse_pids(&t).collect()).unwrap_or_default()
}

fn parse_pids(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_whitespace().filter_map(|p| p.parse::<u32>().ok())
}

fn all_pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
}

pub fn children_by_parent() -> HashMap<u32, Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in all_pids() {
        if let Some((state, ppid)) = stat(pid) {
            if state != 'Z' {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    children
}

/// A scan of `/proc`: only needed when a group outlives every member the daemon knew of.
pub fn group_members(pgid: u32) -> Vec<u32> {
    all_pids()
        .filter(|&pid| {
            let Some(rest) = stat_fields(pid) else { return false };
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("Z");
            state != "Z" && state != "X" && f.nth(1).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        })
        .collect()
}

pub fn own_children() -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(parse_pids(&text));
            }
        }
    }
    out
}

fn pidfd_open(pid: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open with a pid and no flags; the result is a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: we own the descriptor the kernel just returned.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A pidfd pins the process between the check of its start time and the signal, so a pid
/// reused meanwhile is never hit.
pub fn signal_if_same(pid: u32, started: u64, signal: Signal) -> nix::Result<bool> {
    let fd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(false),
        // Kernels before 5.3: check, then signal.
        Err(Errno::ENOSYS) if start_time(pid) == Some(started) => {
            return nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).map(|_| true)
        }
        Err(Errno::ENOSYS) => return Ok(false),
        Err(e) => return Err(e),
    };
    if start_time(pid) != Some(started) {
        return Ok(false);
    }
    // SAFETY: pidfd_send_signal on our pidfd, no siginfo, no flags.
    let sent = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), signal as libc::c_int, std::ptr::null::<libc::siginfo_t>(), 0) };
    match sent {
        0 => Ok(true),
        _ if Errno::last() == Errno::ESRCH => Ok(false),
        _ => Err(Errno::last()),
    }
}

/// A pidfd becomes readable when its process exits.
pub async fn exited(pid: u32) {
    use tokio::io::{unix::AsyncFd, Interest};
    match pidfd_open(pid) {
        Ok(fd) => {
            // SAFETY: the OwnedFd stays open and unchanged for as long as the AsyncFd owns it.
            if let Ok(fd) = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                let _ = fd.readable().await;
            }
        }
        // No pidfds (a kernel before 5.3): check on a short timer instead.
        Err(Errno::ENOSYS) => {
            while is_alive(pid) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Err(_) => {} // ESRCH: gone already
    }
}

pub fn adopt_orphans() -> bool {
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) == 0 }
}

pub unsafe fn die_with_parent() {
    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
}

pub fn group_list(name: &std::ffi::CStr, gid: libc::gid_t) -> Option<Vec<libc::gid_t>> {
    let groups = nix::unistd::getgrouplist(name, nix::unistd::Gid::from_raw(gid)).ok()?;
    Some(groups.into_iter().map(nix::unistd::Gid::as_raw).collect())
}

/// Received descriptors are close-on-exec from the start.
pub const RECV_FLAGS: MsgFlags = MsgFlags::MSG_CMSG_CLOEXEC;
pub const SEND_FLAGS: MsgFlags = MsgFlags::MSG_NOSIGNAL;

pub fn received_descriptor(_: RawFd) {}

pub fn peer_closed(fd: RawFd) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLRDHUP, revents: 0 };
    // SAFETY: one pollfd for a descriptor the caller owns; no waiting.
    let ready = unsafe { libc::poll(&mut p, 1, 0) };
    ready > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

pub fn descriptor_path(fd: RawFd) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

pub fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime").ok().and_then(|s| s.split_whitespace().next()?.parse().ok()).unwrap_or(0.0)
}

pub fn native_watcher(handler: impl notify::EventHandler, config: notify::Config) -> notify::Result<Box<dyn notify::Watcher + Send>> {
    use notify::Watcher;
    Ok(Box::new(notify::INotifyWatcher::new(handler, config)?))
}
