//! The command line pm2 accepts: its commands with their aliases, arguments and flags, and
//! which group runs each.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command};

use super::{admin, dev, logs, misc, monit, node_api, output, process, start_flags, state, web, Ctx, Outcome};
use crate::protocol::PACKAGE_VERSION;

fn target(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).required(true).help(help)
}

fn targets(help: &'static str) -> Arg {
    Arg::new("targets").required(true).num_args(1..).help(help)
}

fn optional(name: &'static str, help: &'static str) -> Arg {
    Arg::new(name).help(help)
}

fn switch(long: &'static str, help: &'static str) -> Arg {
    Arg::new(long).long(long).action(ArgAction::SetTrue).help(help)
}

fn value(long: &'static str, help: &'static str) -> Arg {
    Arg::new(long).long(long).action(ArgAction::Set).help(help)
}

/// `--only a,b`: of a config file, only these apps.
fn only() -> Arg {
    value(start_flags::ONLY, "of a config file, only these apps (comma separated)")
}

fn cmd(name: &'static str, about: &'static str) -> Command {
    Command::new(name).about(about)
}

pub fn build() -> Command {
    // Positionals first: the arguments after `--` come last.
    let start_like = |name: &'static str, about: &'static str, target: Arg| start_flags::add(cmd(name, about).arg(target));
    Command::new("pm2")
        .about("Production process manager for Node.js applications, with a built-in load balancer")
        .override_usage("pm2 [options] <command>")
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .arg(Arg::new("version").short('v').long("version").action(ArgAction::Version).help("print pm2's version"))
        .arg(switch("no-color", "no colours in the output").global(true))
        .arg(Arg::new("silent").short('s').long("silent").action(ArgAction::SetTrue).global(true).help("only print what was asked for"))
        .version(PACKAGE_VERSION)
        .subcommands([
            start_like("start", "start an app, a config file's apps, or restart a known app", Arg::new("script").num_args(0..).help("script, config file, or name / id / namespace / all")),
            start_like("restart", "restart apps (a config file: start or restart its apps)", targets("id, name, namespace, all or config file")),
            start_like("reload", "reload apps one instance at a time (zero downtime in cluster mode)", targets("id, name, namespace, all or config file")),
            start_like("startOrRestart", "start a config file's apps, restarting those already running", target("file", "config file")),
            start_like("startOrReload", "start a config file's apps, reloading those already running", target("file", "config file")),
            start_like("startOrGracefulReload", "same as startOrReload", target("file", "config file")),
            start_like("dev", "run apps in the foreground, restarting on file changes (what pm2-dev runs)", Arg::new("script").num_args(1..).help("[start] script or config file"))
                .arg(switch("test-mode", "start the apps and return, leaving them running")).hide(true),
            cmd("stop", "stop apps").arg(targets("id, name, namespace, all, config file or - (stdin)")).arg(switch("watch", "stop watching too")).arg(only()),
            cmd("delete", "stop apps and remove them from the list").visible_alias("del").arg(targets("id, name, namespace, all, config file or - (stdin)")).arg(only()),
            cmd("scale", "scale an app to <number> instances, or +n / -n").arg(target("name", "app name")).arg(target("number", "instances").allow_hyphen_values(true)),
            cmd("reset", "reset an app's restart counters").arg(target("target", "id, name, namespace or all")),
            cmd("sendSignal", "send a signal to apps").arg(target("signal", "SIGUSR2, SIGHUP, ...")).arg(target("target", "id or name")),
            cmd("send", "write a line to an app's stdin").arg(target("id", "pm_id")).arg(target("line", "the line")),
            cmd("trigger", "run an action an app exposes (@pm2/io)").arg(target("target", "id, name, namespace or all")).arg(target("action", "action name")).arg(optional("params", "parameter")),
            cmd("attach", "attach to an app's output and stdin").arg(target("id", "pm_id")).arg(optional("separator", "line separator")),
            cmd("pid", "the pids of an app (or of every app)").arg(optional("name", "app name")),
            cmd("id", "the ids of an app").arg(target("name", "app name")),
            cmd("list", "the process table").visible_aliases(["ls", "l", "ps", "status"])
                .arg(Arg::new("mini-list").short('m').long("mini-list").action(ArgAction::SetTrue).help("a compact list"))
                .arg(value("sort", "sort by name, id, pid, memory, cpu, status, restarts or uptime, with :asc or :desc")),
            cmd("jlist", "the process list as JSON"),
            cmd("prettylist", "the process list as Node inspects it"),
            cmd("describe", "everything about an app").visible_aliases(["desc", "info", "show"]).arg(target("target", "id, name or namespace")),
            cmd("env", "the environment of an app").arg(target("id", "pm_id")),
            cmd("monit", "a live view of every app's CPU, memory and logs"),
            web::command(),
            cmd("ping", "make sure the daemon is alive"),
            cmd("report", "a report about the daemon and its apps, for bug reports"),
            cmd("logs", "stream apps' logs").arg(optional("target", "id, name, namespace or all"))
                .arg(value("lines", "how many lines to print first (default 15)"))
                .arg(switch("nostream", "print the last lines and exit"))
                .arg(switch("raw", "the lines only, without prefixes"))
                .arg(switch("json", "each line as JSON"))
                .arg(switch("format", "each line as `timestamp=... app=... id=... type=... message=...`"))
                .arg(Arg::new("timestamp").long("timestamp").num_args(0..=1).default_missing_value("YYYY-MM-DD-HH:mm:ss").help("prefix lines with the time"))
                .arg(switch("err", "stderr only"))
                .arg(switch("out", "stdout only"))
                .arg(value("highlight", "highlight this text")),
            cmd("flush", "empty the log files").arg(optional("target", "app name or id")),
            cmd("reloadLogs", "reopen every log file (after an external rotation)"),
            cmd("logrotate", "log rotation is built in: how to configure it"),
            cmd("save", "save the process list to be resurrected").visible_alias("dump").arg(Arg::new("force").long("force").action(ArgAction::SetTrue).help("save even an empty list")),
            cmd("resurrect", "start the saved process list"),
            cmd("cleardump", "empty the saved process list"),
            cmd("kill", "stop every app and the daemon"),
            cmd("update", "restart the daemon, keeping the apps").visible_alias("updatePM2"),
            cmd("startup", "install a boot service that resurrects the saved list").arg(optional("platform", "systemd, upstart, launchd, openrc, rcd, systemv"))
                .arg(value("user", "the user the service runs as").short('u')).arg(value("hp", "the home directory")).arg(value("service-name", "the service's name")),
            cmd("unstartup", "remove the boot service").arg(optional("platform", "systemd, upstart, launchd, openrc, rcd, systemv"))
                .arg(value("user", "the user").short('u')).arg(value("hp", "the home directory")).arg(value("service-name", "the service's name")),
            cmd("ecosystem", "write a sample ecosystem.config.js").visible_alias("init").arg(optional("mode", "simple (one app)")),
            cmd("examples", "usage examples"),
            cmd("set", "set a module configuration value").arg(target("key", "module:key")).arg(target("value", "value")),
            cmd("unset", "remove a module configuration value").arg(target("key", "module:key")),
            cmd("multiset", "set several values: \"key1 value1 key2 value2\"").arg(target("value", "keys and values")),
            cmd("get", "print the module configuration, or one value").arg(optional("key", "module:key")),
            cmd("install", "pm2-logrotate: its job is built in (other modules are not supported)").visible_alias("module:install").arg(target("module", "module name")),
            cmd("uninstall", "remove pm2-logrotate's settings (all: every module)").visible_alias("module:uninstall").arg(target("module", "module name or all")),
            cmd("conf", "get or set a module configuration value").visible_alias("config").arg(optional("key", "module:key")).arg(optional("value", "value")),
            cmd("serve", "serve a directory over HTTP as an app").visible_alias("expose").arg(optional("path", "directory (default .)")).arg(optional("port", "port (default 8080)"))
                .arg(Arg::new("port-flag").long("port").action(ArgAction::Set).help("port")).arg(switch("spa", "answer index.html for every unknown path"))
                .arg(value("basic-auth-username", "user for basic auth")).arg(value("basic-auth-password", "password for basic auth")).arg(value("name", "the app's name")),
            cmd("deploy", "deploy with pm2-deploy: <config> <env> [setup|update|revert|...]").arg(Arg::new("args").num_args(0..).allow_hyphen_values(true).trailing_var_arg(true)),
        ])
        .subcommands(misc::UNSUPPORTED.iter().map(|(name, _)| Command::new(*name).hide(true).arg(Arg::new("rest").num_args(0..).allow_hyphen_values(true))))
}

pub fn run(ctx: &mut Ctx, name: &str, m: &ArgMatches) -> Outcome {
    match name {
        "start" => process::start(ctx, m),
        "dev" => dev::run(ctx, m),
        "restart" | "reload" | "startOrRestart" | "startOrReload" | "startOrGracefulReload" => process::restart(ctx, name, m),
        "stop" | "delete" => process::stop_or_delete(ctx, name, m),
        "scale" => process::scale(ctx, m),
        "reset" => process::reset(ctx, m),
        "sendSignal" => process::send_signal(ctx, m),
        "send" => process::send(ctx, m),
        "trigger" => process::trigger(ctx, m),
        "attach" => logs::attach(ctx, m),
        "pid" => state::pid(ctx, m),
        "id" => state::id(ctx, m),
        "list" => state::ls(ctx, m),
        "jlist" => state::jlist(ctx),
        "prettylist" => state::prettylist(ctx),
        "describe" => state::describe(ctx, m),
        "env" => state::env(ctx, m),
        "ping" => state::ping(ctx),
        "report" => state::report(ctx),
        "monit" => monit::run(ctx),
        "web" => web::run(ctx, m),
        "logs" => logs::run(ctx, m),
        "flush" => admin::flush(ctx, m),
        "reloadLogs" => admin::reload_logs(ctx),
        "logrotate" => admin::logrotate(),
        "save" => admin::save(ctx, m),
        "resurrect" => admin::resurrect(ctx),
        "cleardump" => admin::cleardump(ctx),
        "kill" => admin::kill(ctx),
        "update" => admin::update(ctx),
        "startup" | "unstartup" => admin::startup(ctx, name, m),
        "ecosystem" => misc::ecosystem(ctx, m),
        "examples" => misc::examples(),
        "set" | "unset" | "multiset" | "get" | "conf" | "install" | "uninstall" | "serve" | "deploy" => node_api::run(ctx, name, m),
        other => misc::unsupported(other),
    }
}

/// pm2's hint when the command line is not understood.
pub fn hint() {
    let text = "\nusage: pm2 [options] <command>\n\npm2 -h, --help             all available commands and options\npm2 examples               display pm2 usage examples\npm2 <command> -h           help on a specific command\n\nAccess pm2 files in ~/.pm2";
    output::print(text);
}

/// Help and version exit 0; anything else clap refuses gets pm2's words and exit 1.
pub fn usage_error(e: clap::Error) -> i32 {
    match e.kind() {
        // `pm2 -v` prints the bare version, which scripts compare.
        ErrorKind::DisplayVersion => {
            output::print(PACKAGE_VERSION);
            0
        }
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            0
        }
        ErrorKind::InvalidSubcommand => {
            output::error(output::paint(output::BOLD, "Command not found"));
            hint();
            1
        }
        ErrorKind::UnknownArgument => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s.split('=').next().unwrap_or(s).to_string(),
                _ => String::new(),
            };
            anstream::eprintln!("\n  error: unknown option `{arg}'\n");
            1
        }
        _ => {
            let _ = e.print();
            1
        }
    }
}
