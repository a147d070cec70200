//! One small function per request; `dispatch` is the daemon's whole API. Each runs in its
//! own task and works on the process table through the supervisor (`Daemon::ask`).

use serde_json::{json, Value};
use std::sync::Arc;

use nix::sys::signal::Signal;

use super::process_table::{Proc, Status, Target};
use super::supervisor::Supervisor;
use super::{dump, logrotate, logs, Daemon};
use crate::config::{self, StartContext};
use crate::protocol::{self, Request, Selection, PACKAGE_VERSION};

/// A request's result: a value, or JSON text already (descriptions, the bulk of `list()`).
pub enum Answer {
    Value(Value),
    Json(Vec<u8>),
}

pub async fn dispatch(d: &Arc<Daemon>, request: Request) -> Result<Answer, String> {
    let value = match request {
        Request::List => {
            return Ok(Answer::Json(d.ask(|s| {
                s.read_unsampled();
                descriptions_json(s, None, Proc::write_description)
            })
            .await?))
        }
        Request::Describe(sel) => return Ok(Answer::Json(d.ask(move |s| describe(s, &sel)).await?)),
        Request::Ping => json!({"msg": "pong"}),
        Request::GetVersion => json!(PACKAGE_VERSION),
        Request::Start(params) => return Ok(Answer::Json(start(d, params).await?)),
        Request::Stop(sel) => each(d, &sel, Action::Stop).await?,
        Request::Restart(params) => restart(d, params, false).await?,
        Request::Reload(params) => reload(d, params).await?,
        Request::Scale(params) => scale(d, params).await?,
        Request::Delete(sel) => each(d, &sel, Action::Delete).await?,
        Request::Reset(sel) => d.ask(move |s| reset(s, &sel)).await??,
        Request::GetProcessIdByName(sel) => d.ask(move |s| ids_by_name(s, &sel)).await?,
        Request::GetPid(sel) => d.ask(move |s| pids(s, &sel)).await?,
        Request::Flush(sel) => d.ask(move |s| flush(s, &sel)).await??,
        Request::ReloadLogs => {
            d.reload_logs();
            json!({})
        }
        Request::SetLogRotation(params) => set_log_rotation(d, params)?,
        Request::SendSignal(params) => d.ask(move |s| send_signal(s, params)).await??,
        Request::SendData(params) => d.ask(move |s| send_data(s, params)).await??,
        Request::SendLine(params) => send_line(d, params).await?,
        Request::MsgProcess(params) => d.ask(move |s| msg_process(s, params)).await??,
        Request::Dump(params) => {
            dump::save_current(d, params.force).await.map_err(|e| e.to_string())?;
            json!({"success": true})
        }
        Request::ClearDump => {
            dump::write_atomic(&d.home.dump_file(), b"[]", dump::Outlives::Machine).map_err(|e| format!("Cannot write {}: {e}", d.home.dump_file().display()))?;
            json!({"success": true})
        }
        Request::Resurrect(params) => {
            let node_path = context(params.context).map(|c| c.node_path).unwrap_or_default();
            let started = dump::resurrect(d, &node_path).await?;
            descriptions(d, started).await?
        }
        // Served by the connection itself; a second one is refused.
        Request::Subscribe => return Err("This connection is already subscribed".into()),
        Request::Kill => {
            d.bus.emit("pm2:kill", json!({"status": "killed", "msg": "pm2 has been killed via method"}));
            d.wind_down().await;
            json!({"success": true})
        }
        Request::Web(params) => super::web::start(d, params)?,
        #[cfg(test)]
        Request::Panic(place) => {
            if place == "supervisor" {
                d.ask(|_| panic!("a supervisor step failed on purpose")).await?;
            }
            panic!("a request failed on purpose")
        }
    };
    Ok(Answer::Value(value))
}

/// Descriptions of `ids` as values, for answers that change them.
fn description_values(s: &Supervisor, ids: &[u32]) -> Value {
    serde_json::from_slice(&descriptions_json(s, Some(ids), Proc::write_description)).expect("descriptions are JSON")
}

async fn descriptions(d: &Daemon, ids: Vec<u32>) -> Result<Value, String> {
    d.ask(move |s| description_values(s, &ids)).await
}

/// How one process is written into an answer.
type WriteEntry = fn(&Proc, &crate::home::Home, &mut Vec<u8>);

/// Descriptions of `ids` (every app if None) as a JSON array.
fn descriptions_json(s: &Supervisor, ids: Option<&[u32]>, write: WriteEntry) -> Vec<u8> {
    let procs: Vec<_> = match ids {
        Some(ids) => ids.iter().filter_map(|id| s.table.get(*id)).collect(),
        None => s.table.iter().collect(),
    };
    let mut out = Vec::with_capacity(8 * 1024 * procs.len() + 2);
    out.push(b'[');
    for (i, p) in procs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(p, &s.d.home, &mut out);
    }
    out.push(b']');
    out
}

fn describe(s: &mut Supervisor, sel: &Selection) -> Vec<u8> {
    s.read_unsampled();
    let ids = Target::of(sel).and_then(|t| s.table.select(&t)).unwrap_or_default();
    descriptions_json(s, Some(&ids), Proc::write_description)
}

fn select(s: &Supervisor, sel: &Selection) -> Result<Vec<u32>, String> {
    s.table.select(&Target::of(sel)?)
}

async fn select_ids(d: &Daemon, sel: &Selection) -> Result<Vec<u32>, String> {
    let sel = sel.clone();
    d.ask(move |s| select(s, &sel)).await?
}

fn context(context: Option<Value>) -> Result<StartContext, String> {
    serde_json::from_value(context.unwrap_or(Value::Null)).map_err(|e| format!("invalid start context: {e}"))
}

/// `start`: `mode: "script"` for `start(script[, options])`, `"json"` for an options object
/// or a config file (apps already known by name are restarted with their new options).
async fn start(d: &Arc<Daemon>, params: protocol::StartParams) -> Result<Vec<u8>, String> {
    let ctx = context(params.context)?;
    let apps = params.apps;
    if apps.is_empty() {
        return Err("No app to start".into());
    }
    let by_script = params.mode.as_deref() == Some("script");

    if by_script {
        // `start('name')` of a known app restarts it, as pm2 does.
        if let Some(name) = apps[0].get("script").and_then(Value::as_str).map(str::to_string) {
            let ids = d.ask(move |s| s.table.ids_named(&name)).await?;
            if !ids.is_empty() {
                return restart_ids(d, ids).await.and_then(|v| serde_json::to_vec(&v).map_err(|e| e.to_string()));
            }
        }
    }

    // Validate every app before touching any: nothing half-started.
    let mut specs = Vec::with_capacity(apps.len());
    for app in &apps {
        // An option error names the app (a missing script is named by its path already).
        let spec = match config::normalize(app, &ctx, &d.home, d.settings.kill_timeout) {
            Err(e) if !by_script && e.starts_with("Script not found") => running_script(d, app).await?.ok_or(e).and_then(|script| {
                let mut app = app.clone();
                app["script"] = json!(script);
                config::normalize(&app, &ctx, &d.home, d.settings.kill_timeout)
            }),
            other => other,
        }
        .map_err(|e| match config::declared_name(app) {
            Some(name) if e.starts_with("Option") => format!("{e} in app \"{name}\""),
            _ => e,
        })?;
        specs.push(spec);
    }
    // The raw options and the caller's context live on in the specs: released before the first
    // wait, so that many starts waiting on the supervisor at once do not hold them all.
    drop((apps, ctx));
    // A declaration's known apps are restarted with their new options, or reloaded one
    // instance at a time with `action: "reload"`.
    let rolling = params.action.as_deref() == Some("reload");

    let mut affected = Vec::new();
    for spec in specs {
        if by_script {
            let created = d
                .ask(move |s| {
                    let same_script = s.table.iter().any(|p| p.spec.exec_path == spec.exec_path && p.spec.name == spec.name);
                    if same_script && !spec.force {
                        return Err("Script already launched, add -f option to force re-execution".to_string());
                    }
                    s.create(spec)
                })
                .await??;
            affected.extend(created);
            continue;
        }
        // Known by name: take the new options and restart; else create.
        let known = d
            .ask(move |s| {
                let existing = s.table.ids_named(&spec.name);
                if !existing.is_empty() && !spec.force {
                    let spec = Arc::new(spec);
                    for id in &existing {
                        if let Some(p) = s.table.get_mut(*id) {
                            p.set_spec(spec.clone());
                        }
                    }
                    return Ok((existing, true));
                }
                s.create(spec).map(|ids| (ids, false))
            })
            .await??;
        if known.1 && rolling {
            for &id in &known.0 {
                d.reload(id).await?;
            }
        } else if known.1 {
            restart_ids(d, known.0.clone()).await?;
        }
        affected.extend(known.0);
    }
    // As under pm2, a `wait_ready` app has started once it is ready (or `listen_timeout` ran out).
    let ids = affected.clone();
    let waiters = d.ask(move |s| ids.iter().map(|&id| s.readiness(id)).collect::<Vec<_>>()).await?;
    futures_util::future::join_all(waiters.into_iter().map(Daemon::until_ready)).await;
    // Written straight as text: many starts answered at once hold no value trees.
    d.ask(move |s| descriptions_json(s, Some(&affected), Proc::write_start_result)).await
}

/// The script an app declared by name already runs: as under pm2, a declaration of a known
/// app restarts it by name, and a script path that does not resolve keeps the running one.
async fn running_script(d: &Daemon, app: &Value) -> Result<Option<String>, String> {
    let Some(name) = config::declared_name(app) else { return Ok(None) };
    d.ask(move |s| s.table.iter().find(|p| p.spec.name == name).map(|p| p.spec.exec_path.to_string_lossy().into_owned())).await
}

#[derive(Clone, Copy)]
enum Action {
    Stop,
    Delete,
}

/// Runs an action on every selected process at once.
async fn each(d: &Arc<Daemon>, sel: &Selection, action: Action) -> Result<Value, String> {
    let sel = sel.clone();
    let (home, kill_timeout) = (d.home.clone(), d.settings.kill_timeout);
    let (ids, before) = d
        .ask(move |s| {
            let ids = select(s, &sel)?;
            let before = description_values(s, &ids);
            if matches!(action, Action::Stop) {
                stop_watching(s, &ids, &home, kill_timeout);
            }
            Ok::<_, String>((ids, before))
        })
        .await??;
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
        Action::Stop => descriptions(d, ids).await?,
        Action::Delete => mark_deleted(before),
    })
}

/// As in pm2, stopping an app also turns its `watch` off: a later restart does not watch
/// again unless asked to (`restart(name, {watch: true})`).
fn stop_watching(s: &mut Supervisor, ids: &[u32], home: &crate::home::Home, kill_timeout: u64) {
    for &id in ids {
        let Some(p) = s.table.get_mut(id) else { continue };
        if p.spec.watch.is_empty() {
            continue;
        }
        let mut source = p.spec.source.clone();
        merge_options(&mut source, &json!({"watch": false}));
        match config::normalize(&source, &p.spec.context, home, kill_timeout) {
            Ok(spec) => p.set_spec(Arc::new(spec)),
            Err(e) => daemon_log!("cannot turn watching off for {}: {e}", p.spec.name),
        }
    }
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

async fn restart_ids(d: &Arc<Daemon>, ids: Vec<u32>) -> Result<Value, String> {
    let mut set = tokio::task::JoinSet::new();
    for &id in &ids {
        let d = d.clone();
        set.spawn(async move { d.restart(id).await });
    }
    while let Some(r) = set.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    descriptions(d, ids).await
}

/// `restart(target, opts)`: start options in `opts` override the app's own; `updateEnv`
/// takes the caller's current environment.
async fn restart(d: &Arc<Daemon>, params: protocol::RestartParams, rolling: bool) -> Result<Value, String> {
    let ids = select_ids(d, &params.selection).await?;
    let mut overrides = params.opts.clone().filter(|o| !o.is_null()).unwrap_or(json!({}));
    let update_env = overrides.get("updateEnv").and_then(Value::as_bool).unwrap_or(false);
    if let Value::Object(o) = &mut overrides {
        o.remove("updateEnv");
    }
    let has_overrides = overrides.as_object().is_some_and(|o| !o.is_empty());
    if update_env || has_overrides {
        let caller = context(params.context.clone()).ok();
        let home = d.home.clone();
        let kill_timeout = d.settings.kill_timeout;
        let respec_ids = ids.clone();
        d.ask(move |s| {
            let mut respecs = Vec::new();
            for &id in &respec_ids {
                let Some(p) = s.table.get(id) else { continue };
                let mut source = p.spec.source.clone();
                merge_options(&mut source, &overrides);
                let mut ctx = p.spec.context.clone();
                if update_env {
                    if let Some(c) = &caller {
                        ctx.env = c.env.clone();
                    }
                }
                respecs.push((id, config::normalize(&source, &ctx, &home, kill_timeout)?));
            }
            for (id, spec) in respecs {
                if let Some(p) = s.table.get_mut(id) {
                    p.set_spec(Arc::new(spec));
                }
            }
            Ok::<_, String>(())
        })
        .await??;
    }
    if !rolling {
        return restart_ids(d, ids).await;
    }
    // One instance at a time, so that the others keep serving.
    for &id in &ids {
        d.reload(id).await?;
    }
    descriptions(d, ids).await
}

/// `reload`: rolling, guarded by `$PM2_HOME/reload.lock` (a millisecond timestamp while a
/// reload runs, empty after) unless `force`.
async fn reload(d: &Arc<Daemon>, mut params: protocol::RestartParams) -> Result<Value, String> {
    let lock = d.home.root.join("reload.lock");
    let force = params.opts.as_ref().and_then(|o| o.get("force")).and_then(Value::as_bool).unwrap_or(false);
    let timeout: u64 = std::env::var("PM2_RELOAD_LOCK_TIMEOUT").ok().and_then(|v| v.parse().ok()).unwrap_or(30_000);
    let held_since = std::fs::read_to_string(&lock).ok().and_then(|t| t.trim().parse::<u64>().ok());
    if !force && held_since.is_some_and(|t| super::now_ms().saturating_sub(t) < timeout) {
        return Err("Reload in progress".into());
    }
    let _ = crate::home::write_private(&lock, &super::now_ms().to_string());
    if let Some(Value::Object(o)) = &mut params.opts {
        o.remove("force");
    }
    let result = restart(d, params, true).await;
    let _ = crate::home::write_private(&lock, "");
    result
}

/// `scale(name, n | '+k' | '-k')`: new instances copy the app (with new unique ids); the
/// lowest ids go first when scaling down.
async fn scale(d: &Arc<Daemon>, params: protocol::ScaleParams) -> Result<Value, String> {
    let name = params.target.as_ref().and_then(Value::as_str).ok_or("scale() needs an app name")?.to_string();
    let named = name.clone();
    let ids = d.ask(move |s| s.table.ids_named(&named)).await?;
    if ids.is_empty() {
        return Err("process or namespace not found".into());
    }
    let current = ids.len() as i64;
    let wanted = match &params.count {
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
        let first = ids[0];
        d.ask(move |s| {
            let spec = s.table.get(first).map(|p| p.spec.clone()).ok_or("process or namespace not found")?;
            let mut one = (*spec).clone();
            one.instances = (wanted - current) as u32;
            s.create(one)
        })
        .await??;
    } else {
        // The oldest instances go first, as in pm2.
        for &id in ids.iter().take((current - wanted) as usize) {
            d.delete(id).await?;
        }
    }
    d.ask(move |s| {
        let now = s.table.ids_named(&name);
        description_values(s, &now)
    })
    .await
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
            // pm2 drops an option given as the text "null" (`--node-args=null`).
            (_, Value::String(text)) if text == "null" => {
                src.insert(k.clone(), Value::Null);
            }
            _ => {
                src.insert(k.clone(), v.clone());
            }
        }
    }
}

fn reset(s: &mut Supervisor, sel: &Selection) -> Result<Value, String> {
    let ids = select(s, sel)?;
    for &id in &ids {
        if let Some(p) = s.table.get_mut(id) {
            p.restart_time = 0;
            p.unstable_restarts = 0;
        }
    }
    Ok(description_values(s, &ids))
}

fn ids_by_name(s: &Supervisor, sel: &Selection) -> Value {
    let name = sel.target.as_ref().and_then(Value::as_str).unwrap_or("");
    json!(s.table.ids_named(name))
}

fn pids(s: &Supervisor, sel: &Selection) -> Value {
    let ids = match Target::of(sel) {
        Ok(t) => s.table.select(&t).unwrap_or_default(),
        Err(_) => s.table.ids(),
    };
    json!(ids.iter().filter_map(|id| s.table.get(*id)).filter_map(|p| p.pid).collect::<Vec<_>>())
}

fn flush(s: &Supervisor, sel: &Selection) -> Result<Value, String> {
    let everything = sel.target.is_none() && sel.names.is_none();
    let ids = if everything { s.table.ids() } else { select(s, sel)? };
    for id in &ids {
        if let Some(p) = s.table.get(*id) {
            for path in p.spec.instance_logs(*id) {
                logs::truncate(&path);
            }
        }
    }
    if everything {
        logs::truncate(&s.d.home.log_file());
    }
    Ok(description_values(s, &ids))
}

/// pm2-logrotate's settings changed (`set`, `unset`, `multiset`): checked, then applied
/// to running apps at once. Answers what rotation now does.
fn set_log_rotation(d: &Arc<Daemon>, params: protocol::LogRotationParams) -> Result<Value, String> {
    let settings = match params.conf {
        None => None,
        Some(section) => {
            let (settings, problems) = logrotate::Settings::parse(&section);
            if !problems.is_empty() {
                return Err(problems.join("; "));
            }
            Some(settings)
        }
    };
    let answer = settings.as_ref().map_or(Value::Null, logrotate::Settings::to_json);
    d.log_rotation.apply(d, settings);
    Ok(answer)
}

fn parse_signal(v: Option<&Value>) -> Result<Signal, String> {
    match v {
        Some(Value::String(s)) => config::signal_named(s),
        Some(Value::Number(n)) => n.as_i64().and_then(|n| Signal::try_from(n as i32).ok()).ok_or_else(|| format!("Unknown signal: {n}")),
        _ => Err("A signal name such as \"SIGUSR2\" is required".into()),
    }
}

fn send_signal(s: &Supervisor, params: protocol::SignalParams) -> Result<Value, String> {
    let signal = parse_signal(params.signal.as_ref())?;
    let ids = select(s, &params.selection)?;
    for id in &ids {
        // Checked by its start time: a pid reused since the app ended is not hit.
        if let Some(process) = s.table.get(*id).and_then(|p| p.process()) {
            match process.signal(signal) {
                Ok(true) => {}
                Ok(false) => return Err(format!("Cannot send {signal} to process {id}: it is no longer running")),
                Err(e) => return Err(format!("Cannot send {signal} to process {id}: {e}")),
            }
        }
    }
    Ok(description_values(s, &ids))
}

fn send_data(s: &Supervisor, params: protocol::DataParams) -> Result<Value, String> {
    let packet = params.packet.unwrap_or(Value::Null);
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
    let p = s.table.get(pm_id as u32).ok_or_else(|| format!("Process with id {pm_id} not found"))?;
    if !matches!(p.status, Status::Online | Status::Launching) {
        return Err(format!("Process {pm_id} is not online (status: {})", p.status.as_str()));
    }
    let tx = p.ipc.as_ref().ok_or_else(|| format!("Process {pm_id} has no IPC channel (only Node apps have one)"))?;
    tx.send(&packet).map_err(|_| format!("Process {pm_id} closed its IPC channel"))?;
    Ok(json!({"success": true, "data": packet}))
}

async fn send_line(d: &Daemon, params: protocol::LineParams) -> Result<Value, String> {
    let ids = select_ids(d, &params.selection).await?;
    let line = params.line.as_ref().and_then(Value::as_str).ok_or("A line (string) to send is required")?;
    let separator = params.separator.as_ref().and_then(Value::as_str).unwrap_or("\n");
    for &id in &ids {
        let stdin = d
            .ask(move |s| {
                let p = s.table.get(id).ok_or("process or namespace not found")?;
                if !p.status.is_running() {
                    return Err(format!("Process {id} is not online (status: {})", p.status.as_str()));
                }
                p.stdin.clone().ok_or_else(|| format!("Process {id} has no stdin"))
            })
            .await??;
        use tokio::io::AsyncWriteExt;
        let mut w = stdin.lock().await;
        w.write_all(format!("{line}{separator}").as_bytes()).await.map_err(|e| format!("Cannot write to the stdin of process {id}: {e}"))?;
    }
    descriptions(d, ids).await
}

/// Invokes an action an app declared through `@pm2/io` (`axm:action`) on every selected
/// online instance that has it. Replies come back on the bus as `axm:reply`.
fn msg_process(s: &Supervisor, params: protocol::ActionParams) -> Result<Value, String> {
    let action = params.msg.as_ref().and_then(Value::as_str).ok_or("An action name is required")?;
    let ids = select(s, &params.selection)?;
    let opts = params.opts.filter(|o| !o.is_null());
    let mut sent = 0;
    let mut known = false;
    for id in &ids {
        let Some(p) = s.table.get(*id) else { continue };
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
