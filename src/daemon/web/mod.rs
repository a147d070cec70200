//! The daemon's web interface, on demand (`pm2 web`): what `http` serves (pm2's JSON list,
//! health, metrics) and a dashboard page embedded in the executable, fed live by
//! server-sent events, with actions for whoever holds the token.
//!
//! Safe by default: 127.0.0.1 unless told otherwise (and then every request but the health
//! checks and the page's static files needs the token); actions are same-origin POSTs that
//! need the token, and can be turned off; an app's environment leaves only with the token;
//! connections and event streams are limited.

pub mod history;
mod feed;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::{broadcast, Semaphore};

use super::handlers::{self, Answer};
use super::{http, Daemon};
use crate::protocol::{self, WebParams};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// Connections served at once; one more is closed at once.
const MAX_CONNECTIONS: usize = 32;
/// Event streams (open pages) at once; one more gets 503.
const MAX_STREAMS: usize = 8;
/// A request must arrive whole within this, so that a silent client frees its place.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// An action's body (JSON) at most.
const MAX_BODY: usize = 4096;
/// A comment on an idle stream, so that a page that went away is noticed.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Bytes of waiting events written to a stream at once.
const BATCH: usize = 64 * 1024;
/// The file in `PM2_HOME` that holds the token.
const TOKEN_FILE: &str = "web.token";

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The web interface's part of the daemon: the charts' history (always kept) and the server
/// while it runs.
#[derive(Default)]
pub struct Web {
    pub history: history::History,
    running: Mutex<Option<Running>>,
}

struct Running {
    address: String,
    server: Arc<Server>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
        self.server.feed.close();
    }
}

/// `web`: starts the interface (or changes its `read_only`), or stops it (`stop`).
pub fn start(d: &Arc<Daemon>, params: WebParams) -> Result<Value, String> {
    let mut running = d.web.running.lock();
    if params.stop {
        return Ok(json!({"stopped": running.take().is_some()}));
    }
    let address = http::address(params.address.as_deref().unwrap_or(&http::DEFAULT_PORT.to_string()))?;
    let token = ensure_token(&d.home.root.join(TOKEN_FILE))?;
    if let Some(r) = running.as_ref().filter(|r| r.address == address) {
        r.server.read_only.store(params.read_only, Ordering::Relaxed);
        r.server.public_list.store(params.public_list, Ordering::Relaxed);
        // The file may have been replaced (deleted to revoke the token): the new one counts.
        *r.server.token.lock() = token.clone();
    } else {
        running.take();
        let listener = http::bind(&address)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let loopback = address.parse::<SocketAddr>().map(|a| a.ip().is_loopback()).unwrap_or(false);
        let server = Arc::new(Server {
            d: d.clone(),
            token: Mutex::new(token.clone()),
            loopback,
            read_only: AtomicBool::new(params.read_only),
            public_list: AtomicBool::new(params.public_list),
            feed: Arc::new(feed::Feed::new()),
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        });
        let task = tokio::spawn(serve(server.clone(), listener));
        daemon_log!("web dashboard listening on http://{address}/dashboard{}", if params.read_only { " (read-only)" } else { "" });
        *running = Some(Running { address: address.clone(), server, task });
    }
    Ok(json!({
        "address": address,
        "url": format!("http://{address}/dashboard"),
        "token": token,
        "token_file": d.home.root.join(TOKEN_FILE).to_string_lossy(),
        "read_only": params.read_only,
    }))
}

/// The token in `path`, created (0600, random) if there is none, or if the file is not
/// private any more (then the old token may be known to others).
fn ensure_token(path: &std::path::Path) -> Result<String, String> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let private = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o077 == 0);
    if let Ok(t) = std::fs::read_to_string(path).map_err(|_| ()).and_then(|t| if private { Ok(t) } else { Err(()) }) {
        let t = t.trim();
        if t.len() >= 32 && t.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(t.to_string());
        }
    }
    let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(token.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(token)
}

struct Server {
    d: Arc<Daemon>,
    token: Mutex<String>,
    loopback: bool,
    read_only: AtomicBool,
    /// `/` and `/metrics` open on any address (`pm2-runtime --web`).
    public_list: AtomicBool,
    feed: Arc<feed::Feed>,
    streams: Arc<Semaphore>,
}

/// Aborts the feed when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn serve(server: Arc<Server>, listener: tokio::net::TcpListener) {
    let _feed = AbortOnDrop(tokio::spawn(feed::run(server.d.clone(), server.feed.clone())));
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Owned here, so that stopping the server ends its connections too.
    let mut served = tokio::task::JoinSet::new();
    let mut shutdown = server.d.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(super::server::ACCEPT_BACKOFF).await;
                continue;
            }
        };
        while served.try_join_next().is_some() {}
        let Ok(place) = connections.clone().try_acquire_owned() else { continue };
        let server = server.clone();
        served.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(secure(server.answer(req).await)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(REQUEST_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(place);
        });
    }
    // The daemon stops: drop the server, which holds the daemon (an in-process daemon is
    // then freed).
    server.feed.close();
    server.d.web.running.lock().take();
}

fn full(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_reply(status: StatusCode, v: &Value) -> Response<Body> {
    full(status, "application/json", v.to_string())
}

fn refuse(status: StatusCode, why: &str) -> Response<Body> {
    json_reply(status, &json!({"error": why}))
}

/// Headers every answer carries: no framing by other sites, no sniffing, no caching.
fn secure(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("content-security-policy", HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"));
    r
}

/// The value of `key` in a query string.
fn query_param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Compares in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Server {
    /// The token came with the request (`X-PM2-Token`, `Authorization: Bearer` for a
    /// scraper, or `?token=` for a page's stream, which cannot send headers).
    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let header = |name| req.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok());
        let given = header("x-pm2-token")
            .or_else(|| header("authorization").and_then(|a| a.strip_prefix("Bearer ")))
            .or_else(|| query_param(req.uri().query(), "token"));
        given.is_some_and(|t| same_secret(t, &self.token.lock()))
    }

    /// On loopback, a request must name a loopback host: a page of another site that made
    /// its name resolve to 127.0.0.1 (DNS rebinding) gets nothing.
    fn host_allowed(&self, req: &Request<Incoming>) -> bool {
        if !self.loopback {
            return true;
        }
        let Some(host) = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
        let name = match host.rfind(':') {
            Some(i) if !host.ends_with(']') => &host[..i],
            _ => host,
        };
        matches!(name, "127.0.0.1" | "localhost" | "[::1]") || name.starts_with("127.")
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Body> {
        if !self.host_allowed(&req) {
            return refuse(StatusCode::FORBIDDEN, "this address is only served to a loopback Host");
        }
        let path = req.uri().path().to_string();
        let authorized = self.authorized(&req);
        let open = matches!(path.as_str(), "/healthz" | "/readyz" | "/dashboard" | "/dashboard/" | "/dashboard/page.js" | "/dashboard/page.css")
            || (matches!(path.as_str(), "/" | "/metrics") && self.public_list.load(Ordering::Relaxed));
        if !self.loopback && !open && !authorized {
            return refuse(StatusCode::UNAUTHORIZED, "this address needs the token (pm2 web prints it)");
        }
        match (req.method(), path.as_str()) {
            (&Method::POST, "/api/action") => self.action(req, authorized).await,
            (&Method::GET | &Method::HEAD, p) => self.get(p, &req, authorized).await,
            _ => refuse(StatusCode::METHOD_NOT_ALLOWED, "only GET, and POST to /api/action"),
        }
    }

    async fn get(&self, path: &str, req: &Request<Incoming>, authorized: bool) -> Response<Body> {
        match path {
            "/dashboard" | "/dashboard/" => full(StatusCode::OK, "text/html; charset=utf-8", PAGE),
            "/dashboard/page.js" => full(StatusCode::OK, "text/javascript; charset=utf-8", SCRIPT),
            "/dashboard/page.css" => full(StatusCode::OK, "text/css; charset=utf-8", STYLE),
            "/api/stream" => self.stream(authorized).await,
            "/" | "/healthz" | "/readyz" | "/metrics" => match self.list().await {
                Ok(mut procs) => {
                    if !authorized {
                        procs.iter_mut().for_each(hide_environment);
                    }
                    http::respond(path, &Value::Array(procs).to_string()).map(|b| b.boxed_unsync())
                }
                Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e),
            },
            p if p.starts_with("/api/app/") => {
                let Ok(id) = p["/api/app/".len()..].parse::<u32>() else { return refuse(StatusCode::BAD_REQUEST, "expected /api/app/<pm_id>") };
                let with_env = query_param(req.uri().query(), "env") == Some("1");
                if with_env && !authorized {
                    return refuse(StatusCode::UNAUTHORIZED, "the environment needs the token");
                }
                match self.list().await {
                    Ok(procs) => match procs.into_iter().find(|p| p["pm_id"] == id) {
                        Some(mut p) => {
                            if !with_env {
                                hide_environment(&mut p);
                            }
                            json_reply(StatusCode::OK, &p)
                        }
                        None => refuse(StatusCode::NOT_FOUND, "no app with this id"),
                    },
                    Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, &e),
                }
            }
            _ => refuse(StatusCode::NOT_FOUND, "not found: try /dashboard, /, /healthz, /readyz or /metrics"),
        }
    }

    async fn list(&self) -> Result<Vec<Value>, String> {
        let Answer::Json(list) = handlers::dispatch(&self.d, protocol::Request::List).await? else { return Err("unexpected answer to list".into()) };
        serde_json::from_slice(&list).map_err(|e| e.to_string())
    }

    /// The page's live feed: a snapshot, then process summaries, log lines and events.
    async fn stream(&self, authorized: bool) -> Response<Body> {
        let Ok(place) = self.streams.clone().try_acquire_owned() else {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many pages open: close one");
        };
        let Some(rx) = self.feed.subscribe() else { return refuse(StatusCode::SERVICE_UNAVAILABLE, "the web interface is stopping") };
        let procs = feed::summaries(&self.d).await.unwrap_or_else(|_| json!([]));
        let snapshot = feed::sse(
            "snapshot",
            &json!({
                "procs": procs, "history": self.d.web.history.to_json(), "logs": self.feed.recent_logs(),
                "events": self.feed.recent_events(), "read_only": self.read_only.load(Ordering::Relaxed), "authorized": authorized,
                "history_step_ms": history::STEP_SECS * 1000,
            }),
        );
        struct State {
            first: Option<Bytes>,
            rx: broadcast::Receiver<Bytes>,
            _place: tokio::sync::OwnedSemaphorePermit,
        }
        let state = State { first: Some(snapshot), rx, _place: place };
        let frames = futures_util::stream::unfold(state, |mut s| async move {
            if let Some(first) = s.first.take() {
                return Some((Ok(Frame::data(first)), s));
            }
            let mut out = match tokio::time::timeout(KEEPALIVE, s.rx.recv()).await {
                Err(_) => return Some((Ok(Frame::data(Bytes::from_static(b": keepalive\n\n"))), s)),
                Ok(Ok(b)) => b.to_vec(),
                Ok(Err(broadcast::error::RecvError::Lagged(n))) => skipped(n).to_vec(),
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
            };
            // What else is waiting goes in the same write.
            while out.len() < BATCH {
                match s.rx.try_recv() {
                    Ok(b) => out.extend_from_slice(&b),
                    Err(broadcast::error::TryRecvError::Lagged(n)) => out.extend_from_slice(&skipped(n)),
                    Err(_) => break,
                }
            }
            Some((Ok::<_, Infallible>(Frame::data(Bytes::from(out))), s))
        });
        let mut r = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        r
    }

    /// `POST /api/action` `{action, target, count}`: needs the token, a same-origin page
    /// (Origin is the address itself) and JSON; refused while read-only.
    async fn action(&self, req: Request<Incoming>, authorized: bool) -> Response<Body> {
        if self.read_only.load(Ordering::Relaxed) {
            return refuse(StatusCode::FORBIDDEN, "actions are off (pm2 web --read-only)");
        }
        if !authorized {
            return refuse(StatusCode::UNAUTHORIZED, "actions need the token (pm2 web prints it)");
        }
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
        let origin = req.headers().get(header::ORIGIN).and_then(|h| h.to_str().ok()).unwrap_or_default();
        if origin != format!("http://{host}") {
            return refuse(StatusCode::FORBIDDEN, "cross-origin request refused: actions come from the dashboard's own page");
        }
        if !req.headers().get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).is_some_and(|t| t.starts_with("application/json")) {
            return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected a JSON body");
        }
        let body = match tokio::time::timeout(REQUEST_TIMEOUT, Limited::new(req.into_body(), MAX_BODY).collect()).await {
            Ok(Ok(b)) => b.to_bytes(),
            Ok(Err(_)) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large"),
            Err(_) => return refuse(StatusCode::REQUEST_TIMEOUT, "the body did not arrive in time"),
        };
        let (method, params) = match action_request(&body) {
            Ok(x) => x,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, &e),
        };
        let request = match protocol::Request::parse(method, params) {
            Ok(r) => r,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, &e),
        };
        match handlers::dispatch(&self.d, request).await {
            Ok(Answer::Value(v)) => json_reply(StatusCode::OK, &json!({"ok": true, "ids": ids_of(&v)})),
            Ok(Answer::Json(bytes)) => {
                let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                json_reply(StatusCode::OK, &json!({"ok": true, "ids": ids_of(&v)}))
            }
            Err(e) => json_reply(StatusCode::UNPROCESSABLE_ENTITY, &json!({"ok": false, "error": e})),
        }
    }
}

/// Tells a page how many messages it missed by falling behind.
fn skipped(n: u64) -> Bytes {
    feed::sse("skipped", &json!({"messages": n}))
}

/// The ids an action touched.
fn ids_of(v: &Value) -> Value {
    Value::Array(v.as_array().map(|a| a.iter().filter_map(|p| p.get("pm_id").cloned()).collect()).unwrap_or_default())
}

/// The daemon request an action names: restart, reload, stop, start (of a known app: a
/// restart, as pm2 does), delete, flush, scale.
fn action_request(body: &[u8]) -> Result<(&'static str, Value), String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    let target = match &v["target"] {
        Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return Err("an action needs a target: an id, a name, a namespace or all".into()),
    };
    let method = match v["action"].as_str().unwrap_or_default() {
        "restart" | "start" => "restart",
        "reload" => "reload",
        "stop" => "stop",
        "delete" => "delete",
        "flush" => "flush",
        "scale" => return Ok(("scale", json!({"target": target, "count": v["count"]}))),
        other => return Err(format!("unknown action {other:?}: restart, reload, stop, start, delete, flush or scale")),
    };
    Ok((method, json!({"target": target})))
}

/// Removes an app's environment from its description: `pm2_env.env` and the variables pm2
/// flattens onto `pm2_env`.
fn hide_environment(p: &mut Value) {
    let Some(env) = p.get_mut("pm2_env").and_then(Value::as_object_mut) else { return };
    if let Some(Value::Object(vars)) = env.remove("env") {
        for (k, v) in vars {
            if env.get(&k) == Some(&v) {
                env.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_their_request_and_bad_ones_say_why() {
        assert_eq!(action_request(br#"{"action":"start","target":3}"#).unwrap(), ("restart", json!({"target": "3"})));
        assert_eq!(action_request(br#"{"action":"scale","target":"api","count":"+1"}"#).unwrap().1["count"], "+1");
        assert!(action_request(br#"{"action":"kill","target":"all"}"#).unwrap_err().contains("unknown action"));
        assert!(action_request(br#"{"action":"stop"}"#).unwrap_err().contains("needs a target"));
        assert!(action_request(b"stop").unwrap_err().contains("malformed"));
    }

    #[test]
    fn the_environment_is_hidden_but_not_the_options() {
        let mut p = json!({"pm2_env": {"name": "api", "SECRET": "x", "PATH": "/bin", "env": {"SECRET": "x", "PATH": "/bin", "name": "other"}}});
        hide_environment(&mut p);
        assert_eq!(p, json!({"pm2_env": {"name": "api"}}));
    }

    #[test]
    fn a_token_is_created_private_once_kept_and_replaced_once_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        let t = ensure_token(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(ensure_token(&path).unwrap(), t);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let renewed = ensure_token(&path).unwrap();
        assert_ne!(renewed, t, "a token others could read is replaced");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(same_secret(&t, &t.clone()) && !same_secret(&t, "x"));
        assert_eq!(query_param(Some("a=1&token=abc"), "token"), Some("abc"));
    }
}
