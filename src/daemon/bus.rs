//! The event bus: process events, app messages and log lines pushed to every subscribed
//! connection. Nothing is built while nobody listens; each subscriber has its own backlog
//! (bounded memory, then a spool file), so a slow one loses nothing and slows nobody.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::path::PathBuf;
use parking_lot::Mutex;
use std::sync::Arc;

use super::backlog::{Backlog, Limits};
use crate::protocol::{self, Event};

pub type Frame = Arc<[u8]>;

#[derive(Default)]
pub struct Bus {
    subscribers: Mutex<Vec<(u64, Arc<Backlog>)>>,
    listening: AtomicUsize,
    next_id: AtomicU64,
}

impl Bus {
    /// Someone listens: only then are events worth building.
    pub fn active(&self) -> bool {
        self.listening.load(Ordering::Relaxed) > 0
    }

    /// A new subscriber, whose overflow is spooled in `spool_dir`; it stays on the bus until
    /// the answer is dropped.
    pub fn subscribe(&self, spool_dir: PathBuf, limits: Limits) -> Subscription<'_> {
        let backlog = Arc::new(Backlog::new(spool_dir, limits));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subs = self.subscribers.lock();
        subs.push((id, backlog.clone()));
        self.listening.store(subs.len(), Ordering::Relaxed);
        Subscription { bus: self, id, backlog }
    }

    fn unsubscribe(&self, id: u64) {
        let mut subs = self.subscribers.lock();
        subs.retain(|(sid, _)| *sid != id);
        self.listening.store(subs.len(), Ordering::Relaxed);
    }

    /// How many subscribers the bus holds.
    #[cfg(test)]
    fn subscribers(&self) -> usize {
        self.subscribers.lock().len()
    }

    /// Sends `data` as event `event` to every subscriber, in emission order.
    pub fn emit(&self, event: &str, data: Value) {
        if !self.active() {
            return;
        }
        let frame: Frame = protocol::encode(&Event { event: event.to_string(), data }).into();
        let mut subs = self.subscribers.lock();
        subs.retain(|(_, backlog)| backlog.push(&frame));
        self.listening.store(subs.len(), Ordering::Relaxed);
    }
}

/// A connection's place on the bus; dropping it unsubscribes.
pub struct Subscription<'a> {
    bus: &'a Bus,
    id: u64,
    backlog: Arc<Backlog>,
}

impl Subscription<'_> {
    /// Where this subscriber's events wait to be written.
    pub fn backlog(&self) -> Arc<Backlog> {
        self.backlog.clone()
    }
}

impl Drop for Subscription<'_> {
    fn drop(&mut self) {
        self.bus.unsubscribe(self.id);
    }
}

/// `{event, manually, process, at}`, with `process` the process description's `pm2_env`
/// minus `env`, as pm2 sends it.
pub fn process_event(event: &str, manually: bool, mut description: Value) -> Value {
    let mut env = description.get_mut("pm2_env").map(Value::take).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut env {
        m.remove("env");
    }
    json!({"event": event, "manually": manually, "process": env, "at": super::now_ms()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_subscription_leaves_the_bus() {
        let bus = Bus::default();
        let first = bus.subscribe(std::env::temp_dir(), Limits::default());
        let second = bus.subscribe(std::env::temp_dir(), Limits::default());
        drop(first);
        assert_eq!(bus.subscribers(), 1);
        assert!(bus.active());
        drop(second);
        assert_eq!(bus.subscribers(), 0);
        assert!(!bus.active());
    }
}
