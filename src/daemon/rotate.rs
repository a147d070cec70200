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
    let stamp = Local::now().format("%Y-%m-%d_%H-%M-%S");
    let mut target = path.with_file_name(format!("{stem}__{stamp}{ext}"));
    let mut n = 1;
    while target.exists() || target.with_extension(format!("{}.gz", ext.trim_start_matches('.'))).exists() {
        target = path.with_file_name(format!("{stem}__{stamp}.{n}{ext}"));
        n += 1;
    }
    std::fs::rename(path, &target)?;
    let rotation = rotation.clone();
    let original = path.to_path_buf();
    let rotated = target.clone();
    // Compression and pruning happen off the daemon's event loop.
    std::thread::spawn(move || {
        if rotation.compress {
            if let Err(e) = gzip(&rotated) {
                daemon_log!("cannot compress {}: {e}", rotated.display());
            }
        }
        prune(&original, rotation.retain);
    });
    Ok(target)
}

fn gzip(path: &Path) -> std::io::Result<()> {
    let mut gz_name = path.as_os_str().to_owned();
    gz_name.push(".gz");
    let mut input = std::fs::File::open(path)?;
    let output = std::fs::File::create(&gz_name)?;
    let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::default());
    std::io::copy(&mut input, &mut encoder)?;
    encoder.finish()?.sync_all()?;
    std::fs::remove_file(path)
}

/// Keeps the newest `retain` rotated files of `original`.
pub fn prune(original: &Path, retain: usize) {
    let (stem, _) = split(original);
    let prefix = format!("{stem}__");
    let Some(dir) = original.parent() else { return };
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut rotated: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    rotated.sort();
    let excess = rotated.len().saturating_sub(retain);
    for (_, path) in rotated.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_prunes() {
        let dir = std::env::temp_dir().join(format!("pm2rs-rotate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("app-out.log");
        let r = Rotation { max_size: 10, retain: 2, compress: false };
        for i in 0..4 {
            std::fs::write(&log, format!("line {i}\n")).unwrap();
            let moved = rotate(&log, &r).unwrap();
            assert!(moved.file_name().unwrap().to_string_lossy().starts_with("app-out__"));
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
        prune(&log, 2);
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
