//! The pm2 daemon executable. Started detached by the first client:
//! `pm2-daemon --home DIR --detach`; the boot service adds `--resurrect`.
//! It reports `ready` (or the reason it cannot start) on stdout, then sends its own output
//! to `pm2.log` (the stderr it was given).

use std::io::Write;

use pm2_rs::daemon::{self, Settings};
use pm2_rs::home::Home;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut home = None;
    let mut detach = false;
    let mut resurrect = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--home" => home = args.next(),
            "--detach" => detach = true,
            "--resurrect" => resurrect = true,
            "--version" => {
                let _ = writeln!(std::io::stdout(), "{}", pm2_rs::protocol::PACKAGE_VERSION);
                return;
            }
            other => {
                let _ = writeln!(std::io::stderr(), "pm2-daemon: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if detach {
        // Fork once more so that the client's child exits at once and the daemon is nobody's
        // zombie; the pipe on stdout goes with us to report readiness.
        // SAFETY: single-threaded here (no runtime yet); the parent only exits.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
            Ok(nix::unistd::ForkResult::Child) => {}
            Err(e) => fail(format_args!("fork failed: {e}")),
        }
    }
    let home = Home::new(home.map(Into::into).unwrap_or_else(Home::default_root));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => fail(format_args!("cannot create the event loop: {e}")),
    };
    let settings = Settings { resurrect, ..Settings::from_env(false) };
    runtime.block_on(daemon::run(home, settings, |outcome| {
        let mut out = std::io::stdout();
        let _ = match &outcome {
            Ok(()) => writeln!(out, "ready"),
            Err(e) => writeln!(out, "error: {e}"),
        };
        let _ = out.flush();
        // From now on stdout goes where stderr goes (pm2.log): the client stops reading.
        // SAFETY: dup2 on our own standard descriptors.
        unsafe {
            libc::dup2(2, 1);
        }
        if outcome.is_err() {
            std::process::exit(1);
        }
    }));
    // Exit now rather than waiting for the runtime to wind down: every app is already stopped.
    std::process::exit(0);
}

/// Tells the client why the daemon cannot start (its stdout is the pipe it reads), and exits.
/// A client that is gone is not an error of ours: stdout may be closed.
fn fail(why: std::fmt::Arguments) -> ! {
    let _ = writeln!(std::io::stdout(), "error: {why}");
    std::process::exit(1);
}
