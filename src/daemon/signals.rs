//! What the daemon does on signals: SIGCHLD reaps adopted orphans; SIGTERM, SIGINT and
//! SIGQUIT wind it down (the same path as the `kill` request, after saving the list).

use std::sync::Arc;

use super::{dump, tree, Daemon};

/// Reaps orphans the daemon adopted as subreaper, at every SIGCHLD.
pub async fn reap_orphans(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut sigchld) = signal(SignalKind::child()) else { return };
    while sigchld.recv().await.is_some() {
        let Ok(known) = daemon.ask(|s| s.pids()).await else { return };
        tree::reap_orphans(&known);
    }
}

/// SIGTERM, SIGINT and SIGQUIT save the process list and wind the daemon down; SIGUSR2
/// reopens log files; SIGHUP is ignored, as in pm2.
pub async fn handle_signals(daemon: Arc<Daemon>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut quit), Ok(mut usr2), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
        signal(SignalKind::user_defined2()),
        signal(SignalKind::hangup()),
    ) else {
        daemon_log!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = quit.recv() => break,
            _ = usr2.recv() => daemon.reload_logs(),
            _ = hup.recv() => {}
        }
    }
    daemon_log!("signal received: saving the process list and stopping every app");
    dump::save_if_any(&daemon).await;
    daemon.wind_down().await;
    daemon.begin_shutdown();
}
