//! HTTP endpoints for orchestrators and scrapers: `GET /healthz` (the daemon answers),
//! `GET /readyz` (every app online, `wait_ready` apps ready), `GET /metrics` (Prometheus text
//! format) and `GET /` (the process list as JSON, as pm2's `--web` serves it).
//!
//! It reads the process list as a client of the daemon's own socket, so it depends on nothing
//! but the `list` request. Off unless asked: `PM2_METRICS_PORT` (`9615` or `host:port`) for a
//! daemon. A bare port binds 127.0.0.1. `pm2 web` and `pm2-runtime --web` serve the same
//! answers (`respond`) through the daemon's web interface (`web`), with its dashboard.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::client::{self, Connection};
use crate::home::Home;

/// pm2's default `--web` port.
pub const DEFAULT_PORT: u16 = 9615;

/// `9615`, `:9615` or `host:port`; a bare port is bound on 127.0.0.1.
pub fn address(spec: &str) -> Result<String, String> {
    let spec = spec.trim();
    let addr = match spec.parse::<u16>() {
        Ok(port) => format!("127.0.0.1:{port}"),
        Err(_) if spec.starts_with(':') => format!("127.0.0.1{spec}"),
        Err(_) => spec.to_string(),
    };
    addr.parse::<std::net::SocketAddr>().map_err(|_| format!("invalid HTTP address {spec:?}: expected a port or host:port"))?;
    Ok(addr)
}

/// Binds the endpoints' address now, so that a port in use is reported before anything starts.
pub fn bind(spec: &str) -> Result<std::net::TcpListener, String> {
    let addr = address(spec)?;
    let listener = std::net::TcpListener::bind(&addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(listener)
}

/// Serves the endpoints of `PM2_METRICS_PORT` for a daemon, if set.
pub fn start_from_env(home: &Home) -> Option<tokio::task::JoinHandle<()>> {
    let spec = std::env::var("PM2_METRICS_PORT").ok().filter(|s| !s.trim().is_empty())?;
    match bind(&spec) {
        Ok(listener) => Some(tokio::spawn(serve(listener, home.clone()))),
        Err(e) => {
            daemon_log!("metrics endpoints not started: {e}");
            None
        }
    }
}

/// Answers requests on `listener` until the task is dropped.
pub async fn serve(listener: std::net::TcpListener, home: Home) {
    let Ok(listener) = TcpListener::from_std(listener) else { return };
    let source = Arc::new(ListSource { home, conn: tokio::sync::Mutex::new(None) });
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let source = source.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let source = source.clone();
                async move { Ok::<_, Infallible>(answer(&source, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The daemon's process list, through one connection kept open and reopened when lost.
struct ListSource {
    home: Home,
    conn: tokio::sync::Mutex<Option<Connection>>,
}

impl ListSource {
    async fn list(&self) -> Result<String, String> {
        let mut conn = self.conn.lock().await;
        let conn = match &mut *conn {
            Some(c) if c.is_alive() => c,
            dead => dead.insert(client::connect_running(&self.home).await?),
        };
        conn.call_raw("list", "{}").await
    }
}

async fn answer(source: &ListSource, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "only GET\n".into());
    }
    let path = req.uri().path();
    if !matches!(path, "/" | "/healthz" | "/readyz" | "/metrics") {
        return reply(StatusCode::NOT_FOUND, "text/plain", "not found: try /healthz, /readyz, /metrics or /\n".into());
    }
    match source.list().await {
        Ok(list) => respond(path, &list),
        Err(e) => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", format!("the pm2 daemon does not answer: {e}\n")),
    }
}

/// The answer to `path` (`/`, `/healthz`, `/readyz` or `/metrics`) for the process `list`.
pub fn respond(path: &str, list: &str) -> Response<Full<Bytes>> {
    let procs: Vec<Proc> = match serde_json::from_str(list) {
        Ok(p) => p,
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", format!("malformed process list: {e}\n")),
    };
    match path {
        "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => match not_ready(&procs) {
            None => reply(StatusCode::OK, "text/plain", "ready\n".into()),
            Some(why) => reply(StatusCode::SERVICE_UNAVAILABLE, "text/plain", why),
        },
        "/metrics" => reply(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", metrics(&procs, crate::daemon::now_ms())),
        _ => reply(StatusCode::OK, "application/json", web_list(list)),
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, content_type.parse().expect("content types here are constants"));
    r
}

/// What the endpoints read of a process description.
#[derive(Deserialize)]
struct Proc {
    name: String,
    pm_id: u32,
    #[serde(default)]
    monit: Monit,
    pm2_env: Env,
}

#[derive(Deserialize, Default)]
struct Monit {
    #[serde(default)]
    memory: f64,
    #[serde(default)]
    cpu: f64,
}

#[derive(Deserialize)]
struct Env {
    status: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    pm_uptime: Option<f64>,
    #[serde(default)]
    restart_time: f64,
    #[serde(default)]
    axm_monitor: Map<String, Value>,
}

/// Why the apps are not ready, or `None` when every app is online (a `wait_ready` app is
/// `launching` until it sends `ready`). No app at all is not ready: nothing serves.
fn not_ready(procs: &[Proc]) -> Option<String> {
    if procs.is_empty() {
        return Some("no app is running\n".into());
    }
    let waiting: String = procs
        .iter()
        .filter(|p| p.pm2_env.status != "online")
        .map(|p| format!("{} ({}): {}\n", p.name, p.pm_id, p.pm2_env.status))
        .collect();
    (!waiting.is_empty()).then_some(waiting)
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The numeric value of an `axm:monitor` metric (`@pm2/io` sends numbers, sometimes as text).
fn metric_value(v: &Value) -> Option<f64> {
    let v = v.get("value").unwrap_or(v);
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

const STATUSES: [&str; 7] = ["online", "launching", "stopping", "stopped", "waiting restart", "errored", "one-launch-status"];

/// The Prometheus text exposition of every process.
fn metrics(procs: &[Proc], now_ms: u64) -> String {
    let mut out = String::new();
    let labels = |p: &Proc| format!("name=\"{}\",pm_id=\"{}\",namespace=\"{}\"", label(&p.name), p.pm_id, label(p.pm2_env.namespace.as_deref().unwrap_or("default")));
    let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&Proc) -> f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for p in procs {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(p), value(p));
        }
    };
    family("pm2_up", "gauge", "1 when the process is online.", &|p| f64::from(u8::from(p.pm2_env.status == "online")));
    family("pm2_cpu_percent", "gauge", "CPU use of the process, in percent of one core.", &|p| p.monit.cpu);
    family("pm2_memory_bytes", "gauge", "Resident memory of the process.", &|p| p.monit.memory);
    family("pm2_restarts_total", "counter", "Restarts of the process since it was started.", &|p| p.pm2_env.restart_time);
    family("pm2_uptime_seconds", "gauge", "Time since the process was (re)started; 0 when not online.", &|p| match (p.pm2_env.status.as_str(), p.pm2_env.pm_uptime) {
        ("online", Some(t)) => ((now_ms as f64 - t) / 1000.0).max(0.0),
        _ => 0.0,
    });
    let _ = writeln!(out, "# HELP pm2_status 1 for the status the process is in.\n# TYPE pm2_status gauge");
    for p in procs {
        for s in STATUSES.iter().copied().chain((!STATUSES.contains(&p.pm2_env.status.as_str())).then_some(p.pm2_env.status.as_str())) {
            let _ = writeln!(out, "pm2_status{{{},status=\"{}\"}} {}", labels(p), label(s), u8::from(p.pm2_env.status == s));
        }
    }
    let _ = writeln!(out, "# HELP pm2_app_metric Metrics the app publishes with @pm2/io (axm:monitor).\n# TYPE pm2_app_metric gauge");
    for p in procs {
        for (metric, v) in &p.pm2_env.axm_monitor {
            if let Some(x) = metric_value(v) {
                let _ = writeln!(out, "pm2_app_metric{{{},metric=\"{}\"}} {x}", labels(p), label(metric));
            }
        }
    }
    out
}

/// pm2's `--web` answer: the host and the process list.
fn web_list(list: &str) -> String {
    let hostname = crate::platform::hostname();
    let uptime = crate::platform::uptime();
    format!(
        "{{\"system_info\":{{\"hostname\":{},\"uptime\":{}}},\"processes\":{list}}}",
        serde_json::to_string(hostname.trim()).expect("a string serialises"),
        uptime.round()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(status: &str, monitor: Value) -> Proc {
        serde_json::from_value(serde_json::json!({
            "name": "api \"v2\"", "pm_id": 3, "monit": {"memory": 1024, "cpu": 1.5},
            "pm2_env": {"status": status, "namespace": "default", "pm_uptime": 1000, "restart_time": 2, "axm_monitor": monitor}
        }))
        .unwrap()
    }

    #[test]
    fn ports_bind_loopback_unless_a_host_is_given() {
        assert_eq!(address("9615").unwrap(), "127.0.0.1:9615");
        assert_eq!(address(":80").unwrap(), "127.0.0.1:80");
        assert_eq!(address("0.0.0.0:9615").unwrap(), "0.0.0.0:9615");
        assert!(address("nine").is_err());
    }

    #[test]
    fn readiness_needs_every_app_online() {
        assert!(not_ready(&[]).is_some());
        assert!(not_ready(&[proc("online", json!({}))]).is_none());
        assert!(not_ready(&[proc("online", json!({})), proc("launching", json!({}))]).unwrap().contains("launching"));
    }

    #[test]
    fn metrics_carry_labels_escaped_and_app_metrics_that_are_numbers() {
        let text = metrics(&[proc("online", json!({"Req/s": {"value": "12.5"}, "label": {"value": "n/a"}}))], 3000);
        assert!(text.contains("pm2_uptime_seconds{name=\"api \\\"v2\\\"\",pm_id=\"3\",namespace=\"default\"} 2\n"), "{text}");
        assert!(text.contains("pm2_app_metric{name=\"api \\\"v2\\\"\",pm_id=\"3\",namespace=\"default\",metric=\"Req/s\"} 12.5\n"));
        assert!(!text.contains("metric=\"label\""));
        assert!(text.contains("status=\"online\"} 1\n") && text.contains("status=\"errored\"} 0\n"));
    }

    use serde_json::json;
}
