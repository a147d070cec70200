//! `pm2-dev`: apps in the foreground for development. A private daemon runs inside this
//! process (its own temporary PM2_HOME), apps restart when their files change, their output
//! streams here, and Ctrl-C stops everything.

use clap::ArgMatches;
use serde_json::{json, Map, Value};

use super::output::{self, paint, GREEN, RED};
use super::{logs, process, Ctx, Outcome};
use crate::client::Launch;
use crate::home::Home;

pub fn run(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    let mut given: Vec<String> = m.get_many::<String>("script").map(|v| v.cloned().collect()).unwrap_or_default();
    if given.first().map(String::as_str) == Some("start") {
        given.remove(0);
    }
    let home = std::env::temp_dir().join(format!("pm2-dev-{}", std::process::id()));
    ctx.home = Home::new(&home);
    ctx.launch = Launch::InProcess;
    let result = watch_and_stream(ctx, &given, m);
    let _ = ctx.kill_daemon();
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn watch_and_stream(ctx: &mut Ctx, given: &[String], m: &ArgMatches) -> Outcome {
    let mut extra = Map::new();
    extra.insert("watch".into(), json!(true));
    extra.insert("autorestart".into(), json!(true));
    let (_bus, mut events) = logs::open_bus(ctx)?;
    process::launch(ctx, given, m, &extra)?;
    output::say("===============================================================================");
    output::say("--- PM2 development mode ------------------------------------------------------");
    output::say("Apps started         : the app restarts when a file changes; Ctrl-C stops it");
    output::say("===============================================================================");
    ctx.block_on(async {
        let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            let e: Value = tokio::select! {
                e = events.recv() => match e { Some(e) => e, None => return },
                _ = &mut interrupted => return,
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
    });
    Ok(())
}
