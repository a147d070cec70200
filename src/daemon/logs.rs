//! App output: each stdout/stderr pipe is read by one task and appended to the app's log
//! files (formatted and rotated as the app asks). Files are reopened when `reloadLogs`
//! bumps the epoch, so external rotation works too. A file that cannot be written (full
//! disk, no permission) is reported once per episode, to the daemon's log and to whoever
//! the sink reports to (the bus), and tried again until it works: then that is reported too.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

thread_local! {
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 64 * 1024]);
}

use super::crash_report::Tail;
use super::log_format::LineFormat;
use super::rotate::{self, Overrides, Rotation};
use crate::limits::MAX_LINE;

/// How a stream's lines are written and when its files rotate: the app's own rotation
/// settings over the daemon's defaults, which may change while the app runs.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub format: Option<LineFormat>,
    pub rotation: Overrides,
    pub defaults: tokio::sync::watch::Receiver<Option<Rotation>>,
}

/// How often a log file that could not be opened is tried again.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// A change in whether a sink's files can be written, reported once per episode.
#[derive(Debug, Clone, PartialEq)]
pub enum LogTrouble {
    /// Writing failed (`error` names the file); what is written meanwhile is lost.
    Failed { error: String },
    /// Every file is written again; `lost` bytes were dropped while it failed.
    Resumed { lost: u64 },
}

/// Where one of a sink's paths goes.
enum Target {
    /// `/dev/null`: nothing to write.
    Discard,
    File(File),
    /// Could not be opened (the error); tried again at the next write after `REOPEN_EVERY`.
    Unopened(String),
}

impl Target {
    fn file(&self) -> Option<&File> {
        match self {
            Target::File(f) => Some(f),
            _ => None,
        }
    }
}

/// A set of append-only files written together (the stream's own file and the combined log).
pub struct LogSink {
    paths: Vec<PathBuf>,
    files: Vec<Target>,
    epoch: u64,
    options: LogOptions,
    /// `options` resolved against the current defaults.
    rotation: Option<Rotation>,
    /// An incomplete last line, held until its end arrives (formatted output only).
    partial: Vec<u8>,
    /// Bytes dropped since writing started to fail; `None` while it works.
    failing: Option<u64>,
    last_open: Instant,
    report: Option<Box<dyn FnMut(LogTrouble) + Send>>,
}

fn open_append(path: &PathBuf) -> Target {
    if path.as_os_str() == "/dev/null" {
        return Target::Discard;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Devices and streams (`/dev/stdout` is a symlink) are opened as they are; files are
    // private and never written through a symlink.
    let opened = if path.starts_with("/dev") || path.starts_with("/proc") {
        OpenOptions::new().append(true).open(path)
    } else {
        crate::home::open_private(path, true)
    };
    match opened {
        Ok(f) => Target::File(f),
        Err(e) => Target::Unopened(format!("cannot open {}: {e}", path.display())),
    }
}

impl LogSink {
    pub fn open(paths: Vec<PathBuf>, epoch: u64, mut options: LogOptions) -> Self {
        let files = paths.iter().map(open_append).collect();
        let rotation = options.rotation.resolve(options.defaults.borrow_and_update().as_ref());
        LogSink { paths, files, epoch, options, rotation, partial: Vec::new(), failing: None, last_open: Instant::now(), report: None }
    }

    /// Also reports failing and resumed writing to `report` (besides the daemon's log).
    pub fn reporting(mut self, report: impl FnMut(LogTrouble) + Send + 'static) -> Self {
        self.report = Some(Box::new(report));
        self
    }

    pub fn write(&mut self, chunk: &[u8], epoch: &AtomicU64) {
        let current = epoch.load(Ordering::Relaxed);
        if current != self.epoch {
            self.files = self.paths.iter().map(open_append).collect();
            self.last_open = Instant::now();
            self.epoch = current;
        }
        // (taken for the while, not cloned: no allocation per chunk)
        match self.options.format.take() {
            None => self.write_rotating(chunk, epoch),
            Some(format) => {
                let mut out = Vec::with_capacity(chunk.len() + 64);
                let mut rest = chunk;
                while let Some(i) = rest.iter().position(|&b| b == b'\n') {
                    if self.partial.is_empty() {
                        format.line(&rest[..=i], &mut out);
                    } else {
                        self.partial.extend_from_slice(&rest[..=i]);
                        format.line(&self.partial, &mut out);
                        self.partial.clear();
                    }
                    rest = &rest[i + 1..];
                }
                self.partial.extend_from_slice(rest);
                // A line that never ends is written in pieces: memory stays bounded.
                while self.partial.len() >= MAX_LINE {
                    let mut piece: Vec<u8> = self.partial.drain(..MAX_LINE).collect();
                    piece.push(b'\n');
                    format.line(&piece, &mut out);
                }
                self.options.format = Some(format);
                self.write_rotating(&out, epoch);
            }
        }
    }

    /// Writes, rotating whenever a file reaches `max_size`, always at the end of a line: the
    /// line that crosses the limit is finished in the old file.
    fn write_rotating(&mut self, mut bytes: &[u8], epoch: &AtomicU64) {
        if self.options.defaults.has_changed().unwrap_or(false) {
            self.rotation = self.options.rotation.resolve(self.options.defaults.borrow_and_update().as_ref());
        }
        let Some(max) = self.rotation.as_ref().map(|r| r.max_size) else { return self.write_raw(bytes) };
        while !bytes.is_empty() {
            let size = self.files.iter().filter_map(Target::file).filter_map(|f| f.metadata().ok()).map(|m| m.len()).max().unwrap_or(0);
            let room = max.saturating_sub(size) as usize;
            if bytes.len() <= room {
                return self.write_raw(bytes);
            }
            // The first line end at or past the limit; without one, the line is unfinished.
            let Some(cut) = bytes[room.min(bytes.len())..].iter().position(|&b| b == b'\n').map(|j| room + j) else {
                return self.write_raw(bytes);
            };
            self.write_raw(&bytes[..=cut]);
            self.rotate(epoch);
            bytes = &bytes[cut + 1..];
        }
    }

    /// Writes what is left of an unfinished line (the app has closed its output).
    pub fn finish(&mut self) {
        if let (Some(format), false) = (&self.options.format, self.partial.is_empty()) {
            let mut out = Vec::new();
            format.line(&std::mem::take(&mut self.partial), &mut out);
            self.write_raw(&out);
        }
    }


    fn write_raw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.last_open.elapsed() >= REOPEN_EVERY && self.files.iter().any(|t| matches!(t, Target::Unopened(_))) {
            self.last_open = Instant::now();
            for (path, target) in self.paths.iter().zip(self.files.iter_mut()) {
                if matches!(target, Target::Unopened(_)) {
                    *target = open_append(path);
                }
            }
        }
        let mut failed = None;
        for (path, target) in self.paths.iter().zip(self.files.iter_mut()) {
            match target {
                Target::File(f) => {
                    if let Err(e) = f.write_all(bytes) {
                        failed = Some(format!("cannot write {}: {e}", path.display()));
                    }
                }
                Target::Unopened(e) => failed = Some(e.clone()),
                Target::Discard => {}
            }
        }
        let change = match (failed, self.failing) {
            (Some(error), None) => {
                daemon_log!("app output is being lost: {error}");
                self.failing = Some(bytes.len() as u64);
                LogTrouble::Failed { error }
            }
            (Some(_), Some(lost)) => {
                self.failing = Some(lost + bytes.len() as u64);
                return;
            }
            (None, Some(lost)) => {
                let paths = self.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
                daemon_log!("app output is written again to {paths} ({lost} bytes were lost)");
                self.failing = None;
                LogTrouble::Resumed { lost }
            }
            (None, None) => return,
        };
        if let Some(report) = self.report.as_mut() {
            report(change);
        }
    }

    fn rotate(&mut self, epoch: &AtomicU64) {
        let Some(rotation) = self.rotation.clone() else { return };
        let mut rotated = false;
        for (path, file) in self.paths.iter().zip(self.files.iter_mut()) {
            let Target::File(f) = file else { continue };
            if f.metadata().map(|m| m.len() >= rotation.max_size).unwrap_or(false) {
                match rotate::rotate(path, &rotation) {
                    Ok(_) => {
                        *file = open_append(path);
                        rotated = true;
                    }
                    Err(e) => daemon_log!("cannot rotate {}: {e}", path.display()),
                }
            }
        }
        if rotated {
            // Other writers of the same files (instances, the combined log) reopen too.
            self.epoch = epoch.fetch_add(1, Ordering::Relaxed) + 1;
        }
    }
}

/// Copies one pipe into its sink until the app closes it; the last lines of a crashing app
/// are read before EOF, so none are lost. While `listening()`, the complete lines of each
/// read also go to `on_lines` (the bus) in one piece, in order, as pm2 sends a chunk; a line
/// is never split between two calls. Returns the end of the output when `keep_tail` is set.
pub async fn pump<L, F>(pipe: OwnedFd, mut sink: LogSink, epoch: Arc<AtomicU64>, keep_tail: bool, listening: L, mut on_lines: F) -> Tail
where
    L: Fn() -> bool,
    F: FnMut(&[u8]),
{
    let mut partial: Vec<u8> = Vec::new();
    let mut tail = Tail::default();
    let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe) else { return tail };
    loop {
        if pipe.readable().await.is_err() {
            break;
        }
        // Read into the thread's one buffer: a thousand idle apps cost no buffers.
        let done = READ_BUF.with_borrow_mut(|buf| {
            let n = match pipe.try_read(buf) {
                Ok(0) => return true,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            };
            let chunk = &buf[..n];
            sink.write(chunk, &epoch);
            if keep_tail {
                tail.push(chunk);
            }
            if !listening() {
                partial.clear();
                return false;
            }
            let last_end = chunk.iter().rposition(|&b| b == b'\n');
            match last_end {
                Some(end) if partial.is_empty() => on_lines(&chunk[..=end]),
                Some(end) => {
                    partial.extend_from_slice(&chunk[..=end]);
                    on_lines(&partial);
                    partial.clear();
                }
                None => {}
            }
            partial.extend_from_slice(last_end.map_or(chunk, |end| &chunk[end + 1..]));
            while partial.len() >= MAX_LINE {
                let piece: Vec<u8> = partial.drain(..MAX_LINE).collect();
                on_lines(&piece);
            }
            false
        });
        if done {
            break;
        }
    }
    if !partial.is_empty() && listening() {
        on_lines(&partial);
    }
    sink.finish();
    tail
}

/// Truncates a log file (flush).
pub fn truncate(path: &PathBuf) {
    if path.as_os_str() != "/dev/null" && path.exists() {
        if let Err(e) = OpenOptions::new().write(true).truncate(true).open(path) {
            daemon_log!("cannot flush {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn recorded(paths: Vec<PathBuf>) -> (LogSink, Arc<Mutex<Vec<LogTrouble>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = seen.clone();
        let options = LogOptions { format: None, rotation: Default::default(), defaults: tokio::sync::watch::channel(None).1 };
        (LogSink::open(paths, 0, options).reporting(move |t| into.lock().unwrap().push(t)), seen)
    }

    #[test]
    #[cfg_attr(not(target_os = "linux"), ignore = "needs Linux's /dev/full")]
    fn a_failing_file_is_reported_once_per_episode() {
        let (mut sink, seen) = recorded(vec![PathBuf::from("/dev/full")]);
        let epoch = AtomicU64::new(0);
        for _ in 0..100 {
            sink.write(b"a line\n", &epoch);
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(matches!(&seen[0], LogTrouble::Failed { error } if error.contains("/dev/full") && error.contains("No space left")), "{seen:?}");
    }

    #[test]
    fn a_file_that_could_not_be_opened_is_tried_again_and_its_return_reported() {
        let dir = std::env::temp_dir().join(format!("pm2rs-logsink-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        // A file where the log's directory should be: the log cannot be created.
        std::fs::write(dir.join("blocked"), "").unwrap();
        let path = dir.join("blocked").join("app-out.log");
        let (mut sink, seen) = recorded(vec![path.clone()]);
        let epoch = AtomicU64::new(0);
        sink.write(b"lost\n", &epoch);
        sink.write(b"lost too\n", &epoch);
        std::fs::remove_file(dir.join("blocked")).unwrap();
        std::thread::sleep(REOPEN_EVERY);
        sink.write(b"kept\n", &epoch);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept\n");
        let seen = seen.lock().unwrap();
        assert!(matches!(&seen[0], LogTrouble::Failed { error } if error.contains("cannot open")), "{seen:?}");
        assert_eq!(seen[1], LogTrouble::Resumed { lost: 14 });
        assert_eq!(seen.len(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
