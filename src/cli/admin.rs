//! The daemon and what outlives it: logs files, the saved list, boot services, `kill`,
//! `update`.

use clap::ArgMatches;
use serde_json::{json, Value};

use super::output::{self, paint, GREEN};
use super::process::{failure, selector};
use super::{config_file, state, Ctx, Failure, Outcome};

pub fn flush(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let target = m.get_one::<String>("target").filter(|t| *t != "all");
    let params = match target {
        Some(t) => selector(ctx, t)?,
        None => json!({}),
    };
    let flushed = ctx.call("flush", params).map_err(|e| failure(e, target.map_or("all", |t| t.as_str())))?;
    output::info("Flushing:");
    if target.is_none() {
        output::info(ctx.home.log_file().display());
    }
    for p in flushed.as_array().into_iter().flatten() {
        for key in ["pm_out_log_path", "pm_err_log_path"] {
            if let Some(path) = p["pm2_env"][key].as_str() {
                output::info(path);
            }
        }
    }
    output::info("Logs flushed");
    Ok(())
}

pub fn reload_logs(ctx: &mut Ctx) -> Outcome {
    output::say("Reloading all logs...");
    ctx.call("reloadLogs", Value::Null)?;
    output::say("All logs reloaded");
    Ok(())
}

pub fn logrotate() -> Outcome {
    output::info("Log rotation is built in: `pm2 set pm2-logrotate:max_size 10M` (also retain, compress, dateFormat, rotateInterval) for every app, max_size / retain / compress on an app, or PM2_LOG_MAX_SIZE, PM2_LOG_RETAIN and PM2_LOG_COMPRESS.");
    Ok(())
}

pub fn save(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    output::info("Saving current process list...");
    let force = m.get_flag("force") || std::env::var("FORCE").as_deref() == Ok("true");
    match ctx.call("dump", json!({ "force": force })) {
        Ok(_) => {
            output::info(format!("Successfully saved in {}", ctx.home.dump_file().display()));
            Ok(())
        }
        Err(e) if e.starts_with("Process list empty") => {
            output::warn("PM2 is not managing any process, skipping save...");
            output::warn("To force saving use: pm2 save --force");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub fn resurrect(ctx: &mut Ctx) -> Outcome {
    output::info("Resurrecting");
    output::info(format!("Restoring processes located in {}", ctx.home.dump_file().display()));
    ctx.call_showing("Resurrecting".into(), "resurrect", json!({ "context": config_file::context(&ctx.cwd, None) }))?;
    state::print_table(ctx, false, None)
}

pub fn cleardump(ctx: &mut Ctx) -> Outcome {
    ctx.call("clearDump", Value::Null)?;
    output::info(format!("Successfully created {}", ctx.home.dump_file().display()));
    Ok(())
}

/// Stops every app and the daemon; with no daemon running there is nothing to do.
pub fn kill(ctx: &mut Ctx) -> Outcome {
    ctx.kill_daemon()?;
    output::info(format!("{} All Applications Stopped", paint(GREEN, "[v]")));
    output::info(format!("{} PM2 Daemon Stopped", paint(GREEN, "[v]")));
    Ok(())
}

/// A new daemon from this shell's environment, with every app brought back (as `update()`).
/// Over a running original pm2 daemon, its apps are taken over (see `takeover`).
pub fn update(ctx: &mut Ctx) -> Outcome {
    output::info("Updating the in-memory PM2 daemon...");
    if let Some(old_pid) = crate::takeover::original_daemon(&ctx.home) {
        output::info(format!("Taking over from the original pm2 daemon (pid {old_pid})..."));
        let done = ctx.block_on(crate::takeover::take_over(&ctx.home, old_pid))?;
        output::info(format!("{} {} app(s) saved in {}; original pm2 daemon stopped", paint(GREEN, "[v]"), done.saved, ctx.home.dump_file().display()));
    } else {
        ctx.call("dump", json!({ "force": true }))?;
        kill(ctx)?;
    }
    ctx.call("resurrect", json!({ "context": config_file::context(&ctx.cwd, None) }))?;
    output::info(format!("{} Updated", paint(GREEN, "[v]")));
    state::print_table(ctx, false, None)
}

/// `startup [platform]` installs the boot service (as root), else prints the command to run.
pub fn startup(ctx: &mut Ctx, which: &str, m: &ArgMatches) -> Outcome {
    let platform = m.get_one::<String>("platform").cloned();
    let user = m.get_one::<String>("user").cloned().or_else(|| std::env::var("USER").ok());
    let hp = m.get_one::<String>("hp").cloned().or_else(|| std::env::var("HOME").ok());
    let daemon = std::env::current_exe().map(|e| e.with_file_name("pm2-daemon")).map_err(|e| e.to_string())?;
    let node_dir = config_file::node_path().and_then(|n| n.parent().map(|d| d.to_string_lossy().into_owned()));
    let options = crate::startup::StartupOptions {
        platform: platform.clone(),
        user: user.clone(),
        hp: hp.clone(),
        pm2_home: Some(ctx.home.root.to_string_lossy().into_owned()),
        service_name: m.get_one::<String>("service-name").cloned(),
        root: None,
        daemon_path: daemon.to_string_lossy().into_owned(),
        path_env: Some(format!("{}:{}", node_dir.unwrap_or_default(), std::env::var("PATH").unwrap_or_default())),
    };
    let done = if which == "startup" { crate::startup::install(&options) } else { crate::startup::uninstall(&options) };
    match done {
        Ok(v) => {
            if which == "startup" {
                output::info(format!("Init system found: {}", v["platform"].as_str().unwrap_or_default()));
                output::info(format!("Writing init configuration in {}", v["destination"].as_str().unwrap_or_default()));
                output::info("[v] Command successfully executed.");
                output::info("Freeze a process list on reboot via: pm2 save");
            } else {
                output::info(format!("Init file removed: {}", v["destination"].as_str().unwrap_or_default()));
            }
            Ok(())
        }
        Err(e) if !nix::unistd::getuid().is_root() => {
            output::info(format!("To {} the Startup Script, copy/paste the following command:", if which == "startup" { "setup" } else { "remove" }));
            let exe = std::env::args().next().unwrap_or_else(|| "pm2".into());
            output::print(format!(
                "sudo env PATH=$PATH {exe} {which}{} -u {} --hp {}",
                platform.map(|p| format!(" {p}")).unwrap_or_default(),
                user.unwrap_or_default(),
                hp.unwrap_or_default()
            ));
            Err(Failure { message: e, warning: true })
        }
        Err(e) => Err(e.into()),
    }
}
