//! `dump.pm2`: the saved process list, written atomically (temp file, fsync, rename), the
//! previous one kept byte for byte as `dump.pm2.bak`; and turning its entries (pm2_env
//! objects, from this daemon or from pm2 itself) back into start options; saving the
//! running list and starting a saved one.

use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::Daemon;

use crate::config::StartContext;
use crate::home::Home;

/// What a replaced file must outlive.
#[derive(Clone, Copy, PartialEq)]
pub enum Outlives {
    /// The daemon's death only: the kernel keeps what was written, no sync needed.
    Daemon,
    /// The machine's crash too: synced to disk before it replaces the old file.
    Machine,
}

/// Writes `bytes` to `path` so that a crash or a full disk leaves either the old or the new
/// file, whole (0600, never through a symlink).
pub fn write_atomic(path: &Path, bytes: &[u8], outlives: Outlives) -> std::io::Result<()> {
    let tmp = temp_beside(path, bytes, outlives)?;
    std::fs::rename(&tmp, path).inspect_err(|_| drop(std::fs::remove_file(&tmp)))?;
    if outlives == Outlives::Machine {
        sync_dir(path);
    }
    Ok(())
}

/// Writes `bytes` to a new file beside `path` (synced if it must outlive the machine); on
/// failure nothing is left behind.
fn temp_beside(path: &Path, bytes: &[u8], outlives: Outlives) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| if outlives == Outlives::Machine { f.sync_all() } else { Ok(()) }));
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Makes `bak` the current content of `file`, atomically.
fn keep_as_backup(file: &Path, bak: &Path) -> std::io::Result<()> {
    let link = bak.with_extension(format!("bak-{}", std::process::id()));
    let _ = std::fs::remove_file(&link);
    match std::fs::hard_link(file, &link) {
        Ok(()) => std::fs::rename(&link, bak).inspect_err(|_| drop(std::fs::remove_file(&link))),
        // A filesystem without hard links: a copy, written aside first.
        Err(_) => write_atomic(bak, &std::fs::read(file)?, Outlives::Machine),
    }
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

fn backup_path(home: &Home) -> std::path::PathBuf {
    let mut p = home.dump_file().into_os_string();
    p.push(".bak");
    p.into()
}

/// Saves `entries`, keeping the previous dump as `.bak`.
pub fn save(home: &Home, entries: &[Value]) -> Result<(), String> {
    let dump = home.dump_file();
    let text = serde_json::to_vec_pretty(entries).expect("JSON values always serialise");
    // The new dump is written whole first: a full disk changes neither file. Then the old
    // dump becomes the backup (a hard link: no copy, no space) and the new one replaces it,
    // each by a rename, so a reader always finds both files whole.
    let tmp = temp_beside(&dump, &text, Outlives::Machine).map_err(|e| format!("Cannot write {}: {e}", dump.display()))?;
    // A broken dump never replaces a good backup.
    if dump.exists() && parse(&dump).is_ok() {
        if let Err(e) = keep_as_backup(&dump, &backup_path(home)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("Cannot back up {}: {e}", dump.display()));
        }
    }
    std::fs::rename(&tmp, &dump).map_err(|e| format!("Cannot write {}: {e}", dump.display()))?;
    sync_dir(&dump);
    Ok(())
}

fn parse(path: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(entries)) => Ok(entries),
        Ok(_) => Err(format!("{} does not hold a list of processes", path.display())),
        Err(e) => Err(format!("{} is not valid JSON: {e}", path.display())),
    }
}

/// Reads the dump, falling back to `.bak` when it is missing or broken (see [`read`]).
pub fn load(home: &Home) -> Result<Vec<Value>, String> {
    let (entries, fallback) = read(home)?;
    if let Some(why) = fallback {
        daemon_log!("{why}; resurrecting from {}", backup_path(home).display());
    }
    Ok(entries)
}

/// The saved entries, and why the backup was read instead of the dump (if it was). A file
/// that exists but cannot be parsed is kept as `<file>.broken` for the user to look at: as
/// under pm2, neither broken file is left under its own name. Writes no log, so that a
/// client can call it too.
pub fn read(home: &Home) -> Result<(Vec<Value>, Option<String>), String> {
    let dump = home.dump_file();
    let first = match parse(&dump) {
        Ok(entries) => return Ok((entries, None)),
        Err(e) => e,
    };
    move_aside_if_present(&dump);
    let bak = backup_path(home);
    match parse(&bak) {
        Ok(entries) => Ok((entries, Some(first))),
        Err(_) => {
            move_aside_if_present(&bak);
            Err(format!("Nothing to resurrect: {first}"))
        }
    }
}

/// Renames a broken file to `<file>.broken` (a failure leaves it: the next read tries again).
fn move_aside_if_present(file: &Path) {
    if file.exists() {
        let mut broken = file.as_os_str().to_owned();
        broken.push(".broken");
        let _ = std::fs::rename(file, &broken);
    }
}

pub fn entry_of(description: &Value) -> Value {
    let mut env = description.get("pm2_env").cloned().unwrap_or(Value::Null);
    if let Value::Object(m) = &mut env {
        m.remove("pm_id");
        m.remove("instances");
    }
    env
}

/// Options a dump entry carries that are recomputed rather than restored.
const STATE_KEYS: &[&str] = &["env", "instances", "username"];

/// Start options for one dump entry, with the context it was started in. Entries of one
/// name are separate instances; the caller groups them.
pub fn start_options(entry: &Value, node_path: &str) -> Option<(Value, StartContext, bool)> {
    let e = entry.as_object()?;
    let script = e.get("pm_exec_path")?.as_str()?;
    let mut raw = Map::new();
    // Options under their canonical names only: the flattened environment shares this object.
    for (k, v) in e {
        if crate::config::is_option_key(k) && !STATE_KEYS.contains(&k.as_str()) {
            raw.insert(k.clone(), v.clone());
        }
    }
    raw.insert("script".into(), json!(script));
    for (key, from) in [("out_file", "pm_out_log_path"), ("error_file", "pm_err_log_path"), ("log_file", "pm_log_path")] {
        if let Some(p) = e.get(from).filter(|p| p.is_string()) {
            raw.insert(key.into(), p.clone());
        }
    }
    let cwd = e.get("pm_cwd").and_then(Value::as_str).unwrap_or("/");
    raw.insert("cwd".into(), json!(cwd));
    let env = e.get("env").and_then(Value::as_object).cloned().unwrap_or_default();
    // Only the environment travels: pm2's own per-instance variables are set again.
    raw.insert("env".into(), json!({}));
    let ctx = StartContext { cwd: cwd.into(), env, node_path: node_path.to_string(), ..Default::default() };
    let stopped = e.get("status").and_then(Value::as_str) == Some("stopped");
    Some((Value::Object(raw), ctx, !stopped))
}

/// Every app's dump entry, read in the supervisor.
async fn current_entries(d: &Daemon) -> Result<Vec<Value>, String> {
    d.ask(|s| s.table.iter().map(|p| entry_of(&p.describe(&s.d.home))).collect()).await
}

/// Why `dump` saved nothing.
#[derive(Debug)]
pub enum NotSaved {
    /// No app, and not forced: an empty list would replace the saved one.
    Empty,
    Failed(String),
}

impl std::fmt::Display for NotSaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotSaved::Empty => f.write_str("Process list empty, cannot save empty list"),
            NotSaved::Failed(e) => f.write_str(e),
        }
    }
}

/// `dump`: saves the process list; an empty one only when forced.
pub async fn save_current(d: &Daemon, force: bool) -> Result<(), NotSaved> {
    let entries = current_entries(d).await.map_err(NotSaved::Failed)?;
    if entries.is_empty() && !force {
        return Err(NotSaved::Empty);
    }
    save(&d.home, &entries).map_err(NotSaved::Failed)
}

/// Saves the process list unless it is empty (a signal stop must not erase a good dump).
pub async fn save_if_any(d: &Daemon) {
    if let Err(NotSaved::Failed(e)) = save_current(d, false).await {
        daemon_log!("{e}");
    }
}

/// Starts the dumped apps whose name is not running; instances of one name start together.
pub async fn resurrect(d: &Arc<Daemon>, node_path: &str) -> Result<Vec<u32>, String> {
    let entries = load(&d.home)?;
    let mut groups: Vec<(String, Value, StartContext, bool, u32)> = Vec::new();
    for entry in &entries {
        let Some((raw, ctx, autostart)) = start_options(entry, node_path) else { continue };
        let name = raw.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        match groups.iter_mut().find(|g| g.0 == name) {
            Some(g) => g.4 += 1,
            None => groups.push((name, raw, ctx, autostart, 1)),
        }
    }
    let running: HashSet<String> = d.ask(|s| s.table.iter().map(|p| p.spec.name.clone()).collect()).await?;
    let mut specs = Vec::new();
    for (name, mut raw, ctx, autostart, count) in groups {
        if running.contains(&name) {
            continue;
        }
        raw["instances"] = json!(count);
        raw["autostart"] = json!(autostart);
        match crate::config::normalize(&raw, &ctx, &d.home, d.settings.kill_timeout) {
            Ok(spec) => specs.push(spec),
            Err(e) => daemon_log!("cannot resurrect {name}: {e}"),
        }
    }
    d.ask(move |s| {
        let mut started = Vec::new();
        for spec in specs {
            if s.table.ids_named(&spec.name).is_empty() {
                started.extend(s.create(spec)?);
            }
        }
        Ok(started)
    })
    .await?
}
