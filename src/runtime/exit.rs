//! When to exit by ourselves: once every app has stopped (unless `--no-auto-exit`), with 0 if
//! they all ended well and 2 (pm2-runtime's code) if any ended in error.

use serde_json::Value;
use std::time::Duration;

use crate::client::Connection;

/// Statuses of an app that is running or about to run again.
const ALIVE: [&str; 4] = ["online", "launching", "waiting restart", "stopping"];

/// The exit code once no app is alive, `None` while one is.
pub fn verdict(list: &[Value]) -> Option<i32> {
    let status = |p: &Value| p["pm2_env"]["status"].as_str().unwrap_or("").to_string();
    if list.iter().any(|p| ALIVE.contains(&status(p).as_str())) {
        return None;
    }
    let failed = list.is_empty()
        || list.iter().any(|p| status(p) == "errored" || p["pm2_env"]["exit_code"].as_i64().is_some_and(|c| c != 0));
    Some(if failed { 2 } else { 0 })
}

/// Resolves with the exit code once every app has stopped; `changed` is notified at each
/// process event. Never resolves while the apps are being stopped by a signal.
pub async fn when_all_stopped(conn: &Connection, changed: &tokio::sync::Notify) -> i32 {
    let mut seen_stopped = false;
    loop {
        let wait = if seen_stopped { Duration::from_millis(300) } else { Duration::from_secs(1) };
        tokio::select! {
            _ = changed.notified(), if !seen_stopped => {}
            _ = tokio::time::sleep(wait) => {}
        }
        if super::signals::stopping() {
            continue;
        }
        let Ok(Value::Array(list)) = conn.call("list", Value::Null).await else { continue };
        match verdict(&list) {
            // Seen twice, a little apart: an app between its exit and its restart is not stopped.
            Some(code) if seen_stopped => return code,
            Some(_) => seen_stopped = true,
            None => seen_stopped = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(status: &str, code: i64) -> Value {
        json!({"pm2_env": {"status": status, "exit_code": code}})
    }

    #[test]
    fn runs_while_an_app_is_alive_then_says_how_they_ended() {
        assert_eq!(verdict(&[app("online", 0), app("stopped", 0)]), None);
        assert_eq!(verdict(&[app("waiting restart", 1)]), None);
        assert_eq!(verdict(&[app("stopped", 0), app("stopped", 0)]), Some(0));
        assert_eq!(verdict(&[app("stopped", 0), app("errored", 1)]), Some(2));
        assert_eq!(verdict(&[app("stopped", 3)]), Some(2));
        assert_eq!(verdict(&[]), Some(2));
    }
}
