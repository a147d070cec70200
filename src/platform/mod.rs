//! The operating-system facts the daemon, the client and pm2-runtime need, behind one small
//! interface with one implementation per system: `linux.rs` (`/proc`, pidfds, a child
//! subreaper, inotify) and `macos.rs` (libproc's `proc_pidinfo`, kqueue, process groups,
//! FSEvents). Nothing outside this directory reads `/proc` or makes a Linux-only call.
//!
//! Processes are named by pid; a pid with its start time names one process for good.

use std::os::fd::RawFd;
use std::path::PathBuf;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("pm2-rs runs on Linux and macOS only");

// --- one process ---

/// When `pid` started, in a unit of the system's (fixed for the machine): with the pid, it
/// names one process, told apart from a later one that reuses the pid.
pub fn start_time(pid: u32) -> Option<u64> {
    os::start_time(pid)
}

/// Running (a zombie is as good as dead).
pub fn is_alive(pid: u32) -> bool {
    os::is_alive(pid)
}

/// Ended but not reaped yet.
pub fn is_zombie(pid: u32) -> bool {
    os::is_zombie(pid)
}

/// The process group of a pid.
pub fn pgid(pid: u32) -> Option<u32> {
    os::pgid(pid)
}

/// CPU time used so far (in units of `cpu_ticks_per_second`) and resident memory in bytes.
pub fn usage(pid: u32) -> Option<(u64, u64)> {
    os::usage(pid)
}

/// How many of `usage`'s CPU units make one second.
pub fn cpu_ticks_per_second() -> f64 {
    os::cpu_ticks_per_second()
}

/// Whether the environment `pid` started with holds `entry` (`NAME=value`).
pub fn environ_contains(pid: u32, entry: &str) -> bool {
    os::environ_contains(pid, entry)
}

/// The arguments `pid` runs with, joined by spaces.
pub fn command_line(pid: u32) -> Option<String> {
    os::command_line(pid)
}

// --- trees and groups ---

/// The children of `pid`; `None` when this system cannot list one process's children
/// (then `children_by_parent` gives them all at once).
pub fn children(pid: u32) -> Option<Vec<u32>> {
    os::children(pid)
}

/// The children that `pid`'s main thread started (all of them where threads are not told
/// apart): one read per process, for sampling on a cadence. Node spawns from its main thread.
pub fn main_thread_children(pid: u32) -> Vec<u32> {
    os::main_thread_children(pid)
}

/// One snapshot of the live processes, grouped by parent.
pub fn children_by_parent() -> std::collections::HashMap<u32, Vec<u32>> {
    os::children_by_parent()
}

/// The live (not zombie) members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    os::group_members(pgid)
}

/// This process's own children (for the daemon: apps, and orphans it adopted).
pub fn own_children() -> Vec<u32> {
    os::own_children()
}

// --- signals, exits, orphans ---

/// Sends `signal` to `pid` only if it is still the process that started at `started`;
/// `Ok(false)` when it is gone or its pid now names another process.
pub fn signal_if_same(pid: u32, started: u64, signal: nix::sys::signal::Signal) -> nix::Result<bool> {
    os::signal_if_same(pid, started, signal)
}

/// Resolves once `pid` has ended (at once if it is gone already), without polling where
/// the system can say so.
pub async fn exited(pid: u32) {
    os::exited(pid).await
}

/// Makes this process the one that adopts the orphans of its descendants, so that what an
/// app leaves behind can still be found and stopped. False where the system has no such
/// thing (there, an app's process group is what is found).
pub fn adopt_orphans() -> bool {
    os::adopt_orphans()
}

/// In a child between fork and exec: have the system kill it when its parent dies, where
/// the system can. Async-signal-safe.
///
/// # Safety
/// Only between fork and exec (it changes the calling process).
pub unsafe fn die_with_parent() {
    os::die_with_parent()
}

/// The groups user `name` belongs to, `gid` among them.
pub fn group_list(name: &std::ffi::CStr, gid: libc::gid_t) -> Option<Vec<libc::gid_t>> {
    os::group_list(name, gid)
}

// --- sockets and descriptors ---

/// The flags for `recvmsg` on a channel that may carry descriptors.
pub const RECV_FLAGS: nix::sys::socket::MsgFlags = os::RECV_FLAGS;

/// The flags for `sendmsg`: a closed peer is an error, not a SIGPIPE.
pub const SEND_FLAGS: nix::sys::socket::MsgFlags = os::SEND_FLAGS;

/// Marks a descriptor received by `recvmsg(RECV_FLAGS)` close-on-exec, where `RECV_FLAGS`
/// could not do it atomically.
pub fn received_descriptor(fd: RawFd) {
    os::received_descriptor(fd)
}

/// Whether the peer of connected socket `fd` has closed its end (without reading).
pub fn peer_closed(fd: RawFd) -> bool {
    os::peer_closed(fd)
}

/// The path of the file open on `fd` in this process.
pub fn descriptor_path(fd: RawFd) -> Option<PathBuf> {
    os::descriptor_path(fd)
}

// --- the machine ---

/// This machine's host name.
pub fn hostname() -> String {
    os::hostname()
}

/// Seconds since the machine booted.
pub fn uptime() -> f64 {
    os::uptime()
}

/// The system's native file watcher, reporting to `handler`.
pub fn native_watcher(handler: impl notify::EventHandler, config: notify::Config) -> notify::Result<Box<dyn notify::Watcher + Send>> {
    os::native_watcher(handler, config)
}

#[cfg(test)]
mod tests {
    //! The interface's promises, checked against real processes, sockets and files on whichever
    //! system runs the tests.
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ok() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_child_is_known_by_its_facts_until_it_is_reaped() {
        let marker = format!("PM2_PLATFORM_TEST={}", std::process::id());
        let (name, value) = marker.split_once('=').unwrap();
        let mut child = std::process::Command::new("sleep").arg("30").env(name, value).process_group(0).spawn().unwrap();
        let pid = child.id();
        assert!(is_alive(pid) && !is_zombie(pid));
        assert_eq!(pgid(pid), Some(pid), "it leads its own group");
        assert_eq!(group_members(pid), vec![pid]);
        assert!(own_children().contains(&pid));
        assert!(children(std::process::id()).is_none_or(|c| c.contains(&pid)));
        let started = start_time(pid).expect("a start time");
        eventually("its environment and arguments are readable", || environ_contains(pid, &marker));
        assert!(!environ_contains(pid, "PM2_PLATFORM_TEST=other"));
        assert!(command_line(pid).is_some_and(|c| c.contains("sleep 30")), "{:?}", command_line(pid));
        let (_, rss) = usage(pid).expect("its usage");
        assert!(rss > 0);

        assert_eq!(signal_if_same(pid, started + 1, nix::sys::signal::Signal::SIGKILL), Ok(false), "another start time is another process");
        assert!(is_alive(pid));
        assert_eq!(signal_if_same(pid, started, nix::sys::signal::Signal::SIGKILL), Ok(true));
        eventually("killed, it is a zombie until reaped", || is_zombie(pid));
        assert!(!is_alive(pid));
        assert!(group_members(pid).is_empty(), "a zombie is no member");
        child.wait().unwrap();
        assert!(!is_alive(pid) && !is_zombie(pid));
        assert_eq!(signal_if_same(pid, started, nix::sys::signal::Signal::SIGKILL), Ok(false), "gone");
    }

    #[tokio::test]
    async fn an_exit_is_reported_and_a_gone_process_at_once() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let waiting = tokio::spawn(exited(pid));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "it still runs");
        child.kill().unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("the exit was seen").unwrap();
        child.wait().unwrap();
        tokio::time::timeout(Duration::from_secs(1), exited(pid)).await.expect("gone already");
    }

    #[test]
    fn a_closed_peer_is_seen_without_reading_what_it_sent() {
        let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!peer_closed(mine.as_raw_fd()));
        std::io::Write::write_all(&mut &theirs, b"unread").unwrap();
        assert!(!peer_closed(mine.as_raw_fd()), "data waiting is no close");
        drop(theirs);
        assert!(peer_closed(mine.as_raw_fd()));
    }

    #[test]
    fn a_received_descriptor_is_close_on_exec() {
        use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned};
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        let fds = [file.as_raw_fd()];
        sendmsg::<()>(a.as_raw_fd(), &[std::io::IoSlice::new(b"x")], &[ControlMessage::ScmRights(&fds)], SEND_FLAGS, None).unwrap();
        let mut buf = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(b.as_raw_fd(), &mut iov, Some(&mut space), RECV_FLAGS).unwrap();
        let Some(ControlMessageOwned::ScmRights(received)) = msg.cmsgs().unwrap().next() else { panic!("no descriptor came") };
        for fd in received {
            received_descriptor(fd);
            // SAFETY: the descriptor was just received; this test owns it.
            let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            let flags = nix::fcntl::fcntl(&owned, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            assert!(flags & libc::FD_CLOEXEC != 0);
        }
    }

    #[test]
    fn an_open_file_is_named_by_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pm2.log");
        let file = std::fs::File::create(&path).unwrap();
        assert_eq!(descriptor_path(file.as_raw_fd()).map(|p| p.canonicalize().unwrap()), Some(path.canonicalize().unwrap()));
    }

    #[test]
    fn the_machine_has_a_name_and_has_been_up() {
        assert!(!hostname().is_empty());
        assert!(uptime() > 0.0);
        assert!(cpu_ticks_per_second() > 0.0);
    }
}
