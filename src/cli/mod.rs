//! The `pm2` command: pm2's commands, flags, output and exit codes, as a native client of the
//! same daemon `require('pm2')` talks to, calling it with the same requests index.js sends.
//!
//! `commands` declares the command line; each group of commands lives in its own file:
//! `process` (start, stop, restart, ...), `state` (ls, describe, ...), `admin` (daemon,
//! persistence, boot), `logs`, `monit`, `misc` (scaffolding and what is not supported).

mod admin;
mod commands;
pub(crate) mod config_file;
mod dev;
mod inspect;
mod logs;
mod misc;
mod monit;
mod node_api;
mod output;
mod process;
pub(crate) mod start_flags;
mod state;
mod table;
mod web;

use serde_json::Value;
use std::path::PathBuf;

use crate::client::{self, Connection, Launch};
use crate::home::Home;

/// A command's failure: what to print (already in pm2's words) and the exit code.
pub struct Failure {
    pub message: String,
    /// Printed as `[PM2][WARN]` rather than `[PM2][ERROR]`, as pm2 does for some.
    pub warning: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, warning: false }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure { message: message.into(), warning: false }
    }
}

pub type Outcome = Result<(), Failure>;

/// What every command works with: where it runs, the daemon's home, and one connection.
pub struct Ctx {
    pub home: Home,
    pub cwd: PathBuf,
    /// How a daemon is started when none runs.
    pub launch: Launch,
    rt: tokio::runtime::Runtime,
    conn: Option<Connection>,
}

/// The daemon executable ships beside this one (`npm/<triple>/` or `pm2-<triple>`).
pub(crate) fn daemon_exe() -> PathBuf {
    std::env::current_exe().map(|e| e.with_file_name("pm2-daemon")).unwrap_or_else(|_| PathBuf::from("pm2-daemon"))
}

impl Ctx {
    fn new() -> Result<Ctx, String> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("Cannot start: {e}"))?;
        let cwd = std::env::current_dir().map_err(|e| format!("Cannot read the current directory: {e}"))?;
        Ok(Ctx { home: Home::new(Home::default_root()), cwd, launch: Launch::Detached(daemon_exe()), rt, conn: None })
    }

    /// The connection, starting the daemon if none runs (as pm2 does for most commands).
    pub fn connect(&mut self) -> Result<&Connection, String> {
        if self.conn.is_none() {
            let (conn, new) = self.rt.block_on(client::connect(&self.home, &self.launch))?;
            if new && matches!(self.launch, Launch::Detached(_)) {
                output::info(format!("Spawning PM2 daemon with pm2_home={}", self.home.root.display()));
                output::info("PM2 Successfully daemonized");
            }
            self.conn = Some(conn);
        }
        Ok(self.conn.as_ref().expect("just connected"))
    }

    /// Stops the daemon and its apps if one runs (never starts one), and waits until it is gone.
    pub fn kill_daemon(&mut self) -> Result<(), String> {
        if self.conn.is_none() {
            self.conn = match self.rt.block_on(client::connect_running(&self.home)) {
                Ok(conn) => Some(conn),
                // Nothing runs: nothing to stop (any other failure is the user's to see).
                Err(e) if e.starts_with("No PM2 daemon is running") => None,
                Err(e) => return Err(e),
            };
        }
        if let Some(conn) = self.conn.take() {
            self.rt.block_on(async {
                conn.call("kill", Value::Null).await?;
                conn.wait_daemon_exit(std::time::Duration::from_secs(10)).await;
                Ok::<_, String>(())
            })?;
        }
        Ok(())
    }

    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.connect()?;
        let conn = self.conn.as_ref().expect("connected");
        self.rt.block_on(conn.call(method, params))
    }

    /// `call` for an action that may take a while: a spinner on a terminal while the daemon
    /// works (indicatif draws nothing when stderr is not a terminal).
    pub fn call_showing(&mut self, what: String, method: &str, params: Value) -> Result<Value, String> {
        let spinner = indicatif::ProgressBar::new_spinner().with_message(what);
        spinner.enable_steady_tick(std::time::Duration::from_millis(80));
        let answer = self.call(method, params);
        spinner.finish_and_clear();
        answer
    }

    /// The answer as JSON text, for commands that print it as it comes (`jlist`).
    pub fn call_raw(&mut self, method: &str, params_json: &str) -> Result<String, String> {
        self.connect()?;
        let conn = self.conn.as_ref().expect("connected");
        self.rt.block_on(conn.call_raw(method, params_json))
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn list(&mut self) -> Result<Vec<Value>, String> {
        match self.call("list", Value::Null)? {
            Value::Array(a) => Ok(a),
            other => Err(format!("Unexpected answer to list: {other}")),
        }
    }
}

/// Runs the command line; answers the exit code.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let matches = match commands::build().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => return commands::usage_error(e),
    };
    if matches.get_flag("no-color") {
        output::disable_colours();
    }
    output::set_silent(matches.get_flag("silent"));
    let mut ctx = match Ctx::new() {
        Ok(c) => c,
        Err(e) => {
            output::error(e);
            return 1;
        }
    };
    let outcome = match matches.subcommand() {
        Some((name, sub)) => commands::run(&mut ctx, name, sub),
        None => {
            commands::hint();
            Err(Failure { message: String::new(), warning: false })
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(f) => {
            if !f.message.is_empty() {
                if f.warning {
                    anstream::eprintln!("{}{}", output::paint(output::YELLOW, "[PM2][WARN] "), f.message);
                } else {
                    output::error(f.message);
                }
            }
            1
        }
    }
}
