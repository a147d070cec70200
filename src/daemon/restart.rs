//! The restart policy: what happens when an app exits that nobody asked to stop.

use super::process_table::Proc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Stay down (`autorestart: false`, a `stop_exit_codes` code).
    Stay,
    /// Too many unstable restarts: `errored`, no restart.
    Overlimit,
    /// Restart after this many milliseconds.
    Restart(u64),
}

/// Applies pm2's exit rules to `p` (updating its counters) and says what to do next.
pub fn decide(p: &mut Proc, exit_code: Option<i32>, now: u64) -> Decision {
    let s = &p.spec;
    if !s.autorestart || exit_code.is_some_and(|c| s.stop_exit_codes.contains(&(c as i64))) {
        return Decision::Stay;
    }
    // An exit sooner than min_uptime after start counts as unstable.
    if now.saturating_sub(p.created_at) < s.min_uptime * s.max_restarts.max(1) && now.saturating_sub(p.pm_uptime) < s.min_uptime {
        p.unstable_restarts += 1;
    }
    if p.unstable_restarts >= s.max_restarts && s.max_restarts > 0 {
        p.unstable_restarts = 0;
        p.created_at = now;
        return Decision::Overlimit;
    }
    // Exponential back-off wins over a fixed delay: ×1.5 per crash, at most 15 s.
    if let Some(initial) = s.exp_backoff_restart_delay {
        p.prev_restart_delay = if p.prev_restart_delay == 0 { initial } else { (p.prev_restart_delay * 3 / 2).min(MAX_BACKOFF) };
        return Decision::Restart(p.prev_restart_delay);
    }
    Decision::Restart(s.restart_delay)
}

/// The longest exponential back-off between two restarts.
pub const MAX_BACKOFF: u64 = 15_000;


#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{normalize, StartContext};
    use crate::home::Home;
    use std::sync::Arc;

    fn proc_with(opts: serde_json::Value) -> Proc {
        let dir = std::env::temp_dir().join(format!("pm2rs-restart-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.js"), "").unwrap();
        let mut o = opts;
        o["script"] = "a.js".into();
        let ctx = StartContext { cwd: dir.clone(), ..Default::default() };
        let spec = normalize(&o, &ctx, &Home::new(dir.join("h")), 1600).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        Proc::new(0, Arc::new(spec), 0, 0)
    }

    #[test]
    fn autorestart_false_and_stop_codes_stay_down() {
        assert_eq!(decide(&mut proc_with(serde_json::json!({"autorestart": false})), Some(1), 10_000), Decision::Stay);
        assert_eq!(decide(&mut proc_with(serde_json::json!({"stop_exit_codes": [3]})), Some(3), 10_000), Decision::Stay);
    }

    #[test]
    fn quick_crashes_become_errored_after_max_restarts() {
        let mut p = proc_with(serde_json::json!({"max_restarts": 2, "restart_delay": 5}));
        assert_eq!(decide(&mut p, Some(1), 10), Decision::Restart(5));
        assert_eq!(decide(&mut p, Some(1), 20), Decision::Overlimit);
    }

    #[test]
    fn exponential_backoff_grows_to_a_cap() {
        let mut p = proc_with(serde_json::json!({"exp_backoff_restart_delay": 100, "max_restarts": 1000}));
        let delays: Vec<u64> = (0..14).map(|i| match decide(&mut p, Some(1), i * 10) {
            Decision::Restart(d) => d,
            other => panic!("{other:?}"),
        }).collect();
        assert_eq!(&delays[..4], &[100, 150, 225, 337]);
        assert_eq!(*delays.last().unwrap(), MAX_BACKOFF);
    }

    #[test]
    fn stable_runs_are_not_counted() {
        let mut p = proc_with(serde_json::json!({"max_restarts": 1}));
        assert_eq!(decide(&mut p, Some(1), 1_000_000), Decision::Restart(0));
        assert_eq!(p.unstable_restarts, 0);
    }
}
