//! One small function per request; `dispatch` is the daemon's whole API.

use serde_json::{json, Value};
use std::sync::Arc;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::process_table::{Status, Target};
use super::{logs, Daemon};
use crate::config::{self, StartContext};
use crate::protocol::PACKAGE_VERSION;

/// A request's result: a value, or JSON text already (descriptions, the bulk of `list()`).
pub enum Answer {
    Value(Value),
    Json(Vec<u8>),
}

pub async fn dispatch(d: &Arc<Daemon>, method: &str, params: Value) -> Result<Answer, String> {
    match method {
        "list" => Ok(Answer::Json(list(d))),
        "describe" => Ok(Answer::Json(describe(d, &params))),
        _ => values(d, method, params).await.map(Answer::Value),
    }
}

async fn values(d: &Arc<Daemon>, method: &str, params: Value) -> Result<Value, String> {
    match method {
        "ping" => Ok(json!({"msg": "pong"})),
        "getVersion" => Ok(json!(PACKAGE_VERSION)),
        "start" => start(d, &params).await,
        "stop" => each(d, &params, Action::Stop).await,
        "restart" => restart(d, &params, false).await,
        "reload" => reload(d, &params).await,
        "scale" => scale(d, &params).await,
        "delete" => each(d, &params, Action::Delete).await,
        "reset" => reset(d, &params),
        "getProcessIdByName" => Ok(ids_by_name(d, &params)),
        "getPID" => Ok(pids(d, &params)),
        "flush" => flush(d, &params),
        "reloadLogs" => {
            d.reload_logs();
            Ok(json!({}))
        }
        "sendSignalToProcessName" | "sendSignalToProcessId" => send_signal(d, &params),
        "sendDataToProcessId" => send_data(d, &params),
        "sendLineToStdin" => send_line(d, &params).await,
        "msgProcess" => msg_process(d, &params),
        "dump" => save_dump(d, &params),
        "clearDump" => {
            super::dump::write_atomic(&d.home.dump_file(), b"[]").map_err(|e| format!("Cannot write {}: {e}", d.home.dump_file().display()))?;
            Ok(json!({"success": true}))
        }
        "resurrect" => resurrect(d, &params).await,
        "kill" => {
            d.bus.emit("pm2:kill", json!({"status": "killed", "msg": "pm2 has been killed via method"}));
            d.delete_all().await;
            if !d.settings.in_process {
                super::supervisor::kill_leftovers();
            }
            Ok(json!({"success": true}))
        }
        other => Err(format!("not implemented: {other}")),
    }
}

/// Descriptions of `ids` as values, for answers that change them.
fn descriptions(d: &Daemon, ids: &[u32]) -> Value {
    serde_json::from_slice(&descriptions_json(d, Some(ids))).expect("descriptions are JSON")
}

/// Descriptions of `ids` as a JSON array.
fn descriptions_json(d: &Daemon, ids: Option<&[u32]>) -> Vec<u8> {
    let table = d.table.lock().unwrap();
    let procs: Vec<_> = match ids {
        Some(ids) => ids.iter().filter_map(|id| table.get(*id)).collect(),
        None => table.iter().collect(),
    };
    let mut out = Vec::with_capacity(8 * 1024 * procs.len() + 2);
    out.push(b'[');
    for (i, p) in procs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        p.write_description(&d.home, &mut out);
    }
    out.push(b']');
    out
}

fn list(d: &Daemon) -> Vec<u8> {
    descriptions_json(d, None)
}

fn describe(d: &Daemon, params: &Value) -> Vec<u8> {
    let ids = Target::from_params(params).and_then(|t| d.table.lock().unwrap().select(&t)).unwrap_or_default();
    descriptions_json(d, Some(&ids))
}

fn select(d: &Daemon, params: &Value) -> Result<Vec<u32>, String> {
    let target = Target::from_params(params)?;
    d.table.lock().unwrap().select(&target)
}

fn context(params: &Value) -> Result<StartContext, String> {
    serde_json::from_value(params.get("context").cloned().unwrap_or(Value::Null)).map_err(|e| format!("invalid start context: {e}"))
}

/// `start`: `mode: "script"` for `start(script[, options])`, `"json"` for an options object
/// or a config file (apps already known by name are restarted with their new options).
async fn start(d: &Arc<Daemon>, params: &Value) -> Result<Value, String> {
    let ctx = context(params)?;
    let apps = params.get("apps").and_then(Value::as_array).cloned().unwrap_or_default();
    if apps.is_empty() {
        return Err("No app to start".into());
    }
    let by_script = params.get("mode").and_then(Value::as_str) == Some("script");

    if by_script {
        // `start('name')` of a known app restarts it, as pm2 does.
        if let Some(name) = apps[0].get("script").and_then(Value::as_str) {
            let ids = d.table.lock().unwrap().ids_named(name);
            if !ids.is_empty() {
                return restart_ids(d, &ids).await;
            }
        }
    }

    // Validate every app before touching any: nothing half-started.
    let mut specs = Vec::with_capacity(apps.len());
    for app in &apps {
        specs.push(config::normalize(app, &ctx, &d.home, d.settings.kill_timeout)?);
    }

    let mut affected = Vec::new();
    for spec in specs {
        let existing = d.table.lock().unwrap().ids_named(&spec.name);
        if by_script {
            let same_script = {
                let table = d.table.lock().unwrap();
                let found = table.iter().any(|p| p.spec.exec_path == spec.exec_path && p.spec.name == spec.name);
                found
            };
            if same_script && !spec.force {
                return Err("Script already launched, add -f option to force re-execution".into());
            }
            affected.extend(d.create(spec)?);
        } else if !existing.is_empty() && !spec.force {
            let spec = Arc::new(spec);
            {
                let mut table = d.table.lock().unwrap();
                for id in &existing {
                    if let Some(p) = table.get_mut(*id) {
                        p.set_spec(spec.clone());
                    }
                }
            }
            restart_ids(d, &existing).await?;
            affected.extend(existing);
        } else {
            affected.extend(d.create(spec)?);
        }
    }
    Ok(descriptions(d, &affected))
}

#[derive(Clone, Copy)]
enum Action {
    Stop,
    Delete,
}

/// Runs an action on every selected process at once.
async fn each(d: &Arc<Daemon>, params: &Value, action: Action) -> Result<Value, String> {
    let ids = select(d, params)?;
    let before = descriptions(d, &ids);
    let mut set = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let d = d.clone();
        set.spawn(async move {
            match action {
                Action::Stop => d.stop(id).await,
                Action::Delete => d.delete(id).await,
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(match action {
        Action::Stop => descriptions(d, &ids),
        Action::Delete => mark_deleted(before),
    })
}

fn mark_deleted(mut before: Value) -> Value {
    if let Value::Array(items) = &mut before {
        for item in items {
            item["pm2_env"]["status"] = json!("stopped");
            item["pid"] = json!(0);
        }
    }
    before
}

async fn restart_ids(d: &Arc<Daemon>, ids: &[u32]) -> Result<Value, String> {
    let mut set = tokio::task::JoinSet::new();
    for &id in ids {
        let d = d.clone();
        set.spawn(async move { d.restart(id).await });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(descriptions(d, ids))
}

/// `restart(target, opts)`: start options in `opts` override the app's own; `updateEnv`
/// takes the caller's current environment.
async fn restart(d: &Arc<Daemon>, params: &Value, rolling: bool) -> Result<Value, String> {
    let ids = select(d, params)?;
    let mut overrides = params.get("opts").cloned().unwrap_or(json!({}));
    let update_env = overrides.get("updateEnv").and_then(Value::as_bool).unwrap_or(false);
    if let Value::Object(o) = &mut overrides {
        o.remove("updateEnv");
    }
    let has_overrides = overrides.as_object().is_some_and(|o| !o.is_empty());
    if update_env || has_overrides {
        let caller = context(params).ok();
        let mut respecs = Vec::new();
        {
            let table = d.table.lock().unwrap();
            for &id in &ids {
                let Some(p) = table.get(id) else { continue };
                let mut source = p.spec.source.clone();
                merge_options(&mut source, &overrides);
                let mut ctx = p.spec.context.clone();
                if update_env {
                    if let Some(c) = &caller {
                        ctx.env = c.env.clone();
                    }
                }
                respecs.push((id, config::normalize(&source, &ctx, &d.home, d.settings.kill_timeout)?));
            }
        }
        let mut table = d.table.lock().unwrap();
        for (id, spec) in respecs {
            if let Some(p) = table.get_mut(id) {
                p.set_spec(Arc::new(spec));
            }
        }
    }
    if !rolling {
        return restart_ids(d, &ids).await;
    }
    // One instance at a time, so that the others keep serving.
    for &id in &ids {
        d.reload(id).await?;
    }
    Ok(descriptions(d, &ids))
}

/// `reload`: rolling, guarded by `$PM2_HOME/reload.lock` (a millisecond timestamp while a
/// reload runs, empty after) unless `force`.
async fn reload(d: &Arc<Daemon>, params: &Value) -> Result<Value, String> {
    let lock = d.home.root.join("reload.lock");
    let force = params.pointer("/opts/force").and_then(Value::as_bool).unwrap_or(false);
    let timeout: u64 = std::env::var("PM2_RELOAD_LOCK_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(30_000);
    let held_since = std::fs::read_to_string(&lock).ok().and_then(|t| t.trim().parse::<u64>().ok());
    if !force && held_since.is_some_and(|t| super::now_ms().saturating_sub(t) < timeout) {
        return Err("Reload in progress".into());
    }
    let _ = crate::home::write_private(&lock, &super::now_ms().to_string());
    let mut params = params.clone();
    if let Some(Value::Object(o)) = params.get_mut("opts") {
        o.remove("force");
    }
    let result = restart(d, &params, true).await;
    let _ = crate::home::write_private(&lock, "");
    result
}

/// `scale(name, n | '+k' | '-k')`: new instances copy the app (with new unique ids); the
/// highest ids go first when scaling down.
async fn scale(d: &Arc<Daemon>, params: &Value) -> Result<Value, String> {
    let name = params.get("target").and_then(Value::as_str).ok_or("scale() needs an app name")?;
    let ids = d.table.lock().unwrap().ids_named(name);
    if ids.is_empty() {
        return Err("process or namespace not found".into());
    }
    let current = ids.len() as i64;
    let wanted = match params.get("count") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if s.starts_with('+') => s[1..].parse::<i64>().ok().and_then(|k| current.checked_add(k)),
        Some(Value::String(s)) if s.starts_with('-') => s[1..].parse::<i64>().ok().and_then(|k| current.checked_sub(k)),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or("scale() needs a number of instances, or '+k' / '-k'")?;
    crate::limits::instances(wanted as f64)?;
    if wanted < 1 {
        return Err(format!("Cannot scale {name} to {wanted} instances: use delete() to remove it"));
    }
    if wanted == current {
        return Err(format!("{name} already has {current} instance{}", if current == 1 { "" } else { "s" }));
    }
    if wanted > current {
        let spec = d.table.lock().unwrap().get(ids[0]).map(|p| p.spec.clone()).ok_or("process or namespace not found")?;
        let mut one = (*spec).clone();
        one.instances = (wanted - current) as u32;
        d.create(one)?;
    } else {
        for &id in ids.iter().rev().take((current - wanted) as usize) {
            d.delete(id).await?;
        }
    }
    let now = d.table.lock().unwrap().ids_named(name);
    Ok(descriptions(d, &now))
}

/// Overrides replace the app's options key by key; `env` objects are merged.
fn merge_options(source: &mut Value, overrides: &Value) {
    let (Value::Object(src), Value::Object(over)) = (source, overrides) else { return };
    for (k, v) in over {
        match (src.get_mut(k), v) {
            (Some(Value::Object(old)), Value::Object(new)) if k == "env" => {
                for (ek, ev) in new {
                    old.insert(ek.clone(), ev.clone());
                }
            }
            _ => {
                src.insert(k.clone(), v.clone());
            }
        }
    }
}

fn reset(d: &Daemon, params: &Value) -> Result<Value, String> {
    let ids = select(d, params)?;
    {
        let mut table = d.table.lock().unwrap();
        for &id in &ids {
            if let Some(p) = table.get_mut(id) {
                p.restart_time = 0;
                p.unstable_restarts = 0;
            }
        }
    }
    Ok(descriptions(d, &ids))
}

fn ids_by_name(d: &Daemon, params: &Value) -> Value {
    let name = params.get("target").and_then(Value::as_str).unwrap_or("");
    json!(d.table.lock().unwrap().ids_named(name))
}

fn pids(d: &Daemon, params: &Value) -> Value {
    let table = d.table.lock().unwrap();
    let ids = match Target::from_params(params) {
        Ok(t) => table.select(&t).unwrap_or_default(),
        Err(_) => table.ids(),
    };
    json!(ids.iter().filter_map(|id| table.get(*id)).filter_map(|p| p.pid).collect::<Vec<_>>())
}

fn flush(d: &Daemon, params: &Value) -> Result<Value, String> {
    let everything = params.get("target").is_none() && params.get("names").is_none();
    let ids = if everything { d.table.lock().unwrap().ids() } else { select(d, params)? };
    let table = d.table.lock().unwrap();
    for id in &ids {
        if let Some(p) = table.get(*id) {
            let s = &p.spec;
            for f in [&s.out_file, &s.error_file, &s.log_file] {
                if let Some(path) = s.instance_log(f, *id) {
                    logs::truncate(&path);
                }
            }
        }
    }
    if everything {
        logs::truncate(&d.home.log_file());
    }
    drop(table);
    Ok(descriptions(d, &ids))
}

fn parse_signal(v: Option<&Value>) -> Result<Signal, String> {
    match v {
        Some(Value::String(s)) => config::signal_named(s),
        Some(Value::Number(n)) => n.as_i64().and_then(|n| Signal::try_from(n as i32).ok()).ok_or_else(|| format!("Unknown signal: {n}")),
        _ => Err("A signal name such as \"SIGUSR2\" is required".into()),
    }
}

fn send_signal(d: &Daemon, params: &Value) -> Result<Value, String> {
    let signal = parse_signal(params.get("signal"))?;
    let ids = select(d, params)?;
    let table = d.table.lock().unwrap();
    for id in &ids {
        if let Some(pid) = table.get(*id).and_then(|p| p.pid) {
            kill(Pid::from_raw(pid as i32), signal).map_err(|e| format!("Cannot send {signal} to process {id}: {e}"))?;
        }
    }
    drop(table);
    Ok(descriptions(d, &ids))
}

fn send_data(d: &Daemon, params: &Value) -> Result<Value, String> {
    let packet = params.get("packet").cloned().unwrap_or(Value::Null);
    let id = packet.get("id");
    if !packet.is_object() || id.is_none() || packet.get("data").is_none() || packet.get("topic").is_none() {
        return Err("ID, DATA or TOPIC field is missing".into());
    }
    let pm_id = match id {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or("The packet's id must be a process id (a number)")?;
    let table = d.table.lock().unwrap();
    let p = table.get(pm_id as u32).ok_or_else(|| format!("Process with id {pm_id} not found"))?;
    if !matches!(p.status, Status::Online | Status::Launching) {
        return Err(format!("Process {pm_id} is not online (status: {})", p.status.as_str()));
    }
    let tx = p.ipc.as_ref().ok_or_else(|| format!("Process {pm_id} has no IPC channel (only Node apps have one)"))?;
    tx.send(&packet).map_err(|_| format!("Process {pm_id} closed its IPC channel"))?;
    Ok(json!({"success": true, "data": packet}))
}

async fn send_line(d: &Daemon, params: &Value) -> Result<Value, String> {
    let ids = select(d, params)?;
    let line = params.get("line").and_then(Value::as_str).ok_or("A line (string) to send is required")?;
    let separator = params.get("separator").and_then(Value::as_str).unwrap_or("\n");
    for id in &ids {
        let stdin = {
            let table = d.table.lock().unwrap();
            let p = table.get(*id).ok_or("process or namespace not found")?;
            if !p.status.is_running() {
                return Err(format!("Process {id} is not online (status: {})", p.status.as_str()));
            }
            p.stdin.clone().ok_or_else(|| format!("Process {id} has no stdin"))?
        };
        use tokio::io::AsyncWriteExt;
        let mut w = stdin.lock().await;
        w.write_all(format!("{line}{separator}").as_bytes()).await.map_err(|e| format!("Cannot write to the stdin of process {id}: {e}"))?;
    }
    Ok(descriptions(d, &ids))
}

/// Invokes an action an app declared through `@pm2/io` (`axm:action`) on every selected
/// online instance that has it. Replies come back on the bus as `axm:reply`.
fn msg_process(d: &Daemon, params: &Value) -> Result<Value, String> {
    let action = params.get("msg").and_then(Value::as_str).ok_or("An action name is required")?;
    let ids = select(d, params)?;
    let opts = params.get("opts").cloned().filter(|o| !o.is_null());
    let table = d.table.lock().unwrap();
    let mut sent = 0;
    let mut known = false;
    for id in &ids {
        let Some(p) = table.get(*id) else { continue };
        if !p.axm_actions.iter().any(|a| a.get("action_name").and_then(Value::as_str) == Some(action)) {
            continue;
        }
        known = true;
        if !p.status.is_running() {
            continue;
        }
        let message = match &opts {
            None => json!(action),
            Some(o) => json!({"msg": action, "opts": o}),
        };
        if let Some(tx) = &p.ipc {
            if tx.send(&message).is_ok() {
                sent += 1;
            }
        }
    }
    if !known {
        return Err(format!("Action doesn't exist {action} for the selected processes"));
    }
    if sent == 0 {
        return Err("Not any process has received a command (offline or unexistent)".into());
    }
    Ok(json!({"process_count": sent, "success": true}))
}

fn save_dump(d: &Daemon, params: &Value) -> Result<Value, String> {
    let force = params.get("force").and_then(Value::as_bool).unwrap_or(false);
    let entries: Vec<Value> = {
        let table = d.table.lock().unwrap();
        table.iter().map(|p| super::dump::entry_of(&p.describe(&d.home))).collect()
    };
    if entries.is_empty() && !force {
        return Err("Process list empty, cannot save empty list".into());
    }
    super::dump::save(&d.home, &entries)?;
    Ok(json!({"success": true}))
}

async fn resurrect(d: &Arc<Daemon>, params: &Value) -> Result<Value, String> {
    let node_path = context(params).map(|c| c.node_path).unwrap_or_default();
    let started = resurrect_dump(d, &node_path)?;
    Ok(descriptions(d, &started))
}

/// Starts the dumped apps whose name is not running; instances of one name start together.
pub fn resurrect_dump(d: &Arc<Daemon>, node_path: &str) -> Result<Vec<u32>, String> {
    let entries = super::dump::load(&d.home)?;
    let mut groups: Vec<(String, Value, StartContext, bool, u32)> = Vec::new();
    for entry in &entries {
        let Some((raw, ctx, autostart)) = super::dump::start_options(entry, node_path) else { continue };
        let name = raw.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        match groups.iter_mut().find(|g| g.0 == name) {
            Some(g) => g.4 += 1,
            None => groups.push((name, raw, ctx, autostart, 1)),
        }
    }
    let mut started = Vec::new();
    for (name, mut raw, ctx, autostart, count) in groups {
        if !d.table.lock().unwrap().ids_named(&name).is_empty() {
            continue;
        }
        raw["instances"] = json!(count);
        raw["autostart"] = json!(autostart);
        match config::normalize(&raw, &ctx, &d.home, d.settings.kill_timeout) {
            Ok(spec) => started.extend(d.create(spec)?),
            Err(e) => daemon_log!("cannot resurrect {name}: {e}"),
        }
    }
    Ok(started)
}

/// Saves the process list unless it is empty (a signal stop must not erase a good dump).
pub fn dump_if_any(d: &Daemon) {
    let entries: Vec<Value> = {
        let table = d.table.lock().unwrap();
        table.iter().map(|p| super::dump::entry_of(&p.describe(&d.home))).collect()
    };
    if !entries.is_empty() {
        if let Err(e) = super::dump::save(&d.home, &entries) {
            daemon_log!("{e}");
        }
    }
}
