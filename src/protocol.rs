//! The client ⇄ daemon wire protocol: length-prefixed JSON frames over one Unix socket.
//!
//! Every frame is a big-endian u32 byte length followed by one JSON document. The first frame
//! in each direction is a [`Hello`]; after it the client sends [`Request`]s and the daemon
//! answers each with exactly one [`Response`] carrying the same id.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bumped whenever a request, a response or their meaning changes incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;
/// Identifies this protocol in the handshake, so a foreign socket is told apart from ours.
pub const PROTOCOL_NAME: &str = "pm2-rs";
/// Package version, reported by `getVersion`.
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Requests above this size are refused: a garbage length prefix must not make us allocate.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;
/// The daemon's answers may be larger (a `list` of apps with big environments).
pub const MAX_ANSWER_FRAME: usize = 1024 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Hello {
    pub hello: String,
    pub protocol: u32,
    pub version: String,
    #[serde(default)]
    pub pid: u32,
    /// Set when the daemon will not serve this connection, saying why (then it closes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Hello {
    pub fn ours() -> Self {
        Hello {
            hello: PROTOCOL_NAME.into(),
            protocol: PROTOCOL_VERSION,
            version: PACKAGE_VERSION.into(),
            pid: std::process::id(),
            refused: None,
        }
    }
}

/// A request as it travels: `{id, method, params}`; [`Request::parse`] types it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestFrame {
    pub id: u64,
    pub method: String,
    #[serde(default)]
    pub params: Value,
}

/// Which processes a call names: `target` (a name, namespace, id or `"all"`) or `names`
/// (the apps of a config file). Checked when the call is served, so that a bad target
/// gets the same error whatever the call.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Selection {
    pub target: Option<Value>,
    pub names: Option<Value>,
    /// Where a script path given as `target` resolves (the caller's cwd).
    pub cwd: Option<String>,
}

/// `start`: raw app options (normalised by the daemon), `mode` `"script"` or `"json"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StartParams {
    pub apps: Vec<Value>,
    pub mode: Option<String>,
    pub context: Option<Value>,
    /// For a declaration: `"reload"` reloads its known apps one instance at a time instead of
    /// restarting them.
    pub action: Option<String>,
}

/// `restart` / `reload`: the selection, option overrides (`opts`) and the caller's context.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RestartParams {
    #[serde(flatten)]
    pub selection: Selection,
    pub opts: Option<Value>,
    pub context: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ScaleParams {
    pub target: Option<Value>,
    pub count: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SignalParams {
    #[serde(flatten)]
    pub selection: Selection,
    pub signal: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DataParams {
    pub packet: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LineParams {
    #[serde(flatten)]
    pub selection: Selection,
    pub line: Option<Value>,
    pub separator: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ActionParams {
    #[serde(flatten)]
    pub selection: Selection,
    pub msg: Option<Value>,
    pub opts: Option<Value>,
}

/// `web`: serve the web interface on `address` (a port or host:port), or `stop` it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WebParams {
    pub address: Option<String>,
    pub read_only: bool,
    pub stop: bool,
    /// `/` (environments left out) and `/metrics` served without the token on any address,
    /// as `pm2-runtime --web` serves them to probes and scrapers.
    pub public_list: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DumpParams {
    pub force: bool,
}

/// pm2-logrotate's settings as `module_conf.json` holds them (`null`: it has none).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogRotationParams {
    pub conf: Option<serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContextParams {
    pub context: Option<Value>,
}

/// Every call the daemon serves, one variant each, with its typed params.
#[derive(Debug, Clone)]
pub enum Request {
    Ping,
    GetVersion,
    List,
    Describe(Selection),
    Start(StartParams),
    Stop(Selection),
    Restart(RestartParams),
    Reload(RestartParams),
    Scale(ScaleParams),
    Delete(Selection),
    Reset(Selection),
    GetProcessIdByName(Selection),
    GetPid(Selection),
    Flush(Selection),
    ReloadLogs,
    SetLogRotation(LogRotationParams),
    SendSignal(SignalParams),
    SendData(DataParams),
    SendLine(LineParams),
    MsgProcess(ActionParams),
    Dump(DumpParams),
    ClearDump,
    Resurrect(ContextParams),
    Subscribe,
    Kill,
    Web(WebParams),
    /// Fails inside the daemon on purpose (`"request"`: while serving the call,
    /// `"supervisor"`: inside the supervisor), to prove one failure harms nothing else.
    #[cfg(test)]
    Panic(String),
}

/// The method name of `kill`, after which the daemon exits.
pub const KILL: &str = "kill";

impl Request {
    /// Types a request from its method name and JSON params; an unknown method is "not
    /// implemented", params of the wrong shape an error naming the method.
    pub fn parse(method: &str, params: Value) -> Result<Request, String> {
        fn p<T: for<'de> Deserialize<'de> + Default>(method: &str, params: Value) -> Result<T, String> {
            if params.is_null() {
                return Ok(T::default());
            }
            serde_json::from_value(params).map_err(|e| format!("Invalid parameters for {method}: {e}"))
        }
        Ok(match method {
            "ping" => Request::Ping,
            "getVersion" => Request::GetVersion,
            "list" => Request::List,
            "describe" => Request::Describe(p(method, params)?),
            "start" => Request::Start(p(method, params)?),
            "stop" => Request::Stop(p(method, params)?),
            "restart" => Request::Restart(p(method, params)?),
            "reload" => Request::Reload(p(method, params)?),
            "scale" => Request::Scale(p(method, params)?),
            "delete" => Request::Delete(p(method, params)?),
            "reset" => Request::Reset(p(method, params)?),
            "getProcessIdByName" => Request::GetProcessIdByName(p(method, params)?),
            "getPID" => Request::GetPid(p(method, params)?),
            "flush" => Request::Flush(p(method, params)?),
            "reloadLogs" => Request::ReloadLogs,
            "setLogRotation" => Request::SetLogRotation(p(method, params)?),
            "sendSignalToProcessName" | "sendSignalToProcessId" => Request::SendSignal(p(method, params)?),
            "sendDataToProcessId" => Request::SendData(p(method, params)?),
            "sendLineToStdin" => Request::SendLine(p(method, params)?),
            "msgProcess" => Request::MsgProcess(p(method, params)?),
            "dump" => Request::Dump(p(method, params)?),
            "clearDump" => Request::ClearDump,
            "resurrect" => Request::Resurrect(p(method, params)?),
            "subscribe" => Request::Subscribe,
            KILL => Request::Kill,
            "web" => Request::Web(p(method, params)?),
            #[cfg(test)]
            "panic" => Request::Panic(params.get("in").and_then(Value::as_str).unwrap_or("request").to_string()),
            other => return Err(format!("not implemented: {other}")),
        })
    }
}

/// A request whose params are already JSON text (from JavaScript), sent without re-parsing.
#[derive(Debug, Serialize)]
pub struct RawRequest<'a> {
    pub id: u64,
    pub method: &'a str,
    pub params: &'a serde_json::value::RawValue,
}

/// A response whose result stays JSON text, handed to JavaScript as it came.
#[derive(Debug, Deserialize)]
pub struct RawResponse {
    pub id: u64,
    #[serde(default)]
    pub result: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    pub error: Option<String>,
}

/// Either `result` or `error` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn from_result(id: u64, r: Result<Value, String>) -> Self {
        match r {
            Ok(v) => Response { id, result: Some(v), error: None },
            Err(e) => Response { id, result: None, error: Some(e) },
        }
    }
}

/// The frame of a `Response` whose result is the JSON text `result`.
pub fn encode_json_result(id: u64, result: &[u8]) -> Vec<u8> {
    let head = format!("{{\"id\":{id},\"result\":");
    let len = head.len() + result.len() + 1;
    let mut out = Vec::with_capacity(len + 4);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(result);
    out.push(b'}');
    out
}

/// Pushed by the daemon to a subscribed connection (`subscribe`); carries no request id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub event: String,
    pub data: Value,
}

#[derive(Debug)]
pub enum FrameError {
    Io(std::io::Error),
    TooLarge(usize),
    Json(serde_json::Error),
    /// Too deep or too many values to parse (see `limits`).
    Refused(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "{e}"),
            FrameError::TooLarge(n) => write!(f, "frame of {n} bytes exceeds the {MAX_FRAME} byte limit"),
            FrameError::Json(e) => write!(f, "malformed frame: {e}"),
            FrameError::Refused(why) => write!(f, "refused a frame {why}"),
        }
    }
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        FrameError::Io(e)
    }
}

pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = serde_json::to_vec(msg).expect("protocol messages always serialise");
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> std::io::Result<()> {
    w.write_all(&encode(msg)).await
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(r: &mut R) -> Result<Option<T>, FrameError> {
    match read_raw_frame(r).await? {
        Some(body) => {
            crate::limits::json_shape(&body, crate::limits::MAX_JSON_DEPTH, crate::limits::MAX_REQUEST_VALUES).map_err(FrameError::Refused)?;
            serde_json::from_slice(&body).map(Some).map_err(FrameError::Json)
        }
        None => Ok(None),
    }
}

/// Reads one frame's JSON text without parsing it.
pub async fn read_raw_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Vec<u8>>, FrameError> {
    read_raw_frame_up_to(r, MAX_FRAME).await
}

/// Reads one frame of at most `limit` bytes; memory grows as the bytes arrive, not with
/// what the length prefix claims.
pub async fn read_raw_frame_up_to<R: AsyncRead + Unpin>(r: &mut R, limit: usize) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = Vec::with_capacity(len.min(1024 * 1024));
    if (&mut *r).take(len as u64).read_to_end(&mut body).await? < len {
        return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(Some(body))
}

/// Event frames are `{"event":...}` (the field order of [`Event`]); responses start with `{"id":`.
pub fn is_event_frame(body: &[u8]) -> bool {
    body.starts_with(b"{\"event\":")
}

/// `(id, result text)` of a successful response frame, read from its head alone: the
/// daemon writes `{"id":N,"result":...}` and a large result need not be scanned twice
/// (JavaScript parses it anyway). None for anything else (errors included).
pub fn successful_result(body: &[u8]) -> Option<(u64, &[u8])> {
    let rest = body.strip_prefix(b"{\"id\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let id = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let result = rest[digits..].strip_prefix(b",\"result\":")?.strip_suffix(b"}")?;
    Some((id, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_found_from_the_frame_head() {
        let value = encode(&Response::from_result(12, Ok(serde_json::json!([{"a": "}"}]))));
        assert_eq!(successful_result(&value[4..]), Some((12, &br#"[{"a":"}"}]"#[..])));
        let text = encode_json_result(3, b"[1,2]");
        assert_eq!(successful_result(&text[4..]), Some((3, &b"[1,2]"[..])));
        let error = encode(&Response::from_result(4, Err("no".into())));
        assert_eq!(successful_result(&error[4..]), None);
        assert_eq!(successful_result(br#"{"id":,"result":1}"#), None);
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let req = RequestFrame { id: 7, method: "list".into(), params: serde_json::json!({"a": 1}) };
        let bytes = encode(&req);
        let mut r = &bytes[..];
        let back: RequestFrame = read_frame(&mut r).await.unwrap().unwrap();
        assert_eq!(back.id, 7);
        assert_eq!(back.method, "list");
        let end: Option<RequestFrame> = read_frame(&mut r).await.unwrap();
        assert!(end.is_none());
    }

    #[test]
    fn requests_are_typed_from_method_and_params() {
        use serde_json::json;
        assert!(matches!(Request::parse("list", json!({})), Ok(Request::List)));
        match Request::parse("stop", json!({"target": "all"})) {
            Ok(Request::Stop(s)) => assert_eq!(s.target, Some(json!("all"))),
            other => panic!("{other:?}"),
        }
        match Request::parse("sendLineToStdin", json!({"target": 1, "line": "hi"})) {
            Ok(Request::SendLine(l)) => assert_eq!((l.selection.target, l.line), (Some(json!(1)), Some(json!("hi")))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(Request::parse("ping", Value::Null), Ok(Request::Ping)));
        assert_eq!(Request::parse("lsit", json!({})).unwrap_err(), "not implemented: lsit");
        assert!(Request::parse("start", json!({"apps": 3})).unwrap_err().starts_with("Invalid parameters for start"));
    }

    #[tokio::test]
    async fn oversized_and_garbage_frames_are_errors() {
        let mut huge = &[0xffu8, 0xff, 0xff, 0xff][..];
        assert!(matches!(read_frame::<_, RequestFrame>(&mut huge).await, Err(FrameError::TooLarge(_))));
        let mut garbage = vec![0, 0, 0, 3];
        garbage.extend_from_slice(b"{{{");
        let mut g = &garbage[..];
        assert!(matches!(read_frame::<_, RequestFrame>(&mut g).await, Err(FrameError::Json(_))));
        let mut cut = &[0u8, 0, 0, 9, b'{'][..];
        assert!(matches!(read_frame::<_, RequestFrame>(&mut cut).await, Err(FrameError::Io(_))));
    }

    #[tokio::test]
    async fn a_frame_of_millions_of_arrays_is_refused_before_parsing() {
        let mut params = "[],".repeat(4 * 1024 * 1024);
        params.pop();
        let body = format!("{{\"id\":1,\"method\":\"list\",\"params\":[{params}]}}");
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        let e = read_frame::<_, RequestFrame>(&mut &frame[..]).await.unwrap_err();
        assert_eq!(e.to_string(), "refused a frame with more than 1048576 values");
        let deep = format!("{{\"id\":1,\"method\":\"list\",\"params\":{}{}}}", "[".repeat(100), "]".repeat(100));
        let mut frame = (deep.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(deep.as_bytes());
        let e = read_frame::<_, RequestFrame>(&mut &frame[..]).await.unwrap_err();
        assert_eq!(e.to_string(), "refused a frame nested deeper than 64 levels");
    }
}
