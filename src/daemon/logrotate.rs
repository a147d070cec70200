//! pm2-logrotate's settings drive the built-in rotation. They live where pm2 keeps them,
//! under `pm2-logrotate` in `$PM2_HOME/module_conf.json` (`pm2 set pm2-logrotate:max_size
//! 10M`), are read at start and applied again, without a restart, when `set` / `unset` /
//! `multiset` change them. Their presence turns rotation on for every app, with
//! pm2-logrotate's defaults for the keys not given; an app's own `max_size`, `retain` and
//! `compress` still win. Without them, `PM2_LOG_*` give the defaults.

use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::rotate::{self, Overrides, Rotation};
use super::supervisor::Supervisor;
use super::Daemon;
use crate::config::{parse_bytes, parse_cron};
use crate::home::Home;

/// The module whose settings these are.
pub const MODULE: &str = "pm2-logrotate";
/// pm2-logrotate's default `rotateInterval`: every day at midnight.
const ROTATE_INTERVAL: &str = "0 0 * * *";

/// What pm2-logrotate's settings ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub rotation: Rotation,
    /// `rotateInterval`: a cron pattern at which every app's logs rotate, whatever their size.
    pub interval: String,
}

impl Settings {
    /// Reads a `pm2-logrotate` section; each value that cannot be used is a problem (its
    /// default stands in), named by its `pm2-logrotate:<key>`.
    pub fn parse(section: &Map<String, Value>) -> (Settings, Vec<String>) {
        let mut s = Settings {
            rotation: Rotation::default(),
            interval: ROTATE_INTERVAL.into(),
        };
        let mut problems = Vec::new();
        let text = |v: &Value| match v {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let boolean = |v: &Value| match text(v).as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        };
        for (key, v) in section {
            let ok = match key.as_str() {
                // An empty value is pm2-logrotate's default, as there.
                _ if text(v).is_some_and(|t| t.is_empty()) => true,
                "max_size" => parse_bytes(&json!(text(v))).filter(|n| *n > 0).map(|n| s.rotation.max_size = n).is_some(),
                "retain" => match text(v).as_deref() {
                    Some("all") => {
                        s.rotation.retain = usize::MAX;
                        true
                    }
                    Some(t) => t.parse::<usize>().map(|n| s.rotation.retain = n).is_ok(),
                    None => false,
                },
                "compress" => boolean(v).map(|b| s.rotation.compress = b).is_some(),
                "dateFormat" => text(v).map(|f| s.rotation.date_format = f).is_some(),
                "rotateInterval" => match text(v) {
                    Some(p) => match parse_cron(&p) {
                        Ok(_) => {
                            s.interval = p;
                            true
                        }
                        Err(e) => {
                            problems.push(format!("{MODULE}:rotateInterval must be a cron pattern such as \"0 0 * * *\" ({e}), got {v}"));
                            continue;
                        }
                    },
                    None => false,
                },
                // Sizes are checked at every write here, and no module runs: accepted, no effect.
                "workerInterval" => text(v).is_some_and(|t| t.parse::<u64>().is_ok_and(|n| n >= 1)),
                "rotateModule" => boolean(v).is_some(),
                "TZ" => {
                    problems.push(format!("{MODULE}:TZ is not supported: rotated files are dated in the daemon's local time (its TZ environment variable)"));
                    continue;
                }
                _ => {
                    problems.push(format!("Unknown key {MODULE}:{key}: pm2-logrotate's keys are max_size, retain, compress, dateFormat, rotateInterval, workerInterval, rotateModule"));
                    continue;
                }
            };
            if !ok {
                let expected = match key.as_str() {
                    "max_size" => "a size such as 10M, 512K or 1G",
                    "retain" => "a number of files, or all",
                    "compress" | "rotateModule" => "true or false",
                    "workerInterval" => "a number of seconds, at least 1",
                    _ => "a string",
                };
                problems.push(format!("{MODULE}:{key} must be {expected}, got {v}"));
            }
        }
        (s, problems)
    }

    /// The settings in `module_conf.json`, if it has any; what cannot be used is reported in
    /// `pm2.log` and left at its default.
    pub fn load(home: &Home) -> Option<Settings> {
        let file = home.module_conf_file();
        let text = std::fs::read_to_string(&file).ok()?;
        let conf: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                daemon_log!("{} is not valid JSON ({e}): log rotation ignores it", file.display());
                return None;
            }
        };
        let (settings, problems) = Settings::parse(conf.get(MODULE)?.as_object()?);
        for p in problems {
            daemon_log!("{}: {p}", file.display());
        }
        Some(settings)
    }

    pub fn to_json(&self) -> Value {
        let r = &self.rotation;
        json!({
            "max_size": r.max_size,
            "retain": if r.retain == usize::MAX { json!("all") } else { json!(r.retain) },
            "compress": r.compress,
            "dateFormat": r.date_format,
            "rotateInterval": self.interval,
        })
    }
}

/// The daemon's rotation defaults and the `rotateInterval` timer: one owner for both.
pub struct LogRotation {
    /// `PM2_LOG_*`, the defaults when pm2-logrotate has no settings.
    env: Option<Rotation>,
    /// What apps that do not set everything themselves rotate with; log writers follow it.
    defaults: watch::Sender<Option<Rotation>>,
    schedule: Mutex<Option<(String, JoinHandle<()>)>>,
}

impl LogRotation {
    pub fn new(env: Option<Rotation>) -> Self {
        LogRotation { defaults: watch::Sender::new(env.clone()), env, schedule: Mutex::new(None) }
    }

    /// The defaults, kept current: log writers check it before each write.
    pub fn subscribe(&self) -> watch::Receiver<Option<Rotation>> {
        self.defaults.subscribe()
    }

    pub fn defaults(&self) -> Option<Rotation> {
        self.defaults.borrow().clone()
    }

    /// Ends the `rotateInterval` timer (the daemon stops).
    pub fn stop(&self) {
        if let Some((_, job)) = self.schedule.lock().unwrap_or_else(|e| e.into_inner()).take() {
            job.abort();
        }
    }

    /// Makes pm2-logrotate's settings (or their absence) the daemon's.
    pub fn apply(&self, d: &Arc<Daemon>, settings: Option<Settings>) {
        let rotation = settings.as_ref().map(|s| s.rotation.clone()).or_else(|| self.env.clone());
        self.defaults.send_if_modified(|current| {
            let changed = *current != rotation;
            *current = rotation;
            changed
        });
        let interval = settings.map(|s| s.interval);
        let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        if schedule.as_ref().map(|(p, _)| p) == interval.as_ref() {
            return;
        }
        if let Some((_, job)) = schedule.take() {
            job.abort();
        }
        if let Some(pattern) = interval {
            if let Ok(cron) = parse_cron(&pattern) {
                *schedule = Some((pattern, tokio::spawn(rotate_on_schedule(d.clone(), cron))));
            }
        }
    }
}

/// At each occurrence of `rotateInterval`, every app's non-empty log files rotate.
async fn rotate_on_schedule(d: Arc<Daemon>, cron: croner::Cron) {
    let mut last = chrono::Local::now();
    loop {
        let now = chrono::Local::now().max(last);
        let Ok(next) = cron.find_next_occurrence(&now, false) else { return };
        tokio::time::sleep((next - now).to_std().unwrap_or(Duration::ZERO)).await;
        last = next;
        let _ = d.ask(rotate_all).await;
    }
}

/// Rotates the log files of every app in the table that hold something, each file once.
/// Runs as one supervisor step: no log writer writes between a rename and its reopening.
fn rotate_all(s: &mut Supervisor) {
    let defaults = s.d.log_rotation.defaults();
    let mut seen = HashSet::new();
    let mut rotated = false;
    for p in s.table.iter() {
        let spec = &p.spec;
        let Some(rotation) = Overrides::of(spec).resolve(defaults.as_ref()) else { continue };
        for path in spec.instance_logs(p.pm_id) {
            if path.starts_with("/dev") || !seen.insert(path.clone()) {
                continue;
            }
            if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() > 0) {
                match rotate::rotate(&path, &rotation) {
                    Ok(_) => rotated = true,
                    Err(e) => daemon_log!("cannot rotate {}: {e}", path.display()),
                }
            }
        }
    }
    if rotated {
        s.d.reload_logs();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> (Settings, Vec<String>) {
        Settings::parse(v.as_object().unwrap())
    }

    #[test]
    fn reads_pm2_logrotate_values_as_it_writes_them() {
        let (s, problems) = parse(json!({"max_size": "1K", "retain": "7", "compress": "true", "dateFormat": "YYYY-MM-DD", "rotateInterval": "*/5 * * * * *", "workerInterval": "30", "rotateModule": true}));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.rotation, Rotation { max_size: 1024, retain: 7, compress: true, date_format: "YYYY-MM-DD".into() });
        assert_eq!(s.interval, "*/5 * * * * *");
        let (defaults, _) = parse(json!({"max_size": ""}));
        assert_eq!((defaults.rotation.max_size, defaults.rotation.retain, defaults.interval.as_str()), (10 * 1024 * 1024, 30, "0 0 * * *"));
        assert_eq!(parse(json!({"retain": "all"})).0.rotation.retain, usize::MAX);
    }

    #[test]
    fn unusable_values_are_named() {
        let (s, problems) = parse(json!({"max_size": "big", "retain": "-1", "compress": "yes", "rotateInterval": "every day", "TZ": "Etc/GMT+1", "interval_unit": "DD"}));
        assert_eq!(s.rotation.max_size, 10 * 1024 * 1024);
        for key in ["max_size", "retain", "compress", "rotateInterval", "TZ", "interval_unit"] {
            assert!(problems.iter().any(|p| p.contains(&format!("pm2-logrotate:{key}"))), "{key} in {problems:?}");
        }
    }
}
