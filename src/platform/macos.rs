//! macOS: process facts from libproc (`proc_pidinfo`, `proc_listpids`) and the
//! `KERN_PROCARGS2` sysctl, exits through kqueue (`EVFILT_PROC`), FSEvents for watching.
//! There is no child subreaper: an app's process group is how its tree is found once a
//! process has left it. Calls go straight to libc (no process-listing crate): each fact is one
//! system call, and the daemon stays as small as on Linux.

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::socket::MsgFlags;

// libproc.h's `proc_listpids` selectors.
const PROC_ALL_PIDS: u32 = 1;
const PROC_PGRP_ONLY: u32 = 2;
const PROC_PPID_ONLY: u32 = 6;

/// One `proc_pidinfo` record of a flavour whose struct is `T`.
fn pid_info<T>(pid: u32, flavor: c_int) -> Option<T> {
    let mut info = std::mem::MaybeUninit::<T>::zeroed();
    let size = std::mem::size_of::<T>() as c_int;
    // SAFETY: the buffer is `size` bytes of a plain C struct the kernel fills.
    let n = unsafe { libc::proc_pidinfo(pid as c_int, flavor, 0, info.as_mut_ptr().cast::<c_void>(), size) };
    // SAFETY: a full-size answer filled every field (and the zeroed struct is a valid value).
    (n == size).then(|| unsafe { info.assume_init() })
}

/// Zombies answer too (with `pbi_status == SZOMB`).
fn bsd_info(pid: u32) -> Option<libc::proc_bsdinfo> {
    pid_info(pid, libc::PROC_PIDTBSDINFO)
}

/// Microseconds since the epoch.
pub fn start_time(pid: u32) -> Option<u64> {
    bsd_info(pid).map(|i| i.pbi_start_tvsec * 1_000_000 + i.pbi_start_tvusec)
}

pub fn is_alive(pid: u32) -> bool {
    bsd_info(pid).is_some_and(|i| i.pbi_status != libc::SZOMB)
}

pub fn is_zombie(pid: u32) -> bool {
    bsd_info(pid).is_some_and(|i| i.pbi_status == libc::SZOMB)
}

pub fn pgid(pid: u32) -> Option<u32> {
    bsd_info(pid).map(|i| i.pbi_pgid)
}

/// User + system time in nanoseconds (the task info gives Mach time units), and rss.
pub fn usage(pid: u32) -> Option<(u64, u64)> {
    let info: libc::proc_taskinfo = pid_info(pid, libc::PROC_PIDTASKINFO)?;
    let (numer, denom) = timebase();
    let cpu = (info.pti_total_user + info.pti_total_system) as u128 * numer as u128 / denom.max(1) as u128;
    Some((cpu as u64, info.pti_resident_size))
}

/// Mach time units per nanosecond, as a fraction. (libc marks these bindings deprecated in
/// favour of the `mach2` crate; one call does not justify a crate.)
#[allow(deprecated)]
fn timebase() -> (u32, u32) {
    static TIMEBASE: OnceLock<(u32, u32)> = OnceLock::new();
    *TIMEBASE.get_or_init(|| {
        let mut tb = libc::mach_timebase_info { numer: 1, denom: 1 };
        // SAFETY: fills the struct it is given.
        unsafe { libc::mach_timebase_info(&mut tb) };
        (tb.numer, tb.denom)
    })
}

pub fn cpu_ticks_per_second() -> f64 {
    1e9
}

/// `KERN_PROCARGS2`: argc, the executable's path, then argv and the environment, each
/// NUL-terminated. Readable for processes of the same user.
fn process_args(pid: u32) -> Option<(Vec<Vec<u8>>, Vec<Vec<u8>>)> {
    let mut argmax: c_int = 0;
    let mut len = std::mem::size_of::<c_int>();
    let mut mib = [libc::CTL_KERN, libc::KERN_ARGMAX];
    // SAFETY: reads one int into `argmax`.
    if unsafe { libc::sysctl(mib.as_mut_ptr(), 2, (&mut argmax as *mut c_int).cast(), &mut len, std::ptr::null_mut(), 0) } != 0 {
        return None;
    }
    let mut buf = vec![0u8; argmax.max(4096) as usize];
    let mut size = buf.len();
    let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid as c_int];
    // SAFETY: the kernel writes at most `size` bytes into `buf` and sets `size` to what it wrote.
    if unsafe { libc::sysctl(mib.as_mut_ptr(), 3, buf.as_mut_ptr().cast(), &mut size, std::ptr::null_mut(), 0) } != 0 {
        return None;
    }
    buf.truncate(size);
    let argc = i32::from_ne_bytes(buf.get(..4)?.try_into().ok()?).max(0) as usize;
    let rest = &buf[4..];
    // The executable's path, then NUL padding.
    let start = rest.iter().position(|b| *b == 0)?;
    let start = start + rest[start..].iter().position(|b| *b != 0)?;
    let mut strings = rest[start..].split(|b| *b == 0);
    let args: Vec<Vec<u8>> = strings.by_ref().take(argc).map(<[u8]>::to_vec).collect();
    let env = strings.take_while(|s| !s.is_empty()).map(<[u8]>::to_vec).collect();
    Some((args, env))
}

pub fn environ_contains(pid: u32, entry: &str) -> bool {
    process_args(pid).is_some_and(|(_, env)| env.iter().any(|e| e == entry.as_bytes()))
}

pub fn command_line(pid: u32) -> Option<String> {
    let (args, _) = process_args(pid)?;
    Some(args.iter().map(|a| String::from_utf8_lossy(a)).collect::<Vec<_>>().join(" "))
}

/// The pids `proc_listpids` lists for one selector.
fn list_pids(kind: u32, arg: u32) -> Vec<u32> {
    let mut room = 256;
    loop {
        let mut pids = vec![0 as libc::pid_t; room];
        let bytes = (room * std::mem::size_of::<libc::pid_t>()) as c_int;
        // SAFETY: the buffer holds `bytes` bytes; the answer is how many it filled.
        let filled = unsafe { libc::proc_listpids(kind, arg, pids.as_mut_ptr().cast(), bytes) };
        if filled <= 0 {
            return Vec::new();
        }
        if filled < bytes || room >= 1 << 20 {
            pids.truncate(filled as usize / std::mem::size_of::<libc::pid_t>());
            return pids.into_iter().filter(|p| *p > 0).map(|p| p as u32).collect();
        }
        room *= 4;
    }
}

pub fn children(pid: u32) -> Option<Vec<u32>> {
    Some(list_pids(PROC_PPID_ONLY, pid))
}

pub fn main_thread_children(pid: u32) -> Vec<u32> {
    list_pids(PROC_PPID_ONLY, pid)
}

pub fn children_by_parent() -> HashMap<u32, Vec<u32>> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in list_pids(PROC_ALL_PIDS, 0) {
        if let Some(info) = bsd_info(pid).filter(|i| i.pbi_status != libc::SZOMB) {
            children.entry(info.pbi_ppid).or_default().push(pid);
        }
    }
    children
}

pub fn group_members(pgid: u32) -> Vec<u32> {
    list_pids(PROC_PGRP_ONLY, pgid).into_iter().filter(|&p| is_alive(p)).collect()
}

pub fn own_children() -> Vec<u32> {
    list_pids(PROC_PPID_ONLY, std::process::id())
}

/// No pidfds: the start time is checked just before the signal. A pid freed and reused
/// within that instant is possible in principle, except for the daemon's own children (its
/// apps): their pids stay theirs until the daemon reaps them.
pub fn signal_if_same(pid: u32, started: u64, signal: Signal) -> nix::Result<bool> {
    if start_time(pid) != Some(started) || is_zombie(pid) {
        return Ok(false);
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal) {
        Ok(()) => Ok(true),
        Err(Errno::ESRCH) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A kqueue with one `EVFILT_PROC`/`NOTE_EXIT` event becomes readable when the process exits.
pub async fn exited(pid: u32) {
    match exit_queue(pid) {
        Ok(kq) => {
            // SAFETY: the OwnedFd stays open and unchanged for as long as the AsyncFd owns it.
            if let Ok(kq) = unsafe { tokio::io::unix::AsyncFd::register_with_interest(kq, tokio::io::Interest::READABLE) } {
                let _ = kq.readable().await;
                return;
            }
        }
        Err(Errno::ESRCH) => return, // gone already
        Err(_) => {}
    }
    while is_alive(pid) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A kqueue that reports the exit of `pid`.
fn exit_queue(pid: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: kqueue takes no arguments and returns a new descriptor or -1.
    let kq = unsafe { libc::kqueue() };
    if kq < 0 {
        return Err(Errno::last());
    }
    // SAFETY: we own the descriptor the kernel just returned.
    let kq = unsafe { OwnedFd::from_raw_fd(kq) };
    let change = libc::kevent {
        ident: pid as libc::uintptr_t,
        filter: libc::EVFILT_PROC,
        flags: libc::EV_ADD | libc::EV_ONESHOT,
        fflags: libc::NOTE_EXIT,
        data: 0,
        udata: std::ptr::null_mut(),
    };
    // SAFETY: one change in, no events out, no waiting.
    let added = unsafe { libc::kevent(kq.as_raw_fd(), &change, 1, std::ptr::null_mut(), 0, std::ptr::null()) };
    if added == -1 {
        return Err(Errno::last());
    }
    Ok(kq)
}

pub fn adopt_orphans() -> bool {
    false
}

pub unsafe fn die_with_parent() {}

pub fn group_list(name: &std::ffi::CStr, gid: libc::gid_t) -> Option<Vec<libc::gid_t>> {
    let mut room: c_int = 64;
    loop {
        let mut groups = vec![0 as c_int; room as usize];
        let mut n = room;
        // SAFETY: `groups` holds `n` entries; getgrouplist writes at most that many and sets `n`.
        let r = unsafe { libc::getgrouplist(name.as_ptr(), gid as c_int, groups.as_mut_ptr(), &mut n) };
        if r == 0 {
            groups.truncate(n.max(0) as usize);
            return Some(groups.into_iter().map(|g| g as libc::gid_t).collect());
        }
        if room >= 65536 {
            return None;
        }
        room *= 4;
    }
}

/// No `MSG_CMSG_CLOEXEC`: `received_descriptor` sets the flag right after `recvmsg`.
pub const RECV_FLAGS: MsgFlags = MsgFlags::empty();
/// No `MSG_NOSIGNAL`: SIGPIPE is ignored (Rust's runtime does that in the executables, and
/// Node in the addon), so a closed peer is an `EPIPE` error.
pub const SEND_FLAGS: MsgFlags = MsgFlags::empty();

pub fn received_descriptor(fd: RawFd) {
    // SAFETY: sets a flag on a descriptor the caller owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

/// No `POLLRDHUP`: a readable socket whose peek reads nothing has reached its end.
pub fn peer_closed(fd: RawFd) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one pollfd for a descriptor the caller owns; no waiting.
    if unsafe { libc::poll(&mut p, 1, 0) } <= 0 {
        return false;
    }
    if p.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
        return true;
    }
    let mut byte = 0u8;
    // SAFETY: peeks at most one byte into `byte`.
    let n = unsafe { libc::recv(fd, (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT) };
    n == 0
}

pub fn descriptor_path(fd: RawFd) -> Option<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: F_GETPATH writes a NUL-terminated path of at most PATH_MAX bytes.
    if unsafe { libc::fcntl(fd, libc::F_GETPATH, buf.as_mut_ptr()) } == -1 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0)?;
    buf.truncate(end);
    Some(PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(buf)))
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most the buffer's length.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

pub fn uptime() -> f64 {
    let mut boot = libc::timeval { tv_sec: 0, tv_usec: 0 };
    let mut len = std::mem::size_of::<libc::timeval>();
    let mut mib = [libc::CTL_KERN, libc::KERN_BOOTTIME];
    // SAFETY: reads one timeval into `boot`.
    if unsafe { libc::sysctl(mib.as_mut_ptr(), 2, (&mut boot as *mut libc::timeval).cast(), &mut len, std::ptr::null_mut(), 0) } != 0 {
        return 0.0;
    }
    let booted = Duration::new(boot.tv_sec as u64, boot.tv_usec as u32 * 1000);
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |now| now.saturating_sub(booted).as_secs_f64())
}

pub fn native_watcher(handler: impl notify::EventHandler, config: notify::Config) -> notify::Result<Box<dyn notify::Watcher + Send>> {
    use notify::Watcher;
    Ok(Box::new(notify::FsEventWatcher::new(handler, config)?))
}
