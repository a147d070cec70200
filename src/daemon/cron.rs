//! `cron_restart`: one timer per app instance that restarts it at each occurrence of its
//! pattern. Owned by the supervisor. Kept across stop (as in pm2), replaced when the pattern changes, removed on delete.

use chrono::Local;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

use super::Daemon;
use crate::config::parse_cron;

#[derive(Default)]
pub struct CronJobs(HashMap<u32, (String, JoinHandle<()>)>);

impl CronJobs {
    /// Makes the job of `pm_id` follow `pattern` (or removes it).
    pub fn ensure(&mut self, daemon: &Arc<Daemon>, pm_id: u32, pattern: Option<&str>) {
        let jobs = &mut self.0;
        if let Some((current, _)) = jobs.get(&pm_id) {
            if Some(current.as_str()) == pattern {
                return;
            }
        }
        if let Some((_, old)) = jobs.remove(&pm_id) {
            old.abort();
        }
        let Some(pattern) = pattern else { return };
        let Ok(cron) = parse_cron(pattern) else { return };
        let daemon = daemon.clone();
        let job = tokio::spawn(async move {
            loop {
                let now = Local::now();
                let Ok(next) = cron.find_next_occurrence(&now, false) else { return };
                let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait).await;
                daemon_log!("cron_restart: restarting process {pm_id}");
                // A restart that fails (deleted meanwhile) ends nothing but this round.
                let d = daemon.clone();
                tokio::spawn(async move {
                    let _ = d.restart(pm_id).await;
                });
                // Never fire twice for one occurrence.
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
        });
        jobs.insert(pm_id, (pattern.to_string(), job));
    }

    pub fn remove(&mut self, pm_id: u32) {
        if let Some((_, job)) = self.0.remove(&pm_id) {
            job.abort();
        }
    }
}
