//! App output: each stdout/stderr pipe is read by one task and appended to the app's log
//! files. Files are reopened when `reloadLogs` bumps the epoch, so external rotation works.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::crash_report::Tail;

/// A set of append-only files written together (the stream's own file and the combined log).
pub struct LogSink {
    paths: Vec<PathBuf>,
    files: Vec<Option<File>>,
    epoch: u64,
}

fn open_append(path: &PathBuf) -> Option<File> {
    if path.as_os_str() == "/dev/null" {
        return None;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("[pm2-daemon] cannot open log file {}: {e}", path.display());
            None
        }
    }
}

impl LogSink {
    pub fn open(paths: Vec<PathBuf>, epoch: u64) -> Self {
        let files = paths.iter().map(open_append).collect();
        LogSink { paths, files, epoch }
    }

    pub fn write(&mut self, chunk: &[u8], epoch: u64) {
        if epoch != self.epoch {
            self.files = self.paths.iter().map(open_append).collect();
            self.epoch = epoch;
        }
        for f in self.files.iter_mut().flatten() {
            if let Err(e) = f.write_all(chunk) {
                eprintln!("[pm2-daemon] log write failed: {e}");
            }
        }
    }
}

/// Copies one pipe into its sink until the app closes it; the last lines of a crashing app
/// are read before EOF, so none are lost. While `listening()`, complete lines also go to
/// `on_line` (the bus), in order. Returns the end of the output when `keep_tail` is set.
pub async fn pump<R, L, F>(mut pipe: R, mut sink: LogSink, epoch: Arc<AtomicU64>, keep_tail: bool, listening: L, mut on_line: F) -> Tail
where
    R: AsyncRead + Unpin,
    L: Fn() -> bool,
    F: FnMut(&[u8]),
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    let mut tail = Tail::default();
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        sink.write(chunk, epoch.load(Ordering::Relaxed));
        if keep_tail {
            tail.push(chunk);
        }
        if !listening() {
            partial.clear();
            continue;
        }
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            if partial.is_empty() {
                on_line(&rest[..=i]);
            } else {
                partial.extend_from_slice(&rest[..=i]);
                on_line(&partial);
                partial.clear();
            }
            rest = &rest[i + 1..];
        }
        partial.extend_from_slice(rest);
    }
    if !partial.is_empty() && listening() {
        on_line(&partial);
    }
    tail
}

/// Truncates a log file (flush).
pub fn truncate(path: &PathBuf) {
    if path.as_os_str() != "/dev/null" && path.exists() {
        if let Err(e) = OpenOptions::new().write(true).truncate(true).open(path) {
            eprintln!("[pm2-daemon] cannot flush {}: {e}", path.display());
        }
    }
}
