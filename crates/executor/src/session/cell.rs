//! A session call's result: the same shape as a one-shot run's, from a driver's answer, a
//! timeout or a dead interpreter.

use sandbox::runner::{LimitHit, RunOutput};
use sandbox::Outcome;

use super::interpreter::{CallOutcome, CellReply, Slot};
use super::registry::Session;
use crate::{
    Artifact, ExecuteError, ExecutionError, ExecutionResult, ExecutionStatus, Language, Metrics, ProcessStatus,
    TerminationReason, Truncated, MAX_VALUE_DEPTH,
};

/// The result of a cell the interpreter answered.
pub(crate) fn answered(
    execution_id: String,
    reply: CellReply,
    wall_ms: f64,
    artifacts: Vec<Artifact>,
) -> ExecutionResult {
    let failed = reply.error.is_some();
    ExecutionResult {
        execution_id,
        status: if failed { ExecutionStatus::Failed } else { ExecutionStatus::Success },
        process_status: if failed { ProcessStatus::Error } else { ProcessStatus::Completed },
        termination_reason: None,
        stdout: reply.stdout,
        stderr: reply.stderr,
        exit_code: i32::from(failed),
        execution_time: round(wall_ms / 1000.0, 1000.0),
        // Too deep to hand on: like a value that is not JSON, it has only its `display`.
        return_value: reply.value.filter(|value| value.depth() <= MAX_VALUE_DEPTH),
        error: reply.error,
        metrics: Metrics {
            duration_ms: round(wall_ms, 100.0),
            cpu_time_ms: round(reply.cpu_ms, 100.0),
            peak_memory_mb: round(reply.peak_kb as f64 / 1024.0, 100.0),
            path: Default::default(),
            phases: None,
        },
        artifacts,
        truncated: Truncated { stdout: reply.stdout_truncated, stderr: reply.stderr_truncated },
        isolation: Vec::new(),
        network: None,
    }
}

/// The result of a cell that did not answer in time.
pub(crate) fn timed_out(
    execution_id: String,
    message: &str,
    wall_ms: f64,
    artifacts: Vec<Artifact>,
) -> ExecutionResult {
    ExecutionResult {
        status: ExecutionStatus::Timeout,
        process_status: ProcessStatus::Timeout,
        termination_reason: Some(TerminationReason::Timeout),
        exit_code: -1,
        error: Some(ExecutionError { kind: "TimeoutError".into(), message: message.into(), traceback: String::new() }),
        ..lost(execution_id, message, wall_ms, artifacts)
    }
}

/// The result of a cell whose interpreter died under it (or was killed with the session).
pub(crate) fn died(
    execution_id: String,
    message: &str,
    output: Option<&RunOutput>,
    cancelled: bool,
    wall_ms: f64,
    artifacts: Vec<Artifact>,
) -> ExecutionResult {
    let (status, process_status, exit_code, reason) = match output.map(|o| &o.report.outcome) {
        _ if cancelled => (ExecutionStatus::Killed, ProcessStatus::Error, -1, Some(TerminationReason::Shutdown)),
        Some(Outcome::Signaled { signal }) => {
            (ExecutionStatus::Killed, ProcessStatus::Error, 128 + signal, Some(TerminationReason::Signal))
        }
        Some(Outcome::Exited { code }) => (ExecutionStatus::Failed, ProcessStatus::Error, *code, None),
        Some(Outcome::TimedOut) => {
            (ExecutionStatus::Timeout, ProcessStatus::Timeout, -1, Some(TerminationReason::Timeout))
        }
        Some(Outcome::Lost) => {
            (ExecutionStatus::Killed, ProcessStatus::Error, -1, Some(TerminationReason::SandboxLost))
        }
        _ => (ExecutionStatus::Killed, ProcessStatus::Error, -1, Some(TerminationReason::Signal)),
    };
    // A limit of the interpreter's cgroup that ended it says so, as for a one-shot run.
    let (status, process_status, reason) = match output.and_then(|o| o.limit) {
        Some(limit) if !cancelled => {
            let reason = match limit {
                LimitHit::Memory => TerminationReason::MemoryLimit,
                LimitHit::Processes => TerminationReason::ProcessLimit,
                LimitHit::Output => TerminationReason::OutputLimit,
                LimitHit::Disk => TerminationReason::DiskLimit,
            };
            (ExecutionStatus::Killed, ProcessStatus::Error, Some(reason))
        }
        _ => (status, process_status, reason),
    };
    let mut result = lost(execution_id, message, wall_ms, artifacts);
    // What the interpreter itself said last (a fatal error's message) comes first.
    if let Some(tail) = output.map(|o| String::from_utf8_lossy(&o.stderr.bytes).into_owned()).filter(|t| !t.is_empty())
    {
        result.stderr = format!("{tail}{}", result.stderr);
    }
    ExecutionResult {
        status,
        process_status,
        termination_reason: reason,
        exit_code,
        error: Some(ExecutionError {
            kind: "InterpreterDied".into(),
            message: message.into(),
            traceback: String::new(),
        }),
        ..result
    }
}

/// The result's `note`: why a new interpreter was started (`restarted`), and what happened
/// to this call (`now`), either or both.
pub(crate) fn note(language: &str, restarted: Option<String>, now: Option<String>) -> Option<String> {
    let started = |lost: &str| {
        format!(
            "a new {language} interpreter was started because {lost}: earlier variables, functions and imports \
             are gone (the workspace's files remain)"
        )
    };
    match (restarted, now) {
        (Some(lost), Some(now)) => Some(format!("{}. Then: {now}", started(&lost))),
        (Some(lost), None) => Some(started(&lost)),
        (None, now) => now,
    }
}

fn lost(execution_id: String, message: &str, wall_ms: f64, artifacts: Vec<Artifact>) -> ExecutionResult {
    let base = ExecutionResult::not_run(&execution_id, "", message);
    ExecutionResult {
        execution_time: round(wall_ms / 1000.0, 1000.0),
        error: None,
        metrics: Metrics { duration_ms: round(wall_ms, 100.0), ..base.metrics },
        artifacts,
        ..base
    }
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// How a cell ended, besides its outcome.
pub(crate) struct Ended {
    pub execution_id: String,
    pub timeout_ms: u64,
    pub wall_ms: f64,
    pub changed: Vec<crate::Artifact>,
}

/// The result, display and note of a cell's outcome; a slot whose interpreter timed out or
/// died learns why it is lost. An interpreter that could not start is the call's error.
pub(crate) fn settle(
    session: &Session,
    language: Language,
    outcome: CallOutcome,
    ended: Ended,
    slot: &mut Slot,
    restarted: &mut Option<String>,
) -> Result<(ExecutionResult, Option<String>, Option<String>), ExecuteError> {
    let Ended { execution_id, timeout_ms, wall_ms, changed } = ended;
    let language = language.name();
    Ok(match outcome {
        CallOutcome::Reply(mut reply) => {
            let display = reply.display.take();
            (answered(execution_id, reply, wall_ms, changed), display, None)
        }
        CallOutcome::TimedOut => {
            slot.live = None;
            let secs = timeout_ms as f64 / 1000.0;
            slot.lost = Some(format!("the previous {language} interpreter timed out after {secs} s and was killed"));
            let message = format!(
                "the cell did not finish within {secs} s: the session's {language} interpreter was killed, \
                 and the next call starts a new one (variables are lost; the workspace's files remain)"
            );
            (timed_out(execution_id, &message, wall_ms, changed), None, Some(message))
        }
        CallOutcome::Died(why, output) => {
            slot.live = None;
            if let Some(sandbox::Outcome::SetupFailed { stage, message }) = output.as_ref().map(|o| &o.report.outcome) {
                slot.lost = restarted.take();
                return Err(ExecuteError::Sandbox { stage: stage.clone(), message: message.clone() });
            }
            slot.lost = Some(format!("the previous {language} interpreter died ({why})"));
            let message = format!(
                "the session's {language} interpreter died during the cell ({why}); the next call starts a new \
                 one (variables are lost; the workspace's files remain)"
            );
            let cancelled = session.cancel.is_cancelled();
            (died(execution_id, &message, output.as_ref(), cancelled, wall_ms, changed), None, Some(message))
        }
    })
}
