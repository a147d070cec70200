//! The Node addon's surface: a `Client` handle with async RPC, plus small helpers that
//! `index.js` needs. No logic lives here.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use pm2_rs::client::{self, Connection, Launch};
use pm2_rs::home::Home;

fn err(msg: String) -> Error {
    Error::new(Status::GenericFailure, msg)
}

#[napi]
pub struct Client {
    home: Home,
    conn: Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>,
}

#[napi]
impl Client {
    #[napi(constructor)]
    pub fn new(home: String) -> Self {
        Client { home: Home::new(home), conn: Arc::default() }
    }

    /// Connects (starting a daemon if needed). `daemon_path` empty = run it in this process.
    #[napi]
    pub async fn connect(&self, daemon_path: String) -> Result<Value> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.is_alive()) {
            return Ok(json!({"new_pm2_instance": false, "daemon_pid": c.daemon_pid}));
        }
        let launch = if daemon_path.is_empty() { Launch::InProcess } else { Launch::Detached(daemon_path.into()) };
        let (conn, fresh) = client::connect(&self.home, &launch).await.map_err(err)?;
        let pid = conn.daemon_pid;
        *slot = Some(Arc::new(conn));
        Ok(json!({"new_pm2_instance": fresh, "daemon_pid": pid}))
    }

    #[napi]
    pub fn is_connected(&self) -> bool {
        self.conn.try_lock().map(|c| c.as_ref().is_some_and(|c| c.is_alive())).unwrap_or(true)
    }

    /// One request: params and result as JSON text (parsed by JavaScript, which is faster
    /// than building large objects through napi).
    /// The request is written before this returns (see `Connection::start_call`).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn call<'env>(&self, env: &'env Env, method: String, params_json: String) -> Result<PromiseRaw<'env, String>> {
        // Connected and not connecting: send from this thread.
        if let Ok(Some(conn)) = self.conn.try_lock().map(|c| c.clone()) {
            let answer = conn.start_call(&method, &params_json);
            return env.spawn_future(async move { finish_call(&conn, &method, answer.await).await });
        }
        let slot = self.conn.clone();
        env.spawn_future(async move {
            let conn = slot.lock().await.clone().ok_or_else(|| err("Not connected to the PM2 daemon: call connect() first".into()))?;
            let answer = conn.call_raw(&method, &params_json).await;
            finish_call(&conn, &method, answer).await
        })
    }

    #[napi]
    pub async fn disconnect(&self) -> Result<()> {
        if let Some(c) = self.conn.lock().await.take() {
            c.close().await;
        }
        Ok(())
    }
}

async fn finish_call(conn: &Connection, method: &str, answer: std::result::Result<String, String>) -> Result<String> {
    let result = answer.map_err(err)?;
    if method == "kill" {
        // Return once the daemon is really gone.
        conn.wait_daemon_exit(Duration::from_secs(5)).await;
    }
    Ok(result)
}

type EventCallback = ThreadsafeFunction<String, (), String, Status, false>;

/// One `launchBus()` subscription: its own connection, events delivered to `callback` in
/// batches (the JSON text of an array of `{event, data}`). While open it keeps Node's event loop alive, as
/// pm2's bus socket does; `close()` lets go.
#[napi]
pub struct BusConnection {
    home: Home,
    callback: Arc<parking_lot::Mutex<Option<EventCallback>>>,
    conn: Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>,
}

#[napi]
impl BusConnection {
    #[napi(constructor)]
    pub fn new(home: String, callback: EventCallback) -> Self {
        BusConnection { home: Home::new(home), callback: Arc::new(parking_lot::Mutex::new(Some(callback))), conn: Arc::default() }
    }

    #[napi]
    pub async fn open(&self) -> Result<()> {
        let callback = self.callback.clone();
        let sink: client::EventSink = Arc::new(move |batch| match batch {
            Some(json) => {
                if let Some(cb) = callback.lock().as_ref() {
                    cb.call(json, ThreadsafeFunctionCallMode::NonBlocking);
                }
            }
            // The daemon went away: stop holding the event loop open.
            None => drop(callback.lock().take()),
        });
        let conn = client::subscribe(&self.home, sink).await.map_err(err)?;
        *self.conn.lock().await = Some(Arc::new(conn));
        Ok(())
    }

    #[napi]
    pub async fn close(&self) -> Result<()> {
        if let Some(c) = self.conn.lock().await.take() {
            c.close().await;
        }
        // Dropping the threadsafe function releases its hold on the event loop.
        self.callback.lock().take();
        Ok(())
    }
}

#[napi]
pub fn default_home() -> String {
    Home::default_root().to_string_lossy().into_owned()
}

/// `update()` over a running original pm2 daemon: saves its apps as `dump.pm2` and stops it
/// (see `takeover`). Answers how many apps were saved, or null when no original daemon runs.
#[napi]
pub async fn take_over_original(home: String) -> Result<Option<u32>> {
    let home = Home::new(home);
    let Some(pid) = pm2_rs::takeover::original_daemon(&home) else { return Ok(None) };
    let done = pm2_rs::takeover::take_over(&home, pid).await.map_err(err)?;
    Ok(Some(done.saved as u32))
}

/// Whether `dump.pm2` (or its backup) holds a process list; broken ones are moved aside.
#[napi]
pub fn has_saved_process_list(home: String) -> bool {
    pm2_rs::daemon::dump::read(&Home::new(home)).is_ok()
}

#[napi]
pub fn parse_yaml(text: String) -> Result<Value> {
    pm2_rs::yaml::parse(&text).map_err(err)
}

#[napi]
pub fn apps_of_config(doc: Value) -> Result<Vec<Value>> {
    pm2_rs::config::apps_of_config(doc).map_err(err)
}

#[napi]
pub fn startup(options: Value) -> Result<Value> {
    let o: pm2_rs::startup::StartupOptions = serde_json::from_value(options).map_err(|e| err(format!("Invalid startup options: {e}")))?;
    pm2_rs::startup::install(&o).map_err(err)
}

#[napi]
pub fn uninstall_startup(options: Value) -> Result<Value> {
    let o: pm2_rs::startup::StartupOptions = serde_json::from_value(options).map_err(|e| err(format!("Invalid startup options: {e}")))?;
    pm2_rs::startup::uninstall(&o).map_err(err)
}

/// A date as a log line's prefix shows it (dayjs tokens, local time): `ms` since the epoch.
#[napi]
pub fn format_date(format: String, ms: f64) -> String {
    use chrono::TimeZone;
    let t = chrono::Local.timestamp_millis_opt(ms as i64).single().unwrap_or_else(chrono::Local::now);
    pm2_rs::daemon::log_format::format_date(&format, &t)
}
