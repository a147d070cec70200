//! CPU and memory of every app and its children, sampled on one cadence, off
//! the request path: `list()` returns the last sample. The same round checks
//! `max_memory_restart` and resets the exponential back-off of apps that ran long enough.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::process_table::Monit;
use super::Daemon;

/// CPU time (in `platform::cpu_ticks_per_second` units) and resident bytes of one pid.
pub fn sample(pid: u32) -> Option<(u64, u64)> {
    crate::platform::usage(pid)
}

/// CPU time and resident bytes of `pid` and everything under it. Children are found through
/// the main thread (Node spawns from its main thread), which costs one read per process
/// instead of a scan of every process.
pub fn sample_tree(pid: u32) -> Option<(u64, u64)> {
    let (mut ticks, mut rss) = sample(pid)?;
    let mut stack = vec![pid];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        for child in crate::platform::main_thread_children(p) {
            if let Some((t, r)) = sample(child) {
                ticks += t;
                rss += r;
            }
            seen += 1;
            if seen < 1024 {
                stack.push(child);
            }
        }
    }
    Some((ticks, rss))
}

/// Samples every running app each `interval` until the daemon stops.
pub async fn run(daemon: Arc<Daemon>, interval: Duration) {
    let hz = crate::platform::cpu_ticks_per_second();
    let mut last: HashMap<u32, (u64, Instant)> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Ok(pids) = daemon.ask(|s| s.table.iter().filter_map(|p| p.pid.map(|pid| (p.pm_id, pid))).collect::<Vec<_>>()).await else { return };
        let now = Instant::now();
        let mut samples = Vec::with_capacity(pids.len());
        let mut seen = HashMap::with_capacity(pids.len());
        for (pm_id, pid) in pids {
            let Some((ticks, rss)) = sample_tree(pid) else { continue };
            let cpu = match last.get(&pid) {
                Some((prev, at)) => {
                    let secs = now.duration_since(*at).as_secs_f64();
                    if secs > 0.0 {
                        (ticks.saturating_sub(*prev) as f64 / hz) / secs * 100.0
                    } else {
                        0.0
                    }
                }
                None => 0.0,
            };
            seen.insert(pid, (ticks, now));
            samples.push((pm_id, pid, Monit { memory: rss, cpu }));
        }
        last = seen;
        daemon.web.history.record(&samples, (super::now_ms() / 1000) as u32);
        // The supervisor records them, and restarts apps over their memory limit.
        let _ = daemon.inbox.send(super::supervisor::Msg::Samples(samples));
        // Hand freed heap pages back to the system: a burst (many starts, a large list)
        // would otherwise keep the daemon at its peak size for good.
        // SAFETY: malloc_trim only walks glibc's own free lists (other C libraries lack it).
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        unsafe { libc::malloc_trim(0) };
    }
}
