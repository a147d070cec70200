//! Built-in log rotation (pm2 needs a module for it): when a log file reaches `max_size`
//! it is renamed with a date stamp (`app-out__2024-03-07_14-05-09.log`), optionally
//! gzipped, and only the newest `retain` rotated files are kept.

use chrono::Local;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Rotation {
    pub max_size: u64,
    pub retain: usize,
    pub compress: bool,
}

fn split(path: &Path) -> (String, String) {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (stem, ext)
}

/// Moves `path` aside under a dated name; returns the new name.
pub fn rotate(path: &Path, rotation: &Rotation) -> std::io::Result<PathBuf> {
    let (stem, ext) = split(path);
    let stamp = Local::now().format("%Y-%m-%d_%H-%M-%S").to_string();
    // Several rotations within a second are numbered after the newest one so far, never
    // into a gap left by pruning, so that names keep the order of rotations.
    let prefix = format!("{stem}__");
    let taken = std::fs::read_dir(path.parent().unwrap_or(Path::new(".")))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| rotation_key(&e.file_name().to_string_lossy(), &prefix, &ext))
        .filter(|(s, _)| *s == stamp)
        .map(|(_, n)| n)
        .max();
    let target = match taken {
        None => path.with_file_name(format!("{stem}__{stamp}{ext}")),
        Some(n) => path.with_file_name(format!("{stem}__{stamp}.{}{ext}", n + 1)),
    };
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
        std::thread::Builder::new()
            .name("log-rotation".into())
            .spawn(move || {
                for job in rx {
                    if job.rotation.compress {
                        if let Err(e) = gzip(&job.rotated) {
                            daemon_log!("cannot compress {}: {e}", job.rotated.display());
                        }
                    }
                    prune(&job.original, job.rotation.retain, rotation_key_of(&job.original, &job.rotated));
                }
            })
            .expect("a thread for log rotation");
        tx
    })
}

fn gzip(path: &Path) -> std::io::Result<()> {
    let mut gz_name = path.as_os_str().to_owned();
    gz_name.push(".gz");
    let mut input = std::fs::File::open(path)?;
    let output = crate::home::open_private(Path::new(&gz_name), false)?;
    let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
    std::io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    std::fs::remove_file(path)
}

/// `app-out__2024-03-07_14-05-09.2.log.gz` → (`2024-03-07_14-05-09`, 2): which rotation a
/// file holds, in the order rotations happened.
fn rotation_key(name: &str, prefix: &str, ext: &str) -> Option<(String, u32)> {
    let rest = name.strip_prefix(prefix)?;
    let rest = rest.strip_suffix(".gz").unwrap_or(rest);
    let rest = rest.strip_suffix(ext).unwrap_or(rest);
    match rest.split_once('.') {
        Some((stamp, n)) => Some((stamp.to_string(), n.parse().ok()?)),
        None => Some((rest.to_string(), 0)),
    }
}

fn rotation_key_of(original: &Path, rotated: &Path) -> Option<(String, u32)> {
    let (stem, ext) = split(original);
    rotation_key(&rotated.file_name()?.to_string_lossy(), &format!("{stem}__"), &ext)
}

/// Keeps the newest `retain` rotations of `original` (a rotation and its `.gz` count once).
/// Only rotations up to `done` are removed: newer ones still wait for their own
/// compression, and their own turn to prune.
pub fn prune(original: &Path, retain: usize, done: Option<(String, u32)>) {
    let (stem, ext) = split(original);
    let prefix = format!("{stem}__");
    let Some(dir) = original.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut rotations: std::collections::BTreeMap<(String, u32), Vec<PathBuf>> = Default::default();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(key) = rotation_key(&name, &prefix, &ext) {
            rotations.entry(key).or_default().push(e.path());
        }
    }
    let excess = rotations.len().saturating_sub(retain);
    for (key, files) in rotations.into_iter().take(excess) {
        if done.as_ref().is_some_and(|d| key > *d) {
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
    fn rotation_keys_order_rotations() {
        let k = |n: &str| rotation_key(n, "a-out__", ".log").unwrap();
        assert!(k("a-out__2024-01-01_00-00-00.log") < k("a-out__2024-01-01_00-00-00.1.log.gz"));
        assert!(k("a-out__2024-01-01_00-00-00.9.log") < k("a-out__2024-01-01_00-00-00.10.log"));
        assert!(k("a-out__2024-01-01_00-00-00.10.log") < k("a-out__2024-01-01_00-00-01.log"));
    }

    #[test]
    fn rotates_and_prunes() {
        let dir = std::env::temp_dir().join(format!("pm2rs-rotate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("app-out.log");
        let r = Rotation { max_size: 10, retain: 2, compress: false };
        let mut moved = Vec::new();
        for i in 0..4 {
            std::fs::write(&log, format!("line {i}\n")).unwrap();
            moved.push(rotate(&log, &r).unwrap());
        }
        assert!(moved[0].file_name().unwrap().to_string_lossy().starts_with("app-out__"));
        prune(&log, 2, None);
        let mut left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        left.sort();
        assert_eq!(left.len(), 2);
        // The newest two rotations are the ones kept.
        for kept in &moved[2..] {
            assert!(left.contains(kept), "{kept:?} in {left:?}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
