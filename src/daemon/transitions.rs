//! What happens to an app in status X when event Y arrives: one pure function, so that every
//! status change of the daemon is decided here and tested here. The supervisor feeds it
//! events and carries out the effect it returns.

use super::process_table::Status;
use super::restart::Decision;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// A process was spawned; `wait_ready` apps are online only at their `ready` message.
    Spawned { wait_ready: bool },
    /// The program could not be spawned.
    SpawnFailed,
    /// The app sent `ready`.
    Ready,
    /// `listen_timeout` ran out before `ready`.
    ListenTimeout,
    /// A stop (or delete) was asked for; `running`: there is a process to end.
    Stop { running: bool },
    /// The process ended.
    Exited,
    /// What the restart policy decided about an exit nobody asked for.
    Policy(Decision),
    /// The delay before a restart after a crash is over.
    RestartDue,
    /// A restart (after a stop) is about to spawn again.
    Relaunch,
    /// The process outlived SIGKILL.
    KillFailed,
    /// A failed reload put the previous process back.
    Reinstated,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect {
    Nothing,
    /// Tell listeners the app is online.
    AnnounceOnline,
    /// Ask the restart policy about this exit (then feed back `Policy`).
    ConsultPolicy,
    /// Send the stop signal (or message); wait for the exit.
    SignalStop,
    /// No process to end: forget any pending restart.
    CancelPending,
    /// Spawn again after this many milliseconds.
    ScheduleRestart(u64),
    /// Spawn now.
    Launch,
    /// Too many unstable restarts: report it.
    ReportOverlimit,
}

/// The next status and what to do, or `None` when the event means nothing in `status`
/// (a late `ready`, an exit already accounted for, a restart timer of a stopped app).
pub fn next(status: Status, event: Event) -> Option<(Status, Effect)> {
    use Status::*;
    Some(match (status, event) {
        (_, Spawned { wait_ready: true }) => (Launching, Effect::Nothing),
        (_, Spawned { wait_ready: false }) => (Online, Effect::AnnounceOnline),
        (_, SpawnFailed) => (Errored, Effect::Nothing),
        (Launching, Ready | ListenTimeout) => (Online, Effect::AnnounceOnline),
        (_, Ready | ListenTimeout) => return None,
        (_, Stop { running: true }) => (Stopping, Effect::SignalStop),
        (_, Stop { running: false }) => (Stopped, Effect::CancelPending),
        (Stopping, Exited) => (Stopped, Effect::Nothing),
        (Online | Launching, Exited) => (status, Effect::ConsultPolicy),
        (Stopped | Errored | WaitingRestart, Exited) => return None,
        (Online | Launching, Policy(Decision::Stay)) => (Stopped, Effect::Nothing),
        (Online | Launching, Policy(Decision::Overlimit)) => (Errored, Effect::ReportOverlimit),
        (Online | Launching, Policy(Decision::Restart(0))) => (Launching, Effect::ScheduleRestart(0)),
        (Online | Launching, Policy(Decision::Restart(delay))) => (WaitingRestart, Effect::ScheduleRestart(delay)),
        (_, Policy(_)) => return None,
        (Launching | WaitingRestart, RestartDue) => (Launching, Effect::Launch),
        (_, RestartDue) => return None,
        (_, Relaunch) => (Launching, Effect::Launch),
        (Stopping, KillFailed) => (Errored, Effect::Nothing),
        (_, KillFailed) => return None,
        (_, Reinstated) => (Online, Effect::Nothing),
    })
}

use Event::*;

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    const ALL: [Status; 6] = [Launching, Online, Stopping, Stopped, Errored, WaitingRestart];

    /// Every (status, event) pair and where it leads: the whole table, so that a change to
    /// `next` shows up here.
    #[test]
    fn every_transition() {
        let expected: &[(Status, Event, Option<(Status, Effect)>)] = &[
            (Stopped, Spawned { wait_ready: false }, Some((Online, Effect::AnnounceOnline))),
            (Stopped, Spawned { wait_ready: true }, Some((Launching, Effect::Nothing))),
            (Launching, SpawnFailed, Some((Errored, Effect::Nothing))),
            (Launching, Ready, Some((Online, Effect::AnnounceOnline))),
            (Launching, ListenTimeout, Some((Online, Effect::AnnounceOnline))),
            // Ready after listen_timeout already made it online: nothing more.
            (Online, Ready, None),
            (Online, ListenTimeout, None),
            (Stopping, Ready, None),
            (Stopped, Ready, None),
            (Online, Stop { running: true }, Some((Stopping, Effect::SignalStop))),
            // Delete while launching: the process is stopped like any other.
            (Launching, Stop { running: true }, Some((Stopping, Effect::SignalStop))),
            // Stop during the restart delay: the pending restart is cancelled.
            (WaitingRestart, Stop { running: false }, Some((Stopped, Effect::CancelPending))),
            (Errored, Stop { running: false }, Some((Stopped, Effect::CancelPending))),
            // Exit while stopping: stopped, no restart.
            (Stopping, Exited, Some((Stopped, Effect::Nothing))),
            (Online, Exited, Some((Online, Effect::ConsultPolicy))),
            (Launching, Exited, Some((Launching, Effect::ConsultPolicy))),
            // Exit while waiting restart (a late event of the crashed process): ignored.
            (WaitingRestart, Exited, None),
            (Stopped, Exited, None),
            (Errored, Exited, None),
            (Online, Policy(Decision::Stay), Some((Stopped, Effect::Nothing))),
            (Online, Policy(Decision::Overlimit), Some((Errored, Effect::ReportOverlimit))),
            (Online, Policy(Decision::Restart(0)), Some((Launching, Effect::ScheduleRestart(0)))),
            (Online, Policy(Decision::Restart(100)), Some((WaitingRestart, Effect::ScheduleRestart(100)))),
            (Stopping, Policy(Decision::Restart(100)), None),
            (WaitingRestart, RestartDue, Some((Launching, Effect::Launch))),
            (Launching, RestartDue, Some((Launching, Effect::Launch))),
            // A restart timer of an app stopped meanwhile does nothing.
            (Stopped, RestartDue, None),
            (Online, RestartDue, None),
            (Stopped, Relaunch, Some((Launching, Effect::Launch))),
            (Errored, Relaunch, Some((Launching, Effect::Launch))),
            (Stopping, KillFailed, Some((Errored, Effect::Nothing))),
            (Stopped, KillFailed, None),
            (Launching, Reinstated, Some((Online, Effect::Nothing))),
        ];
        for (from, event, to) in expected {
            assert_eq!(next(*from, *event), *to, "{from:?} on {event:?}");
        }
    }

    #[test]
    fn spawning_and_stopping_apply_in_every_status() {
        for s in ALL {
            assert_eq!(next(s, Spawned { wait_ready: false }).map(|t| t.0), Some(Online));
            assert_eq!(next(s, Stop { running: true }).map(|t| t.0), Some(Stopping));
            assert_eq!(next(s, Stop { running: false }).map(|t| t.0), Some(Stopped));
            assert_eq!(next(s, Relaunch).map(|t| t.0), Some(Launching));
        }
    }

    #[test]
    fn only_a_live_app_restarts_on_its_own() {
        for s in ALL {
            let restarts = matches!(next(s, Exited), Some((_, Effect::ConsultPolicy)));
            assert_eq!(restarts, matches!(s, Online | Launching), "{s:?}");
        }
    }
}
