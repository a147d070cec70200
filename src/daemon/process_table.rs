//! The process table: one entry per app instance, keyed by `pm_id`, and how entries are
//! selected and described.

use std::path::PathBuf;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;

use super::transitions;
use crate::config::AppSpec;
use crate::home::Home;
use crate::protocol::Selection;

/// pm2's status strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Launching,
    Online,
    Stopping,
    Stopped,
    Errored,
    WaitingRestart,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Launching => "launching",
            Status::Online => "online",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Errored => "errored",
            Status::WaitingRestart => "waiting restart",
        }
    }

    /// Has (or is about to have) a live process.
    pub fn is_running(self) -> bool {
        matches!(self, Status::Launching | Status::Online)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Monit {
    pub memory: u64,
    pub cpu: f64,
}

/// One managed instance.
pub struct Proc {
    pub pm_id: u32,
    pub spec: Arc<AppSpec>,
    /// The instance index (`NODE_APP_INSTANCE`).
    pub instance: u32,
    pub unique_id: String,
    pub status: Status,
    pub pid: Option<u32>,
    /// When `pid` started (clock ticks after boot), read at spawn while it was surely ours:
    /// with the pid it names the process, so a stop never signals a reused pid.
    pub pid_started: u64,
    pub restart_time: u64,
    pub unstable_restarts: u64,
    pub created_at: u64,
    pub pm_uptime: u64,
    pub exit_code: Option<i32>,
    pub prev_restart_delay: u64,
    /// Why the daemon itself is restarting it ("memory limit", "file change"), told on the bus.
    pub restart_reason: Option<&'static str>,
    /// New at every spawn and every stop ([`next_generation`]), so that a late exit or a
    /// pending timer of an earlier generation is recognised and ignored.
    pub generation: u64,
    pub exit_waiters: Vec<oneshot::Sender<()>>,
    /// Woken when a `wait_ready` process becomes online (a reload waits for it).
    pub online_waiters: Vec<oneshot::Sender<()>>,
    /// Lines to write to the app's IPC channel (Node apps only).
    pub ipc: Option<super::ipc::IpcSender>,
    pub monit: Monit,
    pub node_version: Option<String>,
    /// The app's stdin (for `sendLineToStdin`).
    pub stdin: Option<Arc<tokio::sync::Mutex<tokio::process::ChildStdin>>>,
    /// Its cluster worker id and how many servers it has listening (cluster mode).
    pub worker: Option<(u32, tokio::sync::watch::Receiver<u32>)>,
    /// What the app declared through `@pm2/io` (`axm:action`, `axm:monitor`, `axm:option:*`).
    pub axm_actions: Vec<Value>,
    pub axm_monitor: Map<String, Value>,
    pub axm_options: Map<String, Value>,
    /// `pm2_env` without the keys that change while the app runs, as JSON text without its
    /// closing brace: built once per spec, so that `list()` copies bytes instead of values.
    described: std::sync::OnceLock<Vec<u8>>,
}

impl Proc {
    pub fn new(pm_id: u32, spec: Arc<AppSpec>, instance: u32, now: u64) -> Self {
        Proc {
            pm_id,
            spec,
            instance,
            unique_id: uuid::Uuid::new_v4().to_string(),
            status: Status::Stopped,
            pid: None,
            pid_started: 0,
            restart_time: 0,
            unstable_restarts: 0,
            created_at: now,
            pm_uptime: now,
            exit_code: None,
            prev_restart_delay: 0,
            restart_reason: None,
            generation: 0,
            exit_waiters: Vec::new(),
            online_waiters: Vec::new(),
            ipc: None,
            monit: Monit::default(),
            node_version: None,
            stdin: None,
            worker: None,
            axm_actions: Vec::new(),
            axm_monitor: Map::new(),
            axm_options: Map::new(),
            described: std::sync::OnceLock::new(),
        }
    }

    /// The running process, told apart from a later one under the same pid.
    pub fn process(&self) -> Option<super::tree::ProcessId> {
        self.pid.map(|pid| super::tree::ProcessId { pid, started: self.pid_started })
    }

    /// Releases everyone waiting for this process to exit; nobody waits for it to be
    /// ready any more.
    pub fn wake_exit_waiters(&mut self) {
        for w in self.exit_waiters.drain(..) {
            let _ = w.send(());
        }
        self.online_waiters.clear();
    }

    pub fn wake_online_waiters(&mut self) {
        for w in self.online_waiters.drain(..) {
            let _ = w.send(());
        }
    }

    /// Applies `event` to the status (see [`transitions::next`]); the effect to carry out,
    /// or None if the event means nothing now.
    pub fn apply(&mut self, event: transitions::Event) -> Option<transitions::Effect> {
        let (status, effect) = transitions::next(self.status, event)?;
        self.status = status;
        Some(effect)
    }

    /// pm2's own variables, which apps see in their environment and `pm2_env` carries.
    pub fn pm2_vars(&self, home: &Home) -> Map<String, Value> {
        let s = &self.spec;
        let mut m = Map::new();
        m.insert("pm_id".into(), json!(self.pm_id));
        m.insert("name".into(), json!(s.name));
        m.insert("namespace".into(), json!(s.namespace));
        m.insert(s.instance_var.clone(), json!(self.instance));
        m.insert("PM2_HOME".into(), json!(home.root.to_string_lossy()));
        m.insert("unique_id".into(), json!(self.unique_id));
        m.insert("pm_exec_path".into(), json!(s.exec_path.to_string_lossy()));
        m.insert("pm_cwd".into(), json!(s.cwd.to_string_lossy()));
        m.insert("pm_out_log_path".into(), path_json(s.instance_log(&s.out_file, self.pm_id)));
        m.insert("pm_err_log_path".into(), path_json(s.instance_log(&s.error_file, self.pm_id)));
        if let Some(p) = s.instance_log(&s.log_file, self.pm_id) {
            m.insert("pm_log_path".into(), json!(p.to_string_lossy()));
        }
        m.insert("pm_pid_path".into(), json!(s.instance_pid_file(home, self.pm_id).to_string_lossy()));
        if let Some((var, value)) = self.incremented() {
            m.insert(var.into(), json!(value));
        }
        m
    }

    /// `increment_var`: instance n gets the variable's value (0 if unset) + n, e.g. a port
    /// per instance.
    fn incremented(&self) -> Option<(&str, i64)> {
        let var = self.spec.increment_var.as_deref()?;
        let base = match self.spec.env.get(var) {
            Some(Value::String(s)) => s.trim().parse::<i64>().unwrap_or(0),
            Some(v) => v.as_i64().unwrap_or(0),
            None => 0,
        };
        Some((var, base + self.instance as i64))
    }

    /// `{pm_id, name, namespace}`: who an app message or log line came from.
    pub fn origin(&self) -> Value {
        json!({"pm_id": self.pm_id, "name": self.spec.name, "namespace": self.spec.namespace})
    }

    /// Replaces the app's options (restart with overrides, a config file started again).
    pub fn set_spec(&mut self, spec: Arc<AppSpec>) {
        self.spec = spec;
        self.described = std::sync::OnceLock::new();
    }

    /// pm2 flattens the environment onto `pm2_env`, then lays the options and its own
    /// variables over it; `env` holds the environment alone, as pm2's does (scripts count
    /// the lines naming the app's path: one per process).
    fn static_description(&self, home: &Home) -> &[u8] {
        self.described.get_or_init(|| {
            let s = &self.spec;
            let vars = self.pm2_vars(home);
            let mut env = s.env.clone();
            // pm2 also writes the incremented variable into the app's env.
            if let Some((var, value)) = self.incremented() {
                env.insert(var.into(), json!(value));
            }
            let mut p = env.clone();
            for (k, v) in &s.options {
                if !k.starts_with('_') {
                    p.insert(k.clone(), v.clone());
                }
            }
            for (k, v) in vars {
                p.insert(k, v);
            }
            p.insert("username".into(), json!(username()));
            p.insert("env".into(), Value::Object(env));
            for k in self.changing_env().keys() {
                p.remove(k);
            }
            let mut text = serde_json::to_vec(&p).expect("a map serialises");
            text.pop(); // the closing brace: the changing keys follow
            text
        })
    }

    /// The keys of `pm2_env` that change while the app runs.
    fn changing_env(&self) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert("status".into(), json!(self.status.as_str()));
        p.insert("pm_uptime".into(), json!(self.pm_uptime));
        p.insert("created_at".into(), json!(self.created_at));
        p.insert("restart_time".into(), json!(self.restart_time));
        p.insert("unstable_restarts".into(), json!(self.unstable_restarts));
        p.insert("prev_restart_delay".into(), json!(self.prev_restart_delay));
        p.insert("exit_code".into(), json!(self.exit_code));
        p.insert("node_version".into(), json!(self.node_version.as_deref().or(self.spec.node_version())));
        p.insert("versioning".into(), Value::Null);
        p.insert("vizion_running".into(), json!(false));
        p.insert("km_link".into(), json!(false));
        p.insert("axm_actions".into(), Value::Array(self.axm_actions.clone()));
        p.insert("axm_monitor".into(), Value::Object(self.axm_monitor.clone()));
        p.insert("axm_options".into(), Value::Object(self.axm_options.clone()));
        p.insert("axm_dynamic".into(), json!({}));
        p
    }

    /// The description without `pm2_env`.
    fn head(&self) -> Map<String, Value> {
        let running = self.status.is_running() || self.status == Status::Stopping;
        let monit = if running { self.monit } else { Monit::default() };
        let mut head = Map::new();
        head.insert("pid".into(), json!(if running { self.pid.unwrap_or(0) } else { 0 }));
        head.insert("name".into(), json!(self.spec.name));
        head.insert("pm_id".into(), json!(self.pm_id));
        head.insert("monit".into(), json!({"memory": monit.memory, "cpu": (monit.cpu * 10.0).round() / 10.0}));
        head
    }

    /// The process description pm2's `list()` / `describe()` return. Values nested past
    /// serde_json's depth limit cannot be read back (`MAX_JSON_DEPTH` keeps apps and clients
    /// well below it): the description then has no `pm2_env`, and the daemon carries on.
    pub fn describe(&self, home: &Home) -> Value {
        let mut text = Vec::new();
        self.write_description(home, &mut text);
        serde_json::from_slice(&text).unwrap_or_else(|e| {
            daemon_log!("the description of {} cannot be read back ({e}): it goes out without pm2_env", self.spec.name);
            Value::Object(self.head())
        })
    }

    /// The description as JSON text, appended to `out`.
    pub fn write_description(&self, home: &Home, out: &mut Vec<u8>) {
        self.write_with_head(self.head(), home, out)
    }

    /// The description as pm2 answers a start: with `process: {pid}` beside `pm2_env`.
    pub fn write_start_result(&self, home: &Home, out: &mut Vec<u8>) {
        let mut head = self.head();
        let pid = head.get("pid").cloned().unwrap_or(Value::Null);
        head.insert("process".into(), json!({ "pid": pid }));
        self.write_with_head(head, home, out)
    }

    fn write_with_head(&self, head: Map<String, Value>, home: &Home, out: &mut Vec<u8>) {
        let head = serde_json::to_vec(&head).expect("a map serialises");
        out.extend_from_slice(&head[..head.len() - 1]);
        out.extend_from_slice(b",\"pm2_env\":");
        let fixed = self.static_description(home);
        out.extend_from_slice(fixed);
        let mut first = fixed.len() == 1; // "{": nothing before the changing keys
        for (k, v) in self.changing_env() {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, &k).expect("a string serialises");
            out.push(b':');
            serde_json::to_writer(&mut *out, &v).expect("a value serialises");
        }
        out.extend_from_slice(b"}}");
    }
}

fn path_json(p: Option<std::path::PathBuf>) -> Value {
    match p {
        Some(p) => json!(p.to_string_lossy()),
        None => json!("/dev/null"),
    }
}

fn username() -> String {
    std::env::var("USER")
        .ok()
        .or_else(|| nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|u| u.name))
        .unwrap_or_default()
}

/// What a `stop`/`restart`/`delete`/... call names.
#[derive(Debug, Clone)]
pub enum Target {
    All,
    /// A name or a script path (resolved against `cwd`), a namespace, or an id (number or
    /// numeric string), tried in pm2's order.
    Selector { text: String, cwd: Option<PathBuf> },
    /// `/pattern/`: every app whose name the pattern matches.
    Pattern(regex::Regex),
    /// The apps of a config file, by name; names that are not running are passed over.
    Names(Vec<String>),
}

impl Target {
    pub fn of(selection: &Selection) -> Result<Target, String> {
        if let Some(Value::Array(names)) = &selection.names {
            return Ok(Target::Names(names.iter().filter_map(|n| n.as_str().map(str::to_string)).collect()));
        }
        let cwd = selection.cwd.as_deref().map(PathBuf::from);
        match &selection.target {
            Some(Value::String(s)) if s == "all" => Ok(Target::All),
            Some(Value::String(s)) if s.len() > 2 && s.starts_with('/') && s.ends_with('/') => {
                let pattern = &s[1..s.len() - 1];
                regex::Regex::new(pattern).map(Target::Pattern).map_err(|e| format!("Invalid regular expression {s}: {e}"))
            }
            Some(Value::String(s)) => Ok(Target::Selector { text: s.clone(), cwd }),
            Some(Value::Number(n)) => Ok(Target::Selector { text: n.to_string(), cwd: None }),
            Some(other) => Err(format!("A process must be selected by name, id, namespace or \"all\", got {other}")),
            None => Err("No process given: pass a name, an id, a namespace or \"all\"".into()),
        }
    }
}

#[derive(Default)]
pub struct ProcessTable {
    procs: BTreeMap<u32, Proc>,
    next_id: u32,
}

impl ProcessTable {
    /// Ids count up from 0 and start again at 0 once the table is empty, as in pm2.
    pub fn allocate_id(&mut self) -> u32 {
        if self.procs.is_empty() {
            self.next_id = 0;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Inserts an entry that keeps its id (restored after a daemon crash).
    pub fn insert_with_id(&mut self, p: Proc) {
        self.next_id = self.next_id.max(p.pm_id + 1);
        self.procs.insert(p.pm_id, p);
    }

    pub fn insert(&mut self, p: Proc) {
        self.procs.insert(p.pm_id, p);
    }

    pub fn remove(&mut self, pm_id: u32) -> Option<Proc> {
        self.procs.remove(&pm_id)
    }

    pub fn get(&self, pm_id: u32) -> Option<&Proc> {
        self.procs.get(&pm_id)
    }

    pub fn get_mut(&mut self, pm_id: u32) -> Option<&mut Proc> {
        self.procs.get_mut(&pm_id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Proc> {
        self.procs.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Proc> {
        self.procs.values_mut()
    }

    pub fn ids(&self) -> Vec<u32> {
        self.procs.keys().copied().collect()
    }

    pub fn ids_named(&self, name: &str) -> Vec<u32> {
        self.procs.values().filter(|p| p.spec.name == name).map(|p| p.pm_id).collect()
    }

    /// The lowest instance index not used by another instance of `name`.
    pub fn free_instance(&self, name: &str) -> u32 {
        let used: Vec<u32> = self.procs.values().filter(|p| p.spec.name == name).map(|p| p.instance).collect();
        (0..).find(|i| !used.contains(i)).unwrap_or(0)
    }

    /// Resolves a target to ids, in pm_id order. A string is tried as a name or script
    /// path, then a namespace, then an id, as pm2 does; an unknown one is an error naming it.
    pub fn select(&self, target: &Target) -> Result<Vec<u32>, String> {
        let matching = |f: &dyn Fn(&Proc) -> bool| -> Vec<u32> { self.procs.values().filter(|p| f(p)).map(|p| p.pm_id).collect() };
        let ids: Vec<u32> = match target {
            Target::All => self.ids(),
            Target::Names(names) => return Ok(matching(&|p| names.contains(&p.spec.name))),
            Target::Pattern(re) => matching(&|p| re.is_match(&p.spec.name)),
            Target::Selector { text, cwd } => {
                let script = cwd.as_ref().map(|cwd| crate::config::lexically_normal(&cwd.join(text)));
                let by_name = matching(&|p| &p.spec.name == text || script.as_ref().is_some_and(|s| *s == p.spec.exec_path));
                let by_ns = || matching(&|p| &p.spec.namespace == text);
                let by_id = || text.parse::<u32>().ok().filter(|id| self.procs.contains_key(id)).into_iter().collect();
                [by_name, by_ns()].into_iter().find(|ids| !ids.is_empty()).unwrap_or_else(by_id)
            }
        };
        if ids.is_empty() {
            return Err(match target {
                Target::All | Target::Names(_) => "No process found".into(),
                Target::Pattern(re) => format!("No process matches /{re}/"),
                Target::Selector { text, .. } => format!("Process or Namespace {text} not found"),
            });
        }
        Ok(ids)
    }
}



/// A generation no process has had: unique across the daemon, not only per entry, because
/// ids are reused once the list is empty and a deleted app's late timer (its
/// `listen_timeout`) must not reach the new app that got its id.
pub fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// App `name` (`app.js` in a fresh directory, started with `env`) as process `pm_id`.
    fn app(name: &str, pm_id: u32, env: Map<String, Value>) -> (Proc, Home, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pm2rs-describe-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.js"), "").unwrap();
        let home = Home::new(dir.join("home"));
        let ctx = crate::config::StartContext { cwd: dir.clone(), env, node_path: "/usr/bin/node".into(), ..Default::default() };
        let spec = crate::config::normalize(&json!({"script": "app.js", "name": name}), &ctx, &home, 1600).unwrap();
        (Proc::new(pm_id, Arc::new(spec), 0, 42), home, dir)
    }

    #[test]
    fn description_text_joins_the_fixed_and_the_changing_parts() {
        let mut env = Map::new();
        env.insert("PATH".into(), json!("/usr/bin"));
        // A variable named like a changing key: pm2_env's own status wins, and only once.
        env.insert("status".into(), json!("from the environment"));
        let (mut p, home, dir) = app("a", 3, env);
        p.status = Status::Online;
        p.pid = Some(1234);
        p.restart_time = 2;
        p.axm_monitor.insert("m".into(), json!({"value": 1}));
        let d = p.describe(&home);
        assert_eq!((d["pid"].as_u64(), d["name"].as_str(), d["pm_id"].as_u64()), (Some(1234), Some("a"), Some(3)));
        let env = &d["pm2_env"];
        assert_eq!(env["status"], "online");
        assert_eq!(env["restart_time"], 2);
        assert_eq!(env["axm_monitor"]["m"]["value"], 1);
        assert_eq!(env["PATH"], "/usr/bin");
        assert_eq!(env["env"]["status"], "from the environment");
        assert_eq!(env["pm_exec_path"], json!(dir.join("app.js").to_string_lossy()));
        let mut text = Vec::new();
        p.write_description(&home, &mut text);
        // Once in pm2_env, once in pm2_env.env.
        assert_eq!(String::from_utf8(text).unwrap().matches("\"status\":").count(), 2);
        // The changing part changes; the cached part stays.
        p.status = Status::Stopped;
        assert_eq!(p.describe(&home)["pm2_env"]["status"], "stopped");
        assert_eq!(p.describe(&home)["pid"], 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_description_too_deep_to_read_back_goes_out_without_pm2_env() {
        let (mut p, home, dir) = app("deep", 7, Map::new());
        let deep = (0..200).fold(json!(1), |v, _| json!([v]));
        p.axm_monitor.insert("m".into(), deep);
        let d = p.describe(&home);
        assert_eq!((d["pm_id"].as_u64(), d["name"].as_str()), (Some(7), Some("deep")));
        assert!(d.get("pm2_env").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
