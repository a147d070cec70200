//! Built-in log rotation (pm2 needs the pm2-logrotate module for it): when a log file
//! reaches `max_size`, or at each `rotateInterval` occurrence, it is renamed as
//! pm2-logrotate names it, `<name>__<dateFormat>.log` (`app-out__2024-03-07_14-05-09.log`),
//! optionally gzipped (`.log.gz`), and only the newest `retain` rotated files are kept.

use chrono::Local;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::log_format::format_date;

/// pm2-logrotate's default `dateFormat`.
pub const DATE_FORMAT: &str = "YYYY-MM-DD_HH-mm-ss";

/// How one app's log files rotate.
#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    pub max_size: u64,
    /// Rotated files kept; `usize::MAX` keeps them all.
    pub retain: usize,
    pub compress: bool,
    /// dayjs / moment tokens that date a rotated file's name.
    pub date_format: String,
}

/// pm2-logrotate's defaults: 10 MiB, 30 files kept, not compressed.
impl Default for Rotation {
    fn default() -> Self {
        Rotation { max_size: 10 * 1024 * 1024, retain: 30, compress: false, date_format: DATE_FORMAT.into() }
    }
}

/// What an app sets itself (`max_size`, `retain`, `compress`); the rest comes from the
/// daemon's defaults (pm2-logrotate's settings, else `PM2_LOG_*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub max_size: Option<u64>,
    pub retain: Option<usize>,
    pub compress: Option<bool>,
}

impl Overrides {
    pub fn of(spec: &crate::config::AppSpec) -> Overrides {
        Overrides { max_size: spec.log_max_size, retain: spec.log_retain.map(|r| r as usize), compress: spec.log_compress }
    }

    /// The app's own values over the defaults. Without defaults, only an app that sets
    /// `max_size` rotates.
    pub fn resolve(&self, defaults: Option<&Rotation>) -> Option<Rotation> {
        let base = match (defaults, self.max_size) {
            (Some(d), _) => d.clone(),
            (None, Some(max_size)) => Rotation { max_size, ..Rotation::default() },
            (None, None) => return None,
        };
        Some(Rotation {
            max_size: self.max_size.unwrap_or(base.max_size),
            retain: self.retain.unwrap_or(base.retain),
            compress: self.compress.unwrap_or(base.compress),
            date_format: base.date_format,
        })
    }
}

fn split(path: &Path) -> (String, String) {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (stem, ext)
}

/// Moves `path` aside under a dated name; returns the new name. Compression and pruning
/// follow in the background.
pub fn rotate(path: &Path, rotation: &Rotation) -> std::io::Result<PathBuf> {
    let (stem, ext) = split(path);
    // A `/` in the format would name a directory.
    let stamp = format_date(&rotation.date_format, &Local::now()).replace('/', "-");
    let free = |name: &str| {
        let candidate = path.with_file_name(name);
        let mut gz = candidate.clone().into_os_string();
        gz.push(".gz");
        (!candidate.exists() && !Path::new(&gz).exists()).then_some(candidate)
    };
    // Several rotations with one stamp are numbered after it: `.1`, `.2`, ...
    let target = free(&format!("{stem}__{stamp}{ext}"))
        .or_else(|| (1..).find_map(|n: u64| free(&format!("{stem}__{stamp}.{n}{ext}"))))
        .ok_or_else(|| std::io::Error::other("no free name to rotate to"))?;
    std::fs::rename(path, &target)?;
    let job = Job { original: path.to_path_buf(), rotated: target.clone(), rotation: rotation.clone() };
    if background().send(job).is_err() {
        daemon_log!("log rotation worker is gone: {} is kept as it is", target.display());
    }
    Ok(target)
}

struct Job {
    original: PathBuf,
    rotated: PathBuf,
    rotation: Rotation,
}

/// Compression and pruning happen off the daemon's event loop, one rotation after the
/// other, so that pruning never counts (or deletes) a file still being compressed.
fn background() -> &'static std::sync::mpsc::Sender<Job> {
    static WORKER: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    WORKER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        // Without a thread (out of threads or memory) `rx` is dropped with the closure: each
        // rotation then says so and keeps the rotated file as it is.
        let spawned = std::thread::Builder::new()
            .name("log-rotation".into())
            .spawn(move || {
                for job in rx {
                    let done = RotatedFile::of(&job.rotated, &split(&job.original).1);
                    if job.rotation.compress {
                        if let Err(e) = gzip(&job.rotated) {
                            daemon_log!("cannot compress {}: {e}", job.rotated.display());
                        }
                    }
                    prune(&job.original, job.rotation.retain, done.as_ref());
                }
            });
        if let Err(e) = spawned {
            daemon_log!("cannot start the log rotation worker: {e}");
        }
        tx
    })
}

/// Gzips `path` into `path.gz` with the same modification time (rotations are ordered by
/// it), then removes `path`.
fn gzip(path: &Path) -> std::io::Result<()> {
    let mut gz_name = path.as_os_str().to_owned();
    gz_name.push(".gz");
    let mut input = std::fs::File::open(path)?;
    let modified = input.metadata()?.modified()?;
    let output = crate::home::open_private(Path::new(&gz_name), false)?;
    let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
    std::io::copy(&mut input, &mut encoder)?;
    let output = encoder.finish()?;
    output.set_modified(modified)?;
    output.sync_all()?;
    std::fs::remove_file(path)
}

/// A rotated file (or its `.gz`), in the order rotations happened: by modification time
/// (the last line written before its rotation), then by name, numbers compared as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RotatedFile {
    modified: SystemTime,
    /// The name without `.gz` and the log's extension: a rotation and its compressed form
    /// are one rotation, and `a__x` comes before `a__x.1`.
    name: String,
}

impl RotatedFile {
    fn of(path: &Path, ext: &str) -> Option<RotatedFile> {
        let modified = std::fs::metadata(path).ok()?.modified().ok()?;
        let name = path.file_name()?.to_string_lossy();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        Some(RotatedFile { modified, name: name.strip_suffix(ext).unwrap_or(name).to_string() })
    }
}

impl Ord for RotatedFile {
    fn cmp(&self, other: &Self) -> Ordering {
        self.modified.cmp(&other.modified).then_with(|| natural_cmp(&self.name, &other.name))
    }
}

impl PartialOrd for RotatedFile {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `a.9` < `a.10`, and a name before its numbered successors (`a` < `a.1`).
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let order = match (x, y) {
            ((true, x), (true, y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
            ((_, x), (_, y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len())
}

/// The rotated files of `original`: `<stem>__*<ext>` and `<stem>__*<ext>.gz`, one entry per
/// rotation, oldest first.
fn rotations_of(original: &Path) -> Vec<(RotatedFile, Vec<PathBuf>)> {
    let (stem, ext) = split(original);
    let prefix = format!("{stem}__");
    let Some(dir) = original.parent() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut by_name: std::collections::BTreeMap<String, (Option<RotatedFile>, Vec<PathBuf>)> = Default::default();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let base = name.strip_suffix(".gz").unwrap_or(&name);
        if !base.starts_with(&prefix) || !base.ends_with(&ext) || base.len() <= prefix.len() + ext.len() {
            continue;
        }
        let entry = by_name.entry(base.to_string()).or_default();
        // The uncompressed file dates the rotation while both exist.
        if entry.0.is_none() || !name.ends_with(".gz") {
            entry.0 = RotatedFile::of(&e.path(), &ext).or(entry.0.take());
        }
        entry.1.push(e.path());
    }
    let mut rotations: Vec<_> = by_name.into_values().filter_map(|(key, files)| Some((key?, files))).collect();
    rotations.sort_by(|a, b| a.0.cmp(&b.0));
    rotations
}

/// Keeps the newest `retain` rotations of `original` (a rotation and its `.gz` count once).
/// Only rotations up to `done` are removed: newer ones still wait for their own
/// compression, and their own turn to prune.
fn prune(original: &Path, retain: usize, done: Option<&RotatedFile>) {
    if retain == usize::MAX {
        return;
    }
    let rotations = rotations_of(original);
    let excess = rotations.len().saturating_sub(retain);
    for (key, files) in rotations.into_iter().take(excess) {
        if done.is_some_and(|d| key > *d) {
            break;
        }
        for f in files {
            let _ = std::fs::remove_file(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_order_numbers_as_numbers() {
        assert_eq!(natural_cmp("a-out__2024-01-01_00-00-00", "a-out__2024-01-01_00-00-00.1"), Ordering::Less);
        assert_eq!(natural_cmp("a-out__2024-01-01_00-00-00.9", "a-out__2024-01-01_00-00-00.10"), Ordering::Less);
        assert_eq!(natural_cmp("a-out__2024-01-01_00-00-00.10", "a-out__2024-01-01_00-00-01"), Ordering::Less);
    }

    #[test]
    fn app_values_win_over_defaults() {
        let defaults = Rotation { max_size: 1024, retain: 3, compress: true, date_format: "YYYY".into() };
        let app = Overrides { max_size: Some(10), retain: None, compress: Some(false) };
        assert_eq!(app.resolve(Some(&defaults)), Some(Rotation { max_size: 10, retain: 3, compress: false, date_format: "YYYY".into() }));
        assert_eq!(Overrides::default().resolve(Some(&defaults)), Some(defaults));
        assert_eq!(Overrides { retain: Some(2), ..Default::default() }.resolve(None), None);
        assert_eq!(app.resolve(None).map(|r| (r.max_size, r.retain)), Some((10, 30)));
    }

    #[test]
    fn rotates_with_date_format_and_prunes_oldest() {
        let dir = std::env::temp_dir().join(format!("pm2rs-rotate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("app-out.log");
        let r = Rotation { max_size: 10, retain: 2, compress: false, date_format: "YYYY.MM.DD".into() };
        let mut moved = Vec::new();
        for i in 0..4 {
            std::fs::write(&log, format!("line {i}\n")).unwrap();
            moved.push(rotate(&log, &r).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let today = format_date("YYYY.MM.DD", &Local::now());
        assert_eq!(moved[0].file_name().unwrap().to_string_lossy(), format!("app-out__{today}.log"));
        assert_eq!(moved[1].file_name().unwrap().to_string_lossy(), format!("app-out__{today}.1.log"));
        prune(&log, 2, None);
        let mut left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        left.sort();
        assert_eq!(left.len(), 2, "{left:?}");
        // The newest two rotations are the ones kept.
        for kept in &moved[2..] {
            assert!(left.contains(kept), "{kept:?} in {left:?}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
