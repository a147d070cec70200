//! Surviving the daemon's own death. The process table is saved as it changes
//! (`$PM2_HOME/process-table.json`, written atomically shortly after each change). A daemon
//! that finds a table left behind by one that died (even by SIGKILL) stops the old
//! generation's processes, whose pipes and channels died with their daemon, and starts
//! the same apps again under the same ids.

use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::process_table::{Proc, Status};
use super::tree::{ProcessId, StopTargets};
use super::{dump, exits, now_ms, Daemon};
use crate::config;

fn table_file(d: &Daemon) -> std::path::PathBuf {
    d.home.root.join("process-table.json")
}

/// The longest pause between two saves of the table while it keeps changing.
const SAVE_SPACING_MAX: Duration = Duration::from_secs(1);

/// How long an old generation's process has to end after SIGTERM, before SIGKILL.
const ORPHAN_GRACE: Duration = Duration::from_secs(1);

/// One entry of the saved table, written straight from the table (no copy of its options).
#[derive(Serialize)]
struct Record<'a> {
    pm_id: u32,
    pid: Option<u32>,
    pid_start: Option<u64>,
    restart_time: u64,
    unique_id: &'a str,
    created_at: u64,
    instance: u32,
    source: &'a Value,
    context: ContextWithoutEnv<'a>,
    status: &'a str,
}

/// The start context without the caller's environment: pm2 writes that to disk only in a
/// `dump`, so the table kept for recovery leaves it out (a restored app inherits the
/// environment of the daemon that restores it; its own `env` options are kept).
#[derive(Serialize)]
struct ContextWithoutEnv<'a> {
    cwd: &'a std::path::Path,
    node_path: &'a str,
    env_name: &'a Option<String>,
    node_version: &'a Option<String>,
}

fn snapshot(table: &super::process_table::ProcessTable) -> Vec<u8> {
    let records: Vec<Record> = table
        .iter()
        .map(|p| {
            let c = &p.spec.context;
            Record {
                pm_id: p.pm_id,
                pid: p.pid,
                pid_start: p.process().map(|p| p.started),
                restart_time: p.restart_time,
                unique_id: &p.unique_id,
                created_at: p.created_at,
                instance: p.instance,
                source: &p.spec.source,
                context: ContextWithoutEnv { cwd: &c.cwd, node_path: &c.node_path, env_name: &c.env_name, node_version: &c.node_version },
                status: p.status.as_str(),
            }
        })
        .collect();
    serde_json::to_vec(&records).expect("the table always serialises")
}

/// Writes the table shortly after each change (changes that come together, one write).
/// The table only has to outlive the daemon (after a reboot its processes are gone anyway),
/// so it is not synced to disk. Saving a big table still holds the daemon's one thread: the
/// next save waits four times as long as the last one took (at most `SAVE_SPACING_MAX`), so
/// saving never takes more than a fifth of the daemon's time, however fast the table changes.
pub async fn persist(daemon: Arc<Daemon>) {
    loop {
        daemon.table_changed.notified().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        let Ok(bytes) = daemon.ask(|s| snapshot(&s.table)).await else { return };
        if let Err(e) = dump::write_atomic(&table_file(&daemon), &bytes, dump::Outlives::Daemon) {
            daemon_log!("cannot save the process table: {e}");
        }
        tokio::time::sleep((started.elapsed() * 4).min(SAVE_SPACING_MAX)).await;
    }
}

/// After a clean shutdown there is nothing to recover.
pub fn forget(d: &Daemon) {
    let _ = std::fs::remove_file(table_file(d));
}

/// Stops an old generation's process and everything under it: SIGTERM, SIGKILL what is
/// left after `ORPHAN_GRACE`. Waits on exits, and signals only the processes it found.
async fn stop_orphan(process: ProcessId) {
    let targets = StopTargets::find(process, true, Vec::new());
    targets.signal(Signal::SIGTERM);
    if !exits::all_gone(&[process.pid], ORPHAN_GRACE).await {
        targets.signal(Signal::SIGKILL);
    }
    exits::finish_tree(&targets, ORPHAN_GRACE).await;
}

/// Takes over the table a dead daemon left: its processes are stopped, its apps started
/// again with their ids, restart counts and unique ids.
pub async fn restore(d: &Arc<Daemon>) {
    let Ok(text) = std::fs::read(table_file(d)) else { return };
    let records: Vec<Value> = match serde_json::from_slice(&text) {
        Ok(Value::Array(r)) => r,
        _ => {
            daemon_log!("the saved process table is unreadable: starting empty");
            return;
        }
    };
    if records.is_empty() {
        return;
    }
    daemon_log!("the previous daemon died: taking over {} process(es)", records.len());
    // Only a process that is still the one recorded (same pid, same start time) is stopped.
    let orphans = records.iter().filter_map(|r| {
        let process = ProcessId { pid: r["pid"].as_u64()? as u32, started: r["pid_start"].as_u64()? };
        (ProcessId::of(process.pid) == Some(process)).then_some(process)
    });
    futures_util::future::join_all(orphans.map(stop_orphan)).await;
    let mut procs = Vec::new();
    for r in records {
        let Some(pm_id) = r["pm_id"].as_u64().map(|i| i as u32) else { continue };
        let Ok(mut ctx) = serde_json::from_value::<config::StartContext>(r["context"].clone()) else { continue };
        if ctx.env.is_empty() {
            ctx.env = std::env::vars().map(|(k, v)| (k, Value::String(v))).collect();
        }
        let spec = match config::normalize(&r["source"], &ctx, &d.home, d.settings.kill_timeout) {
            Ok(s) => s,
            Err(e) => {
                daemon_log!("cannot restore process {pm_id}: {e}");
                continue;
            }
        };
        let mut p = Proc::new(pm_id, Arc::new(spec), r["instance"].as_u64().unwrap_or(0) as u32, r["created_at"].as_u64().unwrap_or_else(now_ms));
        p.restart_time = r["restart_time"].as_u64().unwrap_or(0);
        if let Some(u) = r["unique_id"].as_str() {
            p.unique_id = u.to_string();
        }
        let was = r["status"].as_str().unwrap_or("stopped");
        p.status = if was == "errored" { Status::Errored } else { Status::Stopped };
        procs.push((p, matches!(was, "online" | "launching" | "waiting restart" | "stopping")));
    }
    let _ = d
        .ask(move |s| {
            let mut to_launch = Vec::new();
            for (p, launch) in procs {
                if launch {
                    to_launch.push(p.pm_id);
                }
                s.table.insert_with_id(p);
            }
            for pm_id in to_launch {
                if let Err(e) = s.launch(pm_id) {
                    daemon_log!("{e}");
                }
            }
        })
        .await;
}
