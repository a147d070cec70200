//! What the dashboard's pages follow live: one bus subscription while the web interface is
//! on, turned into server-sent-event frames for every open page (a bounded broadcast: a page
//! that falls behind is told how many messages it skipped), plus the last log lines and
//! process events, so that a page opened now shows what just happened.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::daemon::handlers::{self, Answer};
use crate::daemon::Daemon;
use crate::protocol::{Event, Request};

/// Frames waiting for a slow page before it starts skipping.
const QUEUE: usize = 1024;
/// Recent log lines and process events kept for a page that opens.
const RECENT_LOGS: usize = 300;
const RECENT_EVENTS: usize = 200;
/// A log line longer than this reaches the page cut.
const MAX_LINE: usize = 4096;

pub struct Feed {
    /// `None` once the interface is stopped: the pages' streams then end.
    frames: Mutex<Option<broadcast::Sender<Bytes>>>,
    logs: Mutex<VecDeque<Value>>,
    events: Mutex<VecDeque<Value>>,
}

/// One server-sent event.
pub fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

impl Feed {
    pub fn new() -> Self {
        Feed { frames: Mutex::new(Some(broadcast::channel(QUEUE).0)), logs: Default::default(), events: Default::default() }
    }

    pub fn subscribe(&self) -> Option<broadcast::Receiver<Bytes>> {
        self.frames.lock().as_ref().map(broadcast::Sender::subscribe)
    }

    /// Ends every page's stream.
    pub fn close(&self) {
        self.frames.lock().take();
    }

    pub fn recent_logs(&self) -> Vec<Value> {
        self.logs.lock().iter().cloned().collect()
    }

    pub fn recent_events(&self) -> Vec<Value> {
        self.events.lock().iter().cloned().collect()
    }

    fn publish(&self, event: &str, data: Value, keep: Option<(&Mutex<VecDeque<Value>>, usize)>) {
        if let Some(frames) = self.frames.lock().as_ref() {
            if frames.receiver_count() > 0 {
                let _ = frames.send(sse(event, &data));
            }
        }
        if let Some((ring, max)) = keep {
            let mut ring = ring.lock();
            if ring.len() == max {
                ring.pop_front();
            }
            ring.push_back(data);
        }
    }

    fn watched(&self) -> bool {
        self.frames.lock().as_ref().is_some_and(|f| f.receiver_count() > 0)
    }
}

/// The apps as the page lists them: no options, no environment.
pub async fn summaries(d: &Arc<Daemon>) -> Result<Value, String> {
    let Answer::Json(list) = handlers::dispatch(d, Request::List).await? else { return Err("unexpected answer to list".into()) };
    let procs: Vec<Value> = serde_json::from_slice(&list).map_err(|e| e.to_string())?;
    Ok(procs
        .iter()
        .map(|p| {
            let env = &p["pm2_env"];
            json!({
                "pm_id": p["pm_id"], "name": p["name"], "pid": p["pid"], "namespace": env["namespace"],
                "status": env["status"], "restarts": env["restart_time"], "unstable_restarts": env["unstable_restarts"],
                "pm_uptime": env["pm_uptime"], "exec_mode": env["exec_mode"], "exit_code": env["exit_code"],
                "cpu": p["monit"]["cpu"], "memory": p["monit"]["memory"],
            })
        })
        .collect())
}

/// Follows the bus, and the process list each second while a page is open, until dropped.
pub async fn run(d: Arc<Daemon>, feed: Arc<Feed>) {
    // Dropped with this task: the bus then builds nothing for pages any more.
    let subscription = d.bus.subscribe(d.home.root.clone(), d.settings.bus_limits);
    let backlog = subscription.backlog();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if feed.watched() {
                    if let Ok(procs) = summaries(&d).await {
                        feed.publish("procs", procs, None);
                    }
                }
            }
            got = backlog.next(&mut buf, 256 * 1024) => {
                if let Err(e) = got {
                    daemon_log!("web dashboard: the event feed stopped: {e}");
                    return;
                }
                for event in frames(&mut buf) {
                    route(&feed, event);
                }
            }
        }
    }
}

/// Takes the whole frames (4-byte length, then JSON) out of `buf`; a partial one stays.
fn frames(buf: &mut Vec<u8>) -> Vec<Event> {
    let mut events = Vec::new();
    let mut at = 0;
    while buf.len() - at >= 4 {
        let len = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if buf.len() - at - 4 < len {
            break;
        }
        if let Ok(e) = serde_json::from_slice(&buf[at + 4..at + 4 + len]) {
            events.push(e);
        }
        at += 4 + len;
    }
    buf.drain(..at);
    events
}

/// `line`, cut to `MAX_LINE` bytes with a mark when longer.
fn cut(line: &str) -> String {
    if line.len() <= MAX_LINE {
        return line.to_string();
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

fn route(feed: &Feed, e: Event) {
    let d = &e.data;
    match e.event.as_str() {
        "log:out" | "log:err" => {
            // A chunk of output may hold many lines: each is its own message, so that a page
            // that skips is told how many lines.
            let stream = if e.event == "log:out" { "out" } else { "err" };
            for line in d["data"].as_str().unwrap_or_default().split_terminator('\n') {
                let line = cut(line.strip_suffix('\r').unwrap_or(line));
                let item = json!({"at": d["at"], "pm_id": d["process"]["pm_id"], "name": d["process"]["name"], "stream": stream, "line": line});
                feed.publish("log", item, Some((&feed.logs, RECENT_LOGS)));
            }
        }
        "process:event" => {
            let p = &d["process"];
            let item = json!({
                "at": d["at"], "event": d["event"], "manually": d["manually"], "pm_id": p["pm_id"], "name": p["name"],
                "status": p["status"], "exit_code": p["exit_code"], "signal": d["signal"], "reason": d["reason"], "restarts": p["restart_time"],
            });
            feed.publish("event", item, Some((&feed.events, RECENT_EVENTS)));
        }
        "process:exception" => {
            let item = json!({"at": d["at"], "event": "exception", "pm_id": d["process"]["pm_id"], "name": d["process"]["name"], "message": d["data"]["message"]});
            feed.publish("event", item, Some((&feed.events, RECENT_EVENTS)));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_and_a_partial_one_waits() {
        let one = crate::protocol::encode(&Event { event: "log:out".into(), data: json!({"data": "a"}) });
        let mut buf = [one.clone(), one[..5].to_vec()].concat();
        assert_eq!(frames(&mut buf).len(), 1);
        buf.extend_from_slice(&one[5..]);
        assert_eq!(frames(&mut buf)[0].data["data"], "a");
        assert!(buf.is_empty());
    }

    #[tokio::test]
    async fn a_page_that_falls_behind_is_told_what_it_skipped() {
        let feed = Feed::new();
        let mut rx = feed.subscribe().unwrap();
        for i in 0..QUEUE + 10 {
            route(&feed, Event { event: "log:out".into(), data: json!({"data": format!("line {i}"), "process": {"pm_id": 0, "name": "a"}}) });
        }
        assert!(matches!(rx.recv().await, Err(broadcast::error::RecvError::Lagged(10))));
        route(&feed, Event { event: "log:err".into(), data: json!({"data": "one\r\ntwo\n", "process": {"pm_id": 0, "name": "a"}}) });
        let lines: Vec<Value> = feed.recent_logs().iter().rev().take(2).map(|l| l["line"].clone()).collect();
        assert_eq!(lines, [json!("two"), json!("one")]);
        assert_eq!(feed.recent_logs().len(), RECENT_LOGS);
        feed.close();
    }
}
