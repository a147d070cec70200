//! `pm2-dev`: apps in the foreground for development. They run under a daemon of their own
//! home, `~/.pm2-dev` (as pm2's pm2-dev: `PM2_HOME=~/.pm2-dev pm2 ls` shows them), restart when
//! their files change, and their output streams here. Ctrl-C deletes them, stops that daemon
//! and removes its home; `--test-mode` starts them and returns, leaving them running.

use clap::ArgMatches;
use serde_json::{json, Map, Value};

use super::output::{self, paint, GREEN, RED};
use super::{logs, process, Ctx, Outcome};
use crate::home::Home;

pub fn run(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let mut given: Vec<String> = m.get_many::<String>("script").map(|v| v.cloned().collect()).unwrap_or_default();
    if given.first().map(String::as_str) == Some("start") {
        given.remove(0);
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("HOMEPATH")).map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir).join(".pm2-dev");
    ctx.home = Home::new(&home);
    let mut extra = Map::new();
    extra.insert("watch".into(), json!(true));
    extra.insert("autorestart".into(), json!(true));
    if m.get_flag("test-mode") {
        return process::launch(ctx, &given, m, &extra);
    }
    let (_bus, mut events) = logs::open_bus(ctx)?;
    process::launch(ctx, &given, m, &extra)?;
    if stream_until_interrupted(ctx, &mut events) == Ended::Interrupted {
        let _ = ctx.kill_daemon();
        let _ = std::fs::remove_dir_all(&home);
    }
    Ok(())
}

#[derive(PartialEq)]
enum Ended {
    /// Ctrl-C: the session is over.
    Interrupted,
    /// The daemon went away (`pm2 kill`): nothing left to stop.
    DaemonGone,
}

fn stream_until_interrupted(ctx: &Ctx, events: &mut tokio::sync::mpsc::UnboundedReceiver<Value>) -> Ended {
    output::say("===============================================================================");
    output::say("--- PM2 development mode ------------------------------------------------------");
    output::say("Apps started         : the app restarts when a file changes; Ctrl-C stops it");
    output::say("===============================================================================");
    ctx.block_on(async {
        let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            let e: Value = tokio::select! {
                e = events.recv() => match e { Some(e) => e, None => return Ended::DaemonGone },
                _ = &mut interrupted => return Ended::Interrupted,
            };
            let event = e["event"].as_str().unwrap_or_default();
            let p = &e["data"]["process"];
            let label = format!("{}-{}", p["name"].as_str().unwrap_or_default(), p["pm_id"]);
            if event == "process:event" && e["data"]["event"] == "online" {
                output::print(paint(GREEN, format!("[rundev] App {} restarted", p["name"].as_str().unwrap_or_default())));
            } else if let Some(kind) = event.strip_prefix("log:") {
                let colour = if kind == "err" { RED } else { GREEN };
                for l in e["data"]["data"].as_str().unwrap_or_default().split('\n').filter(|l| !l.is_empty()) {
                    output::print(format!("{}{l}", paint(colour, format!("{label} | "))));
                }
            }
        }
    })
}
