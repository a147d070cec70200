//! One bus subscriber's backlog of frames not yet written to its connection.
//!
//! A subscriber that reads slower than apps produce (a blocked event loop, a slow log
//! shipper) must lose nothing, must not grow the daemon's memory without bound, and must not
//! slow the apps down. Frames wait in memory up to a memory limit; past that, they
//! are appended to a spool file (unnamed, under `PM2_HOME`, gone with the daemon) and read
//! back in order once the memory part has been written. A subscriber only loses its
//! subscription when the spool itself passes its limit or the disk refuses it: then
//! its connection is closed, which its client reports as an error.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::bus::Frame;

/// How much a subscriber may have waiting: `memory` bytes in the daemon's memory (8 MiB,
/// `PM2_BUS_MEMORY`), then `spool` bytes on disk (1 GiB, `PM2_BUS_SPOOL`) before it is
/// disconnected.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory: usize,
    pub spool: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory: 8 * 1024 * 1024, spool: 1024 * 1024 * 1024 }
    }
}

impl Limits {
    pub fn from_env() -> Self {
        let number = |key: &str| std::env::var(key).ok().and_then(|v| crate::config::parse_bytes(&serde_json::json!(v)));
        let d = Limits::default();
        Limits { memory: number("PM2_BUS_MEMORY").map_or(d.memory, |n| n as usize), spool: number("PM2_BUS_SPOOL").unwrap_or(d.spool) }
    }
}

pub struct Backlog {
    state: Mutex<State>,
    /// Woken when frames arrive or the backlog fails.
    arrived: Notify,
    spool_dir: PathBuf,
    limits: Limits,
}

#[derive(Default)]
struct State {
    memory: VecDeque<Frame>,
    memory_bytes: usize,
    spool: Option<Spool>,
    /// Why this subscriber can no longer be served; its connection is then closed.
    failed: Option<String>,
}

/// Frames past the memory limit, in order: written at the end, read from `read`.
struct Spool {
    file: File,
    written: u64,
    read: u64,
}

impl Backlog {
    pub fn new(spool_dir: PathBuf, limits: Limits) -> Self {
        Backlog { state: Mutex::default(), arrived: Notify::new(), spool_dir, limits }
    }

    /// Queues a frame. False once the backlog has failed (the subscriber is then dropped).
    pub fn push(&self, frame: &Frame) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.failed.is_some() {
            return false;
        }
        if s.spool.is_none() && s.memory_bytes + frame.len() <= self.limits.memory {
            s.memory_bytes += frame.len();
            s.memory.push_back(frame.clone());
        } else if let Err(e) = self.spool(&mut s, frame) {
            s.failed = Some(e);
            s.memory.clear();
            s.spool = None;
        }
        drop(s);
        self.arrived.notify_one();
        true
    }

    fn spool(&self, s: &mut State, frame: &[u8]) -> Result<(), String> {
        let spool = match &mut s.spool {
            Some(spool) => spool,
            none => {
                let file = tempfile::tempfile_in(&self.spool_dir).map_err(|e| format!("cannot create a spool file in {}: {e}", self.spool_dir.display()))?;
                none.insert(Spool { file, written: 0, read: 0 })
            }
        };
        if spool.written - spool.read + frame.len() as u64 > self.limits.spool {
            return Err(format!("fell more than {} bytes behind", self.limits.memory as u64 + self.limits.spool));
        }
        spool.file.write_all_at(frame, spool.written).map_err(|e| format!("cannot spool events: {e}"))?;
        spool.written += frame.len() as u64;
        Ok(())
    }

    /// Fills `out` with the next waiting bytes (whole frames from memory, or a chunk of the
    /// spool of at most `max` bytes), waiting for some to arrive. `Err` once failed.
    pub async fn next(&self, out: &mut Vec<u8>, max: usize) -> Result<(), String> {
        loop {
            let arrived = self.arrived.notified();
            {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(reason) = &s.failed {
                    return Err(reason.clone());
                }
                if !s.memory.is_empty() {
                    while let Some(frame) = s.memory.front() {
                        if !out.is_empty() && out.len() + frame.len() > max {
                            break;
                        }
                        out.extend_from_slice(frame);
                        s.memory_bytes -= frame.len();
                        s.memory.pop_front();
                    }
                    return Ok(());
                }
                if let Some(spool) = s.spool.as_mut() {
                    let n = (spool.written - spool.read).min(max as u64) as usize;
                    let start = out.len();
                    out.resize(start + n, 0);
                    if let Err(e) = spool.file.read_exact_at(&mut out[start..], spool.read) {
                        s.failed = Some(format!("cannot read spooled events: {e}"));
                        continue;
                    }
                    spool.read += n as u64;
                    if spool.read == spool.written {
                        // Caught up: back to memory (the unnamed file goes with its handle).
                        s.spool = None;
                    }
                    return Ok(());
                }
            }
            arrived.await;
        }
    }

    /// Bytes waiting, in memory and on disk.
    #[cfg(test)]
    fn waiting(&self) -> (usize, u64) {
        let s = self.state.lock().unwrap();
        (s.memory_bytes, s.spool.as_ref().map_or(0, |sp| sp.written - sp.read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: u32, len: usize) -> Frame {
        let mut v = i.to_be_bytes().to_vec();
        v.resize(len, b'x');
        v.into()
    }

    #[tokio::test]
    async fn frames_past_the_memory_limit_are_spooled_and_come_back_in_order() {
        let dir = std::env::temp_dir();
        let backlog = Backlog::new(dir, Limits::default());
        let size = 64 * 1024;
        let count = (Limits::default().memory / size) as u32 * 3;
        for i in 0..count {
            assert!(backlog.push(&frame(i, size)));
        }
        let (memory, disk) = backlog.waiting();
        assert!(memory <= Limits::default().memory, "memory stays bounded: {memory}");
        assert!(disk > 0, "the rest is on disk");

        let mut all = Vec::new();
        while all.len() < count as usize * size {
            let mut out = Vec::new();
            backlog.next(&mut out, 100_000).await.unwrap();
            all.extend_from_slice(&out);
            // New frames during the catch-up land behind the spooled ones.
            if all.len() == size * 10 {
                assert!(backlog.push(&frame(count, size)));
            }
        }
        let mut out = Vec::new();
        backlog.next(&mut out, usize::MAX).await.unwrap();
        all.extend_from_slice(&out);
        let order: Vec<u32> = all.chunks(size).map(|c| u32::from_be_bytes(c[..4].try_into().unwrap())).collect();
        assert_eq!(order, (0..=count).collect::<Vec<_>>());
        assert_eq!(backlog.waiting(), (0, 0));
    }

    #[tokio::test]
    async fn a_spool_that_cannot_be_created_fails_the_backlog() {
        let backlog = Backlog::new(PathBuf::from("/nonexistent-dir-for-spools"), Limits::default());
        let size = 1024 * 1024;
        let mut accepted = 0;
        while backlog.push(&frame(accepted, size)) {
            accepted += 1;
            assert!(accepted < 100, "never failed");
        }
        let mut out = Vec::new();
        let err = backlog.next(&mut out, usize::MAX).await.unwrap_err();
        assert!(err.contains("spool"), "{err}");
    }
}
