//! The apps' output on our stdout/stderr, from the daemon's bus: as written (pm2-runtime's
//! default), prefixed `id|name | `, as JSON lines or as `key=value` lines; and the runtime's own
//! notes (`PM2 log: ...`) about what happens to the apps.

use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::args::Format;

/// The bus events on their way to the printer, in order, on a task of their own.
pub struct Stream {
    pub printer: Arc<Printer>,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
    /// Notified at each batch with a `process:event`.
    pub changed: Arc<tokio::sync::Notify>,
    printed: Arc<AtomicU64>,
}

impl Stream {
    pub fn new(printer: Arc<Printer>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let changed = Arc::new(tokio::sync::Notify::new());
        let printed = Arc::new(AtomicU64::new(0));
        tokio::spawn({
            let (printer, changed, printed) = (printer.clone(), changed.clone(), printed.clone());
            async move {
                while let Some(batch) = rx.recv().await {
                    printer.events(&batch);
                    printed.fetch_add(1, Ordering::SeqCst);
                    if batch.contains("\"process:event\"") {
                        changed.notify_one();
                    }
                }
            }
        });
        Stream { printer, tx, changed, printed }
    }

    /// Where the bus connection delivers its batches.
    pub fn sink(&self) -> crate::client::EventSink {
        let tx = self.tx.clone();
        Arc::new(move |batch| {
            if let Some(b) = batch {
                let _ = tx.send(b);
            }
        })
    }

    /// Waits, briefly, for the last lines the apps wrote as they stopped: until no batch came
    /// for a moment.
    pub async fn drain(&self) {
        for _ in 0..20 {
            let before = self.printed.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.printed.load(Ordering::SeqCst) == before {
                return;
            }
        }
    }
}

pub struct Printer {
    pub format: Format,
}

#[derive(Default)]
struct Batch {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Printer {
    /// A batch of bus events: the JSON text of an array of `{event, data}`.
    pub fn events(&self, batch: &str) {
        let Ok(Value::Array(events)) = serde_json::from_str::<Value>(batch) else { return };
        let mut b = Batch::default();
        for e in &events {
            let data = &e["data"];
            match e["event"].as_str() {
                Some("log:out") => self.line(&mut b.out, "out", data),
                Some("log:err") => self.line(&mut b.err, "err", data),
                Some("process:event") => self.process_event(&mut b.out, data),
                _ => {}
            }
        }
        // pm2-runtime writes JSON and key=value lines, errors included, on stdout.
        if matches!(self.format, Format::Json | Format::KeyValue) {
            b.out.append(&mut b.err);
        }
        if !b.out.is_empty() {
            let _ = std::io::stdout().lock().write_all(&b.out);
        }
        if !b.err.is_empty() {
            let _ = std::io::stderr().lock().write_all(&b.err);
        }
    }

    /// A note of the runtime's own, on stdout.
    pub fn note(&self, msg: &str) {
        let mut out = Vec::new();
        self.pm2_line(&mut out, msg, crate::daemon::now_ms());
        let _ = std::io::stdout().lock().write_all(&out);
    }

    fn pm2_line(&self, out: &mut Vec<u8>, msg: &str, at: u64) {
        let _ = match self.format {
            Format::Json => writeln!(out, "{}", json!({"message": msg, "timestamp": iso(at), "type": "PM2", "app_name": "PM2"})),
            Format::KeyValue => writeln!(out, "timestamp={} app=pm2 message={msg}", key_value_time(at)),
            _ => writeln!(out, "{}: PM2 log: {msg}", local_time(at)),
        };
    }

    fn line(&self, out: &mut Vec<u8>, kind: &str, data: &Value) {
        let text = data["data"].as_str().unwrap_or("");
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        let p = &data["process"];
        let (name, id) = (p["name"].as_str().unwrap_or(""), p["pm_id"].as_u64().unwrap_or(0));
        let at = data["at"].as_u64().unwrap_or(0);
        let _ = match self.format {
            Format::Raw => writeln!(out, "{text}"),
            Format::Prefixed => writeln!(out, "{id}|{name} | {text}"),
            Format::Json => writeln!(out, "{}", json!({"message": text, "timestamp": iso(at), "type": kind, "process_id": id, "app_name": name})),
            Format::KeyValue => writeln!(out, "timestamp={} app={name} id={id} type={kind} message={text}", key_value_time(at)),
        };
    }

    fn process_event(&self, out: &mut Vec<u8>, data: &Value) {
        let p = &data["process"];
        let (name, id) = (p["name"].as_str().unwrap_or(""), p["pm_id"].as_u64().unwrap_or(0));
        let event = data["event"].as_str().unwrap_or("");
        let at = data["at"].as_u64().unwrap_or(0);
        if self.format == Format::Json {
            let _ = writeln!(out, "{}", json!({"timestamp": iso(at), "type": "process_event", "status": event, "app_name": name}));
            return;
        }
        let msg = match event {
            // `online` says it: the app has started.
            "start" => return,
            "exit" => format!("App [{name}:{id}] exited with code [{}]", p["exit_code"]),
            other => format!("App [{name}:{id}] {other}"),
        };
        self.pm2_line(out, &msg, at);
    }
}

fn utc(at: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(at as i64).unwrap_or_default()
}

fn iso(at: u64) -> String {
    utc(at).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn local_time(at: u64) -> String {
    utc(at).with_timezone(&chrono::Local).format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn key_value_time(at: u64) -> String {
    utc(at).with_timezone(&chrono::Local).format("%Y-%m-%d-%H:%M:%S%:z").to_string()
}
