//! What is running: `ls`, `jlist`, `prettylist`, `describe`, `pid`, `id`, `env`, `ping`,
//! `report`.

use clap::ArgMatches;
use serde_json::{json, Value};

use super::inspect;
use super::output::{self, inspect_ids};
use super::process::{failure, selector};
use super::{table, Ctx, Failure, Outcome};

/// Prints the process table (`-m`: the mini list; `sort`: `field[:asc|desc]`).
pub fn print_table(ctx: &mut Ctx, mini: bool, sort: Option<&str>) -> Outcome {
    let mut procs = ctx.list()?;
    if let Some(spec) = sort {
        table::sort(&mut procs, spec)?;
    }
    output::print(if mini { table::mini(&procs) } else { table::list(&procs) });
    Ok(())
}

pub fn ls(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    print_table(ctx, m.get_flag("mini-list"), m.get_one::<String>("sort").map(String::as_str))
}

/// The daemon's answer as it comes: no parsing, no re-encoding.
pub fn jlist(ctx: &mut Ctx) -> Outcome {
    let text = ctx.call_raw("list", "null")?;
    output::print(text);
    Ok(())
}

/// The list as Node's `util.inspect` shows it, with no newline after it, as pm2 writes it.
pub fn prettylist(ctx: &mut Ctx) -> Outcome {
    let text = ctx.call_raw("list", "null")?;
    let shown = inspect::inspect_json(&text).map_err(|e| format!("Unexpected answer to list: {e}"))?;
    output::write(shown);
    Ok(())
}

fn described(ctx: &mut Ctx, target: &str) -> Result<Vec<Value>, Failure> {
    let params = selector(ctx, target)?;
    match ctx.call("describe", params).map_err(|e| failure(e, target))? {
        Value::Array(a) if !a.is_empty() => Ok(a),
        _ => Err(Failure { message: format!("{target} doesn't exist"), warning: true }),
    }
}

pub fn describe(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let target = m.get_one::<String>("target").expect("required");
    for p in described(ctx, target)? {
        output::print(table::describe(&p));
    }
    Ok(())
}

pub fn pid(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let params = match m.get_one::<String>("name") {
        Some(name) => selector(ctx, name)?,
        None => json!({}),
    };
    let target = m.get_one::<String>("name").map(String::as_str).unwrap_or("all");
    // An unknown name has no pid: pm2 prints nothing.
    let pids = match ctx.call("getPID", params) {
        Ok(p) => p,
        Err(e) if e == "process or namespace not found" => Value::Array(vec![]),
        Err(e) => return Err(failure(e, target)),
    };
    let pids: Vec<String> = match pids {
        Value::Array(a) => a.iter().map(|p| p.to_string()).collect(),
        other => vec![other.to_string()],
    };
    output::print(pids.join("\n"));
    Ok(())
}

pub fn id(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let name = m.get_one::<String>("name").expect("required");
    let ids = ctx.call("getProcessIdByName", json!({ "target": name }))?;
    let ids: Vec<u64> = ids.as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
    output::print(inspect_ids(&ids));
    Ok(())
}

pub fn env(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let id = m.get_one::<String>("id").expect("required");
    let procs = described(ctx, id)?;
    // pm2 prints pm2_env (the environment flattened onto it) without its own bookkeeping keys
    // and objects, each value as JavaScript's String() shows it.
    let shown = procs[0]["pm2_env"].as_object().into_iter().flatten().filter(|(k, v)| !v.is_object() && !ENV_HIDDEN.contains(&k.as_str()));
    for (k, v) in shown {
        output::print(format!("{k}: {}", output::paint(output::GREEN, js_string(v))));
    }
    Ok(())
}

/// The keys of pm2_env that `pm2 env` leaves out: pm2's own, not the app's environment.
const ENV_HIDDEN: &[&str] = &[
    "name", "exec_mode", "env", "args", "pm_cwd", "exec_interpreter", "pm_exec_path", "node_args", "pm_out_log_path",
    "pm_err_log_path", "pm_pid_path", "pm_id", "status", "pm_uptime", "created_at", "windowsHide", "username", "merge_logs",
    "kill_retry_time", "prev_restart_delay", "instance_var", "unstable_restarts", "restart_time", "axm_actions", "pmx_module",
    "command", "watch", "filter_env", "versioning", "MODULE_DEBUG", "pmx", "axm_options", "vizion", "axm_dynamic", "axm_monitor",
    "instances", "automation", "autostart", "autorestart", "stop_exit_codes", "unstable_restart", "treekill", "exit_code",
];

/// JavaScript's `String(value)`: objects are `[object Object]`, arrays their items joined.
fn js_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map(inspect::js_number).unwrap_or_else(|| n.to_string()),
        Value::Array(items) => items.iter().map(|i| if i.is_null() { String::new() } else { js_string(i) }).collect::<Vec<_>>().join(","),
        Value::Object(_) => "[object Object]".into(),
        other => other.to_string(),
    }
}

pub fn ping(ctx: &mut Ctx) -> Outcome {
    let pong = ctx.call("ping", Value::Null)?;
    let msg = pong["msg"].as_str().unwrap_or("pong");
    output::print(format!("{{ msg: '{msg}' }}"));
    Ok(())
}

/// What a bug report needs: versions, paths, the daemon and its apps.
pub fn report(ctx: &mut Ctx) -> Outcome {
    let version = ctx.call("getVersion", Value::Null)?;
    let pid = ctx.connect()?.daemon_pid;
    let procs = ctx.list()?;
    let node = std::process::Command::new(super::config_file::node_path().unwrap_or_else(|| "node".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "not found".into());
    output::print(format!(
        "===============================================================================\n\
         --- PM2 report ----------------------------------------------------------------\n\
         Date                 : {}\n\
         ===============================================================================\n\
         --- Daemon -------------------------------------------------\n\
         pm2d version         : {}\n\
         pid                  : {pid}\n\
         pm2 home             : {}\n\
         --- CLI ----------------------------------------------------\n\
         local pm2            : {}\n\
         node version         : {node}\n\
         arch                 : {}\n\
         platform             : {}\n\
         --- Process list -------------------------------------------",
        chrono::Utc::now().to_rfc2822(),
        version.as_str().unwrap_or_default(),
        ctx.home.root.display(),
        crate::protocol::PACKAGE_VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS,
    ));
    output::print(table::list(&procs));
    Ok(())
}
