//! `pm2-runtime`: the apps in the foreground, as a container's entry point.
//!
//! The daemon runs inside this process (no detached daemon is left behind, and `pm2 ls` still
//! answers on `rpc.sock`); this side is one of its clients: it starts the apps, writes their
//! output from the bus (`output`), takes signals as PID 1 must (`signals`) and exits when every
//! app has stopped (`exit`). Whatever can be refused is checked before anything starts (`args`,
//! `apps`, the `--web` port).

pub mod apps;
pub mod args;
pub mod exit;
pub mod output;
pub mod signals;

use std::sync::Arc;

use serde_json::Value;

use crate::daemon::{self, http, Settings};
use crate::home::Home;
use args::{Options, Parsed};
use output::Printer;

pub fn main() -> ! {
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Help) => {
            println!("{}", args::usage());
            std::process::exit(0)
        }
        Ok(Parsed::Version) => {
            println!("{}", crate::protocol::PACKAGE_VERSION);
            std::process::exit(0)
        }
        Err(e) => refuse(&e),
    };
    let home = Home::new(Home::default_root());
    let request = apps::start_request(&options, &home).unwrap_or_else(|e| refuse(&e));
    if debug_mode() {
        std::process::exit(start_detached(&home, request));
    }
    let web = options.web.as_deref().map(http::bind).transpose().unwrap_or_else(|e| refuse(&format!("--web: {e}")));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| refuse(&format!("cannot start: {e}")));
    let code = runtime.block_on(run(options, home, request, web));
    std::process::exit(code)
}

/// `PM2_RUNTIME_DEBUG` (any value, as pm2 reads it): the apps go to a background daemon of
/// PM2_HOME, as `pm2 start` puts them, and the command returns once they are started (what
/// pm2's own tests of pm2-runtime rely on).
fn debug_mode() -> bool {
    std::env::var_os("PM2_RUNTIME_DEBUG").is_some_and(|v| !v.is_empty())
}

fn start_detached(home: &Home, request: Value) -> i32 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| refuse(&format!("cannot start: {e}")));
    runtime.block_on(async {
        let launch = crate::client::Launch::Detached(crate::cli::daemon_exe());
        let started = match crate::client::connect(home, &launch).await {
            Ok((conn, _)) => conn.call("start", request).await,
            Err(e) => Err(e),
        };
        match started {
            Ok(list) => {
                println!("pm2-runtime: {} app(s) started by the daemon of {}", list.as_array().map_or(0, Vec::len), home.root.display());
                0
            }
            Err(e) => complain(&e),
        }
    })
}

fn refuse(msg: &str) -> ! {
    eprintln!("pm2-runtime: {msg}");
    std::process::exit(1)
}

async fn run(options: Options, home: Home, request: Value, web: Option<std::net::TcpListener>) -> i32 {
    let printer = Arc::new(Printer { format: options.format });
    let output = output::Stream::new(printer.clone());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    // A standalone daemon: child subreaper, orphan reaper, graceful stop on SIGTERM/SIGINT.
    let settings = Settings { resurrect: false, ..Settings::from_env(false) };
    let daemon = daemon::run(home.clone(), settings, move |r| {
        let _ = ready_tx.send(r);
    });
    tokio::pin!(daemon);
    // The daemon says whether it could start (it cannot where another one runs on the same
    // PM2_HOME); until it is ready nothing is ours to stop.
    let mut ready_rx = ready_rx;
    let ready = tokio::select! {
        r = &mut ready_rx => r.ok(),
        _ = &mut daemon => ready_rx.try_recv().ok(),
    };
    match ready {
        Some(Ok(())) => {}
        Some(Err(e)) => return complain(&format!("cannot start the pm2 daemon: {e}")),
        None => return complain("the pm2 daemon stopped before it was ready"),
    }
    let session = session(&options, &home, request, web, &output);
    tokio::pin!(session);
    tokio::select! {
        // Stopped by a signal (or `pm2 kill`): every app is stopped already.
        _ = &mut daemon => {
            output.drain().await;
            printer.note("PM2 successfully stopped");
            0
        }
        code = &mut session => {
            // The session ended: stop the apps and the daemon (polled meanwhile: it answers),
            // then leave.
            let kill = async {
                match crate::client::connect_running(&home).await {
                    Ok(conn) if conn.call("kill", Value::Null).await.is_ok() => std::future::pending().await,
                    _ => (),
                }
            };
            tokio::select! {
                _ = &mut daemon => {}
                _ = kill => {}
            }
            output.drain().await;
            code
        }
    }
}

/// Starts the apps (the daemon is ready), writes their output, and resolves with the exit
/// code when they have all stopped (never, with `--no-auto-exit`).
async fn session(
    options: &Options,
    home: &Home,
    request: Value,
    web: Option<std::net::TcpListener>,
    output: &output::Stream,
) -> i32 {
    tokio::spawn({
        let printer = output.printer.clone();
        async move { signals::watch(&printer).await }
    });
    output.printer.note("Launching in no daemon mode");
    let bus = match crate::client::subscribe(home, output.sink()).await {
        Ok(c) => c,
        Err(e) => return complain(&e),
    };
    let conn = match crate::client::connect_running(home).await {
        Ok(c) => c,
        Err(e) => return complain(&e),
    };
    // The daemon serves the address checked at start (the dashboard too), with `/` and
    // `/metrics` open to probes and scrapers as before.
    if let Some(listener) = web {
        let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        drop(listener);
        match conn.call("web", serde_json::json!({"address": address, "public_list": true})).await {
            Ok(web) => output.printer.note(&format!("dashboard at {} (its token is in {})", web["url"].as_str().unwrap_or_default(), web["token_file"].as_str().unwrap_or_default())),
            Err(e) => return complain(&format!("--web: {e}")),
        }
    }
    if let Err(e) = conn.call("start", request).await {
        return complain(&e);
    }
    let code = if options.no_auto_exit { std::future::pending().await } else { exit::when_all_stopped(&conn, &output.changed).await };
    output.printer.note(&format!("every app has stopped: exiting with code {code}"));
    drop(bus);
    code
}

fn complain(msg: &str) -> i32 {
    eprintln!("pm2-runtime: {msg}");
    1
}
