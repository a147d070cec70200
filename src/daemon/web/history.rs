//! Each app's CPU and memory over the last hour, for the dashboard's charts: the monitor's
//! samples averaged over `STEP` and kept in a ring of `POINTS` per app. Always on, so a page
//! opened after an incident still shows it.
//!
//! Cost: `POINTS` points of 12 bytes, about 4.3 KiB per app at most (86 KiB for 20 apps),
//! plus one 16-byte running average per app.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::daemon::process_table::Monit;

/// One point per ten seconds...
pub const STEP_SECS: u32 = 10;
/// ...for an hour.
pub const POINTS: usize = 360;

#[derive(Clone, Copy)]
struct Point {
    /// Seconds since the epoch at the end of the step.
    at: u32,
    /// Average CPU over the step, in percent of one core.
    cpu: f32,
    /// Largest resident memory seen during the step, in KiB.
    memory_kib: u32,
}

#[derive(Default)]
struct Ring {
    points: VecDeque<Point>,
    /// The step being averaged: its start, CPU sum, sample count and peak memory.
    step_start: u32,
    cpu_sum: f32,
    samples: u32,
    memory_kib: u32,
}

#[derive(Default)]
pub struct History {
    rings: Mutex<HashMap<u32, Ring>>,
}

impl History {
    /// Adds one monitor round (`(pm_id, pid, monit)` of every running app) taken at `now`
    /// (seconds since the epoch); rings of apps gone for an hour are dropped.
    pub fn record(&self, samples: &[(u32, u32, Monit)], now: u32) {
        let mut rings = self.rings.lock();
        for (pm_id, _, monit) in samples {
            let ring = rings.entry(*pm_id).or_insert_with(|| Ring { step_start: now, ..Ring::default() });
            ring.cpu_sum += monit.cpu as f32;
            ring.samples += 1;
            ring.memory_kib = ring.memory_kib.max((monit.memory / 1024).min(u64::from(u32::MAX)) as u32);
        }
        for ring in rings.values_mut() {
            if now.saturating_sub(ring.step_start) < STEP_SECS {
                continue;
            }
            if ring.samples > 0 {
                if ring.points.len() == POINTS {
                    ring.points.pop_front();
                }
                ring.points.push_back(Point { at: now, cpu: ring.cpu_sum / ring.samples as f32, memory_kib: ring.memory_kib });
            }
            (ring.step_start, ring.cpu_sum, ring.samples, ring.memory_kib) = (now, 0.0, 0, 0);
        }
        let hour = STEP_SECS * POINTS as u32;
        rings.retain(|_, r| r.samples > 0 || r.points.back().is_some_and(|p| now.saturating_sub(p.at) < hour));
    }

    /// `{pm_id: [[at_ms, cpu, memory_bytes], ...]}`, oldest first.
    pub fn to_json(&self) -> Value {
        let rings = self.rings.lock();
        let map = rings
            .iter()
            .map(|(id, r)| {
                let points = r.points.iter().map(|p| json!([u64::from(p.at) * 1000, (p.cpu * 10.0).round() / 10.0, u64::from(p.memory_kib) * 1024])).collect();
                (id.to_string(), Value::Array(points))
            })
            .collect();
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(h: &History, ids: &[u32], cpu: f64, memory: u64, now: u32) {
        let samples: Vec<_> = ids.iter().map(|id| (*id, 100, Monit { cpu, memory })).collect();
        h.record(&samples, now);
    }

    #[test]
    fn a_step_averages_cpu_and_keeps_peak_memory() {
        let h = History::default();
        round(&h, &[0], 10.0, 2048, 1000);
        round(&h, &[0], 30.0, 4096, 1005);
        assert_eq!(h.to_json()["0"], json!([]));
        round(&h, &[0], 20.0, 1024, 1010);
        assert_eq!(h.to_json()["0"], json!([[1_010_000u64, 20.0, 4096]]));
    }

    #[test]
    fn the_ring_holds_one_hour_and_forgets_apps_gone_for_an_hour() {
        let h = History::default();
        for i in 0..(POINTS as u32 + 50) {
            round(&h, &[1, 2], 1.0, 1024, 1000 + i * STEP_SECS);
        }
        assert_eq!(h.to_json()["1"].as_array().unwrap().len(), POINTS);
        let last = 1000 + (POINTS as u32 + 49) * STEP_SECS;
        round(&h, &[1], 1.0, 1024, last + 2 * STEP_SECS * POINTS as u32);
        assert!(h.to_json().get("2").is_none() && h.to_json().get("1").is_some());
    }
}
