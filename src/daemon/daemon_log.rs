//! The daemon's own log: its stderr, which the client opened on `pm2.log`. A line that
//! cannot be written (full disk, closed descriptor) is dropped: logging never stops the
//! daemon. Past `MAX_DAEMON_LOG` bytes `pm2.log` moves to `pm2.log.1` and starts again, so
//! it cannot fill the disk.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use crate::limits::MAX_DAEMON_LOG;

const STDERR: RawFd = 2;

/// Writes one line to the daemon's log, ignoring failure.
pub fn write(args: std::fmt::Arguments) {
    let line = format!("[pm2-daemon] {args}\n");
    // SAFETY: stderr stays open for the life of the process.
    let fd = unsafe { BorrowedFd::borrow_raw(STDERR) };
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        match nix::unistd::write(fd, rest) {
            Ok(n) if n > 0 => rest = &rest[n..],
            Err(nix::errno::Errno::EINTR) => continue,
            _ => break,
        }
    }
    rotate_if_large(STDERR, MAX_DAEMON_LOG);
}

/// When `fd` is a file named `pm2.log` of at least `max` bytes: renames it to `pm2.log.1`
/// (replacing the previous one) and points `fd` (and stdout, if it shares the file) at a
/// fresh `pm2.log`.
pub fn rotate_if_large(fd: RawFd, max: u64) {
    // SAFETY: the caller owns `fd` for this call.
    let Ok(meta) = nix::sys::stat::fstat(unsafe { BorrowedFd::borrow_raw(fd) }) else { return };
    if (meta.st_mode & libc::S_IFMT) != libc::S_IFREG || (meta.st_size as u64) < max {
        return;
    }
    let Some(path) = crate::platform::descriptor_path(fd) else { return };
    if path.file_name().is_none_or(|n| n != "pm2.log") {
        return;
    }
    // SAFETY: stdout stays open for the call.
    let shares_stdout = nix::sys::stat::fstat(unsafe { BorrowedFd::borrow_raw(1) }).is_ok_and(|m| m.st_dev == meta.st_dev && m.st_ino == meta.st_ino);
    let mut old = path.clone().into_os_string();
    old.push(".1");
    if std::fs::rename(&path, &old).is_err() {
        return;
    }
    let Ok(fresh) = crate::home::open_private(&path, true) else { return };
    // SAFETY: dup2 onto descriptors this process owns.
    unsafe {
        libc::dup2(fresh.as_raw_fd(), fd);
        if shares_stdout && fd != 1 {
            libc::dup2(fresh.as_raw_fd(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_large_log_moves_aside_and_starts_again() {
        let dir = std::env::temp_dir().join(format!("pm2rs-dlog-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("pm2.log");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        f.write_all(&[b'x'; 100]).unwrap();
        rotate_if_large(f.as_raw_fd(), 1000);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 100, "below the limit: untouched");
        rotate_if_large(f.as_raw_fd(), 50);
        assert_eq!(std::fs::metadata(dir.join("pm2.log.1")).unwrap().len(), 100);
        f.write_all(b"after\n").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "after\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
