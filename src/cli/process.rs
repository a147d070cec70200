//! Process control: start, stop, restart, reload, delete and the other per-app actions. Each
//! sends the request `require('pm2')` sends for the same call.

use clap::ArgMatches;
use serde_json::{json, Map, Value};

use super::config_file::{self, is_config_file, Selection};
use super::output::{self, inspect_ids};
use super::{start_flags, state, Ctx, Failure, Outcome};

/// pm2's words for a selector that matches nothing.
pub fn not_found(target: &str) -> Failure {
    Failure::from(format!("Process or Namespace {target} not found"))
}

/// The daemon's error, in pm2's words where pm2 has some.
pub fn failure(e: String, target: &str) -> Failure {
    match e.as_str() {
        "process or namespace not found" => not_found(target),
        "No process found" => Failure { message: "No process found".into(), warning: true },
        _ => Failure::from(e),
    }
}

/// The selector index.js builds: a config file's app names, or `all`, an id, a name, a
/// namespace, a script path (resolved against this directory) or a `/regex/`.
pub fn selector(ctx: &Ctx, target: &str) -> Result<Value, Failure> {
    selector_only(ctx, target, None)
}

/// `selector`, keeping of a config file only the apps `--only` names.
fn selector_only(ctx: &Ctx, target: &str, only: Option<&str>) -> Result<Value, Failure> {
    if is_config_file(target) {
        let loaded = config_file::load(&ctx.cwd, target)?;
        let apps = crate::config::only_apps(loaded.apps, only, target)?;
        let names: Vec<String> = apps.iter().filter_map(crate::config::declared_name).collect();
        return Ok(json!({ "names": names }));
    }
    Ok(json!({ "target": target, "cwd": ctx.cwd }))
}

fn describe_done(procs: &Value) {
    for p in procs.as_array().into_iter().flatten() {
        output::info(format!("[{}]({}) {}", p["name"].as_str().unwrap_or_default(), p["pm_id"], output::paint(output::GREEN, "✓")));
    }
}

fn ids_of(procs: &Value) -> Vec<u64> {
    procs.as_array().into_iter().flatten().filter_map(|p| p["pm_id"].as_u64()).collect()
}

/// After an action, pm2 shows the table (unless silent).
fn show_table(ctx: &mut Ctx) -> Outcome {
    if output::is_silent() {
        return Ok(());
    }
    state::print_table(ctx, false, None)
}

pub fn start(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let given: Vec<String> = m.get_many::<String>("script").map(|v| v.cloned().collect()).unwrap_or_default();
    launch(ctx, &given, m, &Map::new())?;
    show_table(ctx)
}

/// Starts scripts, config files or known names (`pm2 start api worker`), each with the
/// command line's start options plus `extra`; no argument starts `ecosystem.config.*`.
pub fn launch(ctx: &mut Ctx, given: &[String], m: &ArgMatches, extra: &Map<String, Value>) -> Outcome {
    let default;
    let given = if given.is_empty() {
        default = [config_file::default_in(&ctx.cwd).ok_or("File ecosystem.config.js not found")?];
        &default[..]
    } else {
        given
    };
    for script in given {
        if is_config_file(script) {
            start_config(ctx, script, m)?;
        } else {
            start_script(ctx, script, m, extra)?;
        }
    }
    Ok(())
}

/// pm2's smart start: `start <name|namespace|all|id>` restarts the apps it names, with the
/// command line's options (`start 0 --name api` renames). Answers false when `script` names no
/// known app and is to be started as a script.
fn smart_start(ctx: &mut Ctx, script: &str, m: &ArgMatches) -> Result<bool, Failure> {
    let is_id = !script.is_empty() && script.bytes().all(|b| b.is_ascii_digit());
    let is_path = script.contains('/') || std::path::Path::new(script).extension().is_some();
    if !is_id && is_path {
        return Ok(false);
    }
    match restart_target(ctx, "restart", script, m, start_flags::options(m)) {
        Err(e) if !is_id && e == format!("Process or Namespace {script} not found") => Ok(false),
        Err(e) => Err(failure(e, script)),
        Ok(_) => {
            output::info("Process successfully started");
            Ok(true)
        }
    }
}

/// Restarts (or reloads) what `target` selects with `opts` overriding the apps' options;
/// prints what pm2 prints for it.
fn restart_target(ctx: &mut Ctx, method: &str, target: &str, m: &ArgMatches, mut opts: Map<String, Value>) -> Result<Value, String> {
    if opts.get("watch") == Some(&json!(true)) {
        // pm2's restart with `--watch` toggles watching.
        opts.insert("watch".into(), json!(!watching(ctx, target)));
    }
    if m.get_flag(start_flags::UPDATE_ENV) {
        opts.insert("updateEnv".into(), json!(true));
    }
    let mut params = selector(ctx, target).map_err(|f| f.message)?;
    params["opts"] = Value::Object(opts);
    params["context"] = config_file::context(&ctx.cwd, None);
    let done = ctx.call_showing(format!("{method} {target}"), method, params)?;
    output::info(format!("Applying action {method}ProcessId on app [{target}](ids: {})", inspect_ids(&ids_of(&done))));
    describe_done(&done);
    Ok(done)
}

fn start_script(ctx: &mut Ctx, script: &str, m: &ArgMatches, extra: &Map<String, Value>) -> Outcome {
    if smart_start(ctx, script, m)? {
        return Ok(());
    }
    let mut app = start_flags::options(m);
    for (k, v) in extra {
        app.entry(k.clone()).or_insert_with(|| v.clone());
    }
    app.insert("script".into(), json!(script));
    if let Some(name) = stopped_instance_of(ctx, script, &app) {
        // As pm2 does: starting the script of a stopped (or errored) app starts that app again.
        let mut opts = Map::new();
        if app.get("watch") == Some(&json!(true)) {
            opts.insert("watch".into(), json!(!watching(ctx, &name)));
        }
        let params = json!({ "names": [name], "opts": opts, "context": config_file::context(&ctx.cwd, None) });
        ctx.call_showing(format!("Starting {script}"), "restart", params)?;
        output::info("Process successfully started");
        return Ok(());
    }
    let context = config_file::context(&ctx.cwd, None);
    let started = ctx.call_showing(format!("Starting {script}"), "start", json!({ "apps": [app], "mode": "script", "context": context })).map_err(Failure::from)?;
    let count = started.as_array().map_or(0, Vec::len);
    let mode = started.get(0).and_then(|p| p["pm2_env"]["exec_mode"].as_str()).unwrap_or("fork_mode").to_string();
    let shown = started.get(0).and_then(|p| p["pm2_env"]["pm_exec_path"].as_str()).unwrap_or(script).to_string();
    output::info(format!("Starting {shown} in {mode} ({count} instance{})", if count == 1 { "" } else { "s" }));
    output::info("Done.");
    Ok(())
}

/// The name of the app that runs `script` under the name `app` declares, if it is stopped,
/// stopping or errored.
fn stopped_instance_of(ctx: &mut Ctx, script: &str, app: &Map<String, Value>) -> Option<String> {
    let name = crate::config::declared_name(&Value::Object(app.clone()))?;
    let path = crate::config::lexically_normal(&ctx.cwd.join(script));
    let procs = ctx.call("describe", json!({ "target": script, "cwd": ctx.cwd })).ok()?;
    let stopped = procs.as_array()?.iter().any(|p| {
        let env = &p["pm2_env"];
        env["name"] == json!(name) && env["pm_exec_path"].as_str() == path.to_str() && matches!(env["status"].as_str(), Some("stopped" | "stopping" | "errored"))
    });
    stopped.then_some(name)
}

/// Whether any app `target` selects is watched.
fn watching(ctx: &mut Ctx, target: &str) -> bool {
    let procs = ctx.call("describe", json!({ "target": target, "cwd": ctx.cwd })).unwrap_or_default();
    procs.as_array().into_iter().flatten().any(|p| match &p["pm2_env"]["watch"] {
        Value::Bool(b) => *b,
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => false,
    })
}

fn selection(m: &ArgMatches) -> Selection<'_> {
    Selection {
        env: m.get_one::<String>(start_flags::ENV).map(String::as_str),
        only: m.get_one::<String>(start_flags::ONLY).map(String::as_str),
        namespace: m.get_one::<String>("namespace").map(String::as_str),
        force: m.get_flag(start_flags::FORCE),
        cwd: m.get_one::<String>("cwd").map(String::as_str),
    }
}

/// Starts (or restarts, for names already running) a config file's apps.
fn start_config(ctx: &mut Ctx, file: &str, m: &ArgMatches) -> Outcome {
    let params = config_file::start_params(&ctx.cwd, file, &selection(m))?;
    let started = ctx.call_showing(format!("Starting the apps of {file}"), "start", params).map_err(Failure::from)?;
    let mut names: Vec<(String, usize)> = Vec::new();
    for p in started.as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => names.push((name, 1)),
        }
    }
    for (name, count) in names {
        output::info(format!("App [{name}] launched ({count} instances)"));
    }
    Ok(())
}

/// `restart`, `reload` and the `startOr*` forms; a config file starts or restarts its apps.
pub fn restart(ctx: &mut Ctx, which: &str, m: &ArgMatches) -> Outcome {
    let targets: Vec<String> = match m.get_many::<String>("targets") {
        Some(t) => t.cloned().collect(),
        None => m.get_many::<String>("file").into_iter().flatten().cloned().collect(),
    };
    let method = if which == "restart" || which == "startOrRestart" { "restart" } else { "reload" };
    let update_env = m.get_flag(start_flags::UPDATE_ENV);
    if !update_env {
        output::say("Use --update-env to update environment variables");
    }
    for target in &targets {
        if which.starts_with("startOr") || is_config_file(target) {
            start_config(ctx, target, m)?;
            continue;
        }
        restart_target(ctx, method, target, m, start_flags::options(m)).map_err(|e| failure(e, target))?;
    }
    if method == "restart" {
        show_table(ctx)?;
    }
    Ok(())
}

pub fn stop_or_delete(ctx: &mut Ctx, which: &str, m: &ArgMatches) -> Outcome {
    let only = m.get_one::<String>(start_flags::ONLY).map(String::as_str);
    for target in m.get_many::<String>("targets").into_iter().flatten() {
        let params = selector_only(ctx, target, only)?;
        let done = ctx.call_showing(format!("{which} {target}"), which, params).map_err(|e| failure(e, target))?;
        output::info(format!("Applying action {which}ProcessId on app [{target}](ids: {})", inspect_ids(&ids_of(&done))));
        describe_done(&done);
    }
    show_table(ctx)
}

pub fn scale(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let name = m.get_one::<String>("name").expect("required");
    let number = m.get_one::<String>("number").expect("required");
    let count = number.parse::<i64>().ok().filter(|_| !number.starts_with(['+', '-'])).map_or_else(|| json!(number), |n| json!(n));
    ctx.call("scale", json!({ "target": name, "count": count })).map_err(|e| failure(e, name))?;
    output::info(format!("Scaled {name} to {number}"));
    show_table(ctx)
}

pub fn reset(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let target = m.get_one::<String>("target").expect("required");
    let params = selector(ctx, target)?;
    let done = ctx.call("reset", params).map_err(|e| failure(e, target))?;
    output::info(format!("Resetting meta for process id {}", inspect_ids(&ids_of(&done))));
    show_table(ctx)
}

pub fn send_signal(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let signal = m.get_one::<String>("signal").expect("required");
    let target = m.get_one::<String>("target").expect("required");
    // pm2 sends by id when the target is a number, else by name.
    let method = if target.parse::<u32>().is_ok() { "sendSignalToProcessId" } else { "sendSignalToProcessName" };
    let mut params = selector(ctx, target)?;
    params["signal"] = json!(signal);
    ctx.call(method, params).map_err(|e| failure(e, target))?;
    output::info(format!("successfully sent signal {signal} to process {target}"));
    Ok(())
}

pub fn send(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let id = m.get_one::<String>("id").expect("required");
    let line = m.get_one::<String>("line").expect("required");
    let mut params = selector(ctx, id)?;
    params["line"] = json!(line);
    params["separator"] = json!("\n");
    ctx.call("sendLineToStdin", params).map_err(|e| failure(e, id))?;
    output::info(format!("Line sent to process {id}"));
    Ok(())
}

pub fn trigger(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let target = m.get_one::<String>("target").expect("required").clone();
    let action = m.get_one::<String>("action").expect("required").clone();
    let params = m.get_one::<String>("params").cloned();
    let replies = super::logs::trigger(ctx, &target, &action, params)?;
    for r in replies {
        let p = &r["process"];
        output::info(format!("{}:{}>", p["name"].as_str().unwrap_or_default(), p["pm_id"]));
        output::print(serde_json::to_string_pretty(&r["data"]["return"]).unwrap_or_default());
    }
    Ok(())
}
