//! Signals, as a container's PID 1 must take them. The first SIGTERM or SIGINT is the daemon's
//! own graceful stop (every app asked to stop, `kill_timeout` honoured, then SIGKILL); a second
//! one means "now": every app's process group is killed at once. Reaping every zombie,
//! orphans included, is the daemon's too: it is a child subreaper, and as PID 1 orphans come
//! to it anyway.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};

use super::output::Printer;

/// Set at the first signal: the apps are being stopped on purpose.
pub static STOPPING: AtomicBool = AtomicBool::new(false);

pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Watches SIGTERM and SIGINT until the process ends. Call it once the daemon is ready (its
/// own handlers are then in place).
pub async fn watch(printer: &Printer) {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        printer.note("cannot watch SIGTERM/SIGINT");
        return std::future::pending().await;
    };
    let name = |term: bool| if term { "SIGTERM" } else { "SIGINT" };
    let first = tokio::select! { _ = term.recv() => true, _ = int.recv() => false };
    STOPPING.store(true, Ordering::SeqCst);
    printer.note(&format!("{} received: stopping every app", name(first)));
    let second = tokio::select! { _ = term.recv() => true, _ = int.recv() => false };
    printer.note(&format!("{} received again: killing every app", name(second)));
    kill_everything();
    std::future::pending().await
}

/// SIGKILL to each child's process group (apps lead their own) and to the child itself.
fn kill_everything() {
    for pid in crate::platform::own_children() {
        let _ = kill(Pid::from_raw(-(pid as i32)), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
}
