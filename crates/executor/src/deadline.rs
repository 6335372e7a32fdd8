//! The one owner of a run's timeout: a run races its deadline and its cancel token, and the
//! caller learns which of the three ended it.
//!
//! Cold and forked sandboxes also carry the run's wall time in their spec: the launcher
//! inside the sandbox stops the code exactly at its timeout, measured from the code's start
//! (the sandbox's setup does not count), and reports its usage. The deadline here stands
//! behind that clock for those runs, and is the clock of pre-started sandboxes (started long
//! before their run) and session cells.

use std::future::Future;
use std::time::Duration;

use sandbox::Outcome;
use tokio_util::sync::CancellationToken;

/// What ended a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The run ended by itself.
    Finished,
    /// Its timeout passed first: `kill` was cancelled.
    TimedOut,
    /// Its cancel token fired first (the daemon stopping, the session ending): `kill` was
    /// cancelled.
    Cancelled,
}

impl Ended {
    /// A sandbox the deadline killed reports itself cancelled: the run timed out.
    pub fn correct(self, outcome: &mut Outcome) {
        if self == Ended::TimedOut && *outcome == Outcome::Cancelled {
            *outcome = Outcome::TimedOut;
        }
    }
}

/// Awaits `run` until it ends, its `timeout` passes or `cancel` fires; in the last two cases
/// cancels `kill` (which must make `run` end soon) and still awaits `run`, so that what the
/// sandbox reported is never lost.
pub(crate) async fn race<F: Future>(
    run: F,
    timeout: Duration,
    cancel: &CancellationToken,
    kill: &CancellationToken,
) -> (F::Output, Ended) {
    let mut run = std::pin::pin!(run);
    let ended = tokio::select! {
        output = &mut run => return (output, Ended::Finished),
        _ = tokio::time::sleep(timeout) => Ended::TimedOut,
        _ = cancel.cancelled() => Ended::Cancelled,
    };
    kill.cancel();
    (run.await, ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_that_ends_first_is_finished_and_not_killed() {
        let (cancel, kill) = (CancellationToken::new(), CancellationToken::new());
        let (value, ended) = race(async { 7 }, Duration::from_secs(5), &cancel, &kill).await;
        assert_eq!((value, ended), (7, Ended::Finished));
        assert!(!kill.is_cancelled());
    }

    #[tokio::test]
    async fn past_its_timeout_a_run_is_killed_and_still_awaited() {
        let (cancel, kill) = (CancellationToken::new(), CancellationToken::new());
        let watched = kill.clone();
        let run = async move {
            watched.cancelled().await;
            "report after the kill"
        };
        let (value, ended) = race(run, Duration::from_millis(20), &cancel, &kill).await;
        assert_eq!((value, ended), ("report after the kill", Ended::TimedOut));
    }

    #[tokio::test]
    async fn a_cancel_kills_the_run_and_is_reported_as_such() {
        let (cancel, kill) = (CancellationToken::new(), CancellationToken::new());
        cancel.cancel();
        let watched = kill.clone();
        let (_, ended) = race(async move { watched.cancelled().await }, Duration::from_secs(5), &cancel, &kill).await;
        assert_eq!(ended, Ended::Cancelled);
        assert!(kill.is_cancelled());
    }

    #[test]
    fn only_a_cancelled_sandbox_the_deadline_killed_becomes_timed_out() {
        let mut outcome = Outcome::Cancelled;
        Ended::Cancelled.correct(&mut outcome);
        assert_eq!(outcome, Outcome::Cancelled);
        Ended::TimedOut.correct(&mut outcome);
        assert_eq!(outcome, Outcome::TimedOut);
        let mut exited = Outcome::Exited { code: 0 };
        Ended::TimedOut.correct(&mut exited);
        assert_eq!(exited, Outcome::Exited { code: 0 });
    }
}
