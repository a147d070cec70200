//! The event bus: process events, app messages and log lines pushed to every subscribed
//! connection. Nothing is built while nobody listens; each subscriber has a bounded queue,
//! and one that falls that far behind is dropped (and told so by its closed connection)
//! rather than making the daemon buffer without limit or block other apps.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

use crate::protocol::{self, Event};

/// Frames a subscriber may have queued before it is considered stuck.
const QUEUE: usize = 256 * 1024;

pub type Frame = Arc<[u8]>;

#[derive(Default)]
pub struct Bus {
    subscribers: Mutex<Vec<(u64, mpsc::Sender<Frame>)>>,
    listening: AtomicUsize,
    next_id: AtomicU64,
}

impl Bus {
    /// Someone listens: only then are events worth building.
    pub fn active(&self) -> bool {
        self.listening.load(Ordering::Relaxed) > 0
    }

    pub fn subscribe(&self) -> (u64, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut subs = self.subscribers.lock().unwrap();
        subs.push((id, tx));
        self.listening.store(subs.len(), Ordering::Relaxed);
        (id, rx)
    }

    pub fn unsubscribe(&self, id: u64) {
        let mut subs = self.subscribers.lock().unwrap();
        subs.retain(|(sid, _)| *sid != id);
        self.listening.store(subs.len(), Ordering::Relaxed);
    }

    /// Sends `data` as event `event` to every subscriber, in emission order.
    pub fn emit(&self, event: &str, data: Value) {
        if !self.active() {
            return;
        }
        let frame: Frame = protocol::encode(&Event { event: event.to_string(), data }).into();
        let mut subs = self.subscribers.lock().unwrap();
        subs.retain(|(id, tx)| match tx.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                daemon_log!("bus subscriber {id} is {QUEUE} events behind: disconnecting it");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        self.listening.store(subs.len(), Ordering::Relaxed);
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
