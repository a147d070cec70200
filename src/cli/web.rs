//! `pm2 web [port|host:port]`: asks the daemon to serve its web interface (the dashboard,
//! pm2's JSON list, health and metrics) and prints where, with the token its actions need.

use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::json;

use super::{output, Ctx, Outcome};

pub fn command() -> Command {
    Command::new("web")
        .about("serve the web dashboard, pm2's JSON list, health and metrics (default 127.0.0.1:9615)")
        .arg(Arg::new("address").help("port or host:port; any host but loopback needs the token for everything"))
        .arg(Arg::new("read-only").long("read-only").action(ArgAction::SetTrue).help("no actions from the page"))
        .arg(Arg::new("stop").long("stop").action(ArgAction::SetTrue).help("stop serving"))
}

pub fn run(ctx: &mut Ctx, m: &ArgMatches) -> Outcome {
    if m.get_flag("stop") {
        let answer = ctx.call("web", json!({"stop": true}))?;
        output::info(if answer["stopped"] == true { "Web interface stopped" } else { "The web interface was not running" });
        return Ok(());
    }
    let answer = ctx.call("web", json!({"address": m.get_one::<String>("address"), "read_only": m.get_flag("read-only")}))?;
    let token = answer["token"].as_str().unwrap_or_default();
    output::info(format!("Web dashboard: {}#token={token}", answer["url"].as_str().unwrap_or_default()));
    output::info(format!("Token (actions, environments, any non-loopback access): {token}"));
    output::info(format!("Kept in {} (mode 0600)", answer["token_file"].as_str().unwrap_or_default()));
    if answer["read_only"] == true {
        output::info("Read-only: the page shows, actions are off");
    }
    Ok(())
}
