//! Turns what the sandbox reported into the caller's result.

use sandbox::runner::{LimitHit, RunOutput};
use sandbox::Outcome;
use serde::Deserialize;

use crate::{
    Artifact, ExecuteError, ExecutionError, ExecutionResult, ExecutionStatus, Metrics, ProcessStatus,
    TerminationReason, Truncated, MAX_VALUE_DEPTH,
};

/// What a driver writes on its private channel.
#[derive(Debug, Deserialize)]
struct ChannelMessage {
    #[serde(default)]
    return_value: Option<crate::ExactJson>,
    #[serde(default)]
    error: Option<ChannelError>,
}

#[derive(Debug, Deserialize)]
struct ChannelError {
    #[serde(rename = "type")]
    kind: String,
    message: String,
    #[serde(default)]
    traceback: String,
}

/// What stderr says last of a run whose sandbox was lost: nothing of the run's own says why.
pub(crate) const LOST_NOTE: &str =
    "sandbox-executor: the run was cut short: its sandbox was killed from outside the run before it finished\n";

/// `workspace_full`: the run's size-capped workspace was full when it ended.
pub fn build(
    execution_id: &str,
    run: RunOutput,
    artifacts: Vec<Artifact>,
    workspace_full: bool,
) -> Result<ExecutionResult, ExecuteError> {
    let report = run.report;
    let signaled = matches!(report.outcome, Outcome::Signaled { .. });
    let failed = signaled || matches!(report.outcome, Outcome::Exited { code } if code != 0);
    let limit = run.limit.or((failed && workspace_full).then_some(LimitHit::Disk));
    let Ending { mut status, process_status, exit_code, mut termination_reason, setup_note } =
        ended(report.outcome, limit)?;
    if let Some(limit) = limit {
        let (reason, stopped) = match limit {
            LimitHit::Memory => (TerminationReason::MemoryLimit, true),
            LimitHit::Processes => (TerminationReason::ProcessLimit, true),
            LimitHit::Output => (TerminationReason::OutputLimit, true),
            LimitHit::Disk => (TerminationReason::DiskLimit, signaled),
        };
        termination_reason = Some(reason);
        if stopped {
            status = ExecutionStatus::Killed;
        }
    }
    let process_status = if status == ExecutionStatus::Killed { ProcessStatus::Error } else { process_status };
    let mut result = ExecutionResult {
        execution_id: execution_id.to_string(),
        status,
        process_status,
        termination_reason,
        stdout: String::from_utf8_lossy(&run.stdout.bytes).into_owned(),
        stderr: String::from_utf8_lossy(&run.stderr.bytes).into_owned(),
        exit_code,
        execution_time: report.wall_time_ms / 1000.0,
        return_value: None,
        error: None,
        metrics: Metrics {
            duration_ms: round2(report.wall_time_ms),
            cpu_time_ms: round2(report.cpu_time_ms),
            peak_memory_mb: round2(report.peak_memory_kb as f64 / 1024.0),
            path: Default::default(),
            phases: None,
        },
        artifacts,
        truncated: Truncated { stdout: run.stdout.truncated, stderr: run.stderr.truncated },
        isolation: Vec::new(),
        network: None,
    };
    if result.termination_reason == Some(TerminationReason::SandboxLost) {
        if !result.stderr.is_empty() && !result.stderr.ends_with('\n') {
            result.stderr.push('\n');
        }
        result.stderr.push_str(LOST_NOTE);
    }
    if let Some(note) = setup_note {
        result.stderr.push_str(&note);
    }
    result.execution_time = round3(result.execution_time);
    apply_channel(&mut result, report.channel.as_deref(), report.channel_truncated);
    Ok(result)
}

/// Puts what went through a run's egress door into its result; a run its door stopped for
/// passing a limit was killed for it.
pub(crate) fn with_network(result: &mut ExecutionResult, network: crate::NetworkReport) {
    if network.limit_exceeded.is_some() {
        result.status = ExecutionStatus::Killed;
        result.process_status = ProcessStatus::Error;
        result.termination_reason = Some(TerminationReason::NetworkLimit);
    }
    result.network = Some(network);
}

/// How a run ended, as its result says it.
struct Ending {
    status: ExecutionStatus,
    process_status: ProcessStatus,
    exit_code: i32,
    termination_reason: Option<TerminationReason>,
    /// Why a sandbox its own limits left no room to start did not start.
    setup_note: Option<String>,
}

/// How the run ended; a sandbox that could not start for another reason than the run's own
/// limits is the error.
fn ended(outcome: Outcome, limit: Option<LimitHit>) -> Result<Ending, ExecuteError> {
    let (status, process_status, exit_code, termination_reason) = match outcome {
        Outcome::Exited { code: 0 } => (ExecutionStatus::Success, ProcessStatus::Completed, 0, None),
        Outcome::Exited { code } => (ExecutionStatus::Failed, ProcessStatus::Error, code, None),
        Outcome::Signaled { signal } => {
            (ExecutionStatus::Killed, ProcessStatus::Error, 128 + signal, Some(TerminationReason::Signal))
        }
        Outcome::TimedOut => (ExecutionStatus::Timeout, ProcessStatus::Timeout, -1, Some(TerminationReason::Timeout)),
        Outcome::Cancelled => (ExecutionStatus::Killed, ProcessStatus::Error, -1, Some(TerminationReason::Shutdown)),
        Outcome::Lost => (ExecutionStatus::Killed, ProcessStatus::Error, -1, Some(TerminationReason::SandboxLost)),
        Outcome::SetupFailed { stage, message } => match limit {
            // The run's own limit left the sandbox no room to start: the code did not run
            // because of what the caller asked, so it is the caller's result, not a 500.
            Some(_) => {
                let note = format!(
                    "sandbox-executor: the sandbox could not start within the run's limits ({stage}: {message})\n"
                );
                let (status, process_status) = (ExecutionStatus::Killed, ProcessStatus::Error);
                return Ok(Ending {
                    status,
                    process_status,
                    exit_code: -1,
                    termination_reason: None,
                    setup_note: Some(note),
                });
            }
            None => return Err(ExecuteError::Sandbox { stage, message }),
        },
    };
    Ok(Ending { status, process_status, exit_code, termination_reason, setup_note: None })
}

/// Takes the return value or error the driver sent; a channel that cannot be read fails a
/// run that otherwise succeeded, with the reason.
fn apply_channel(result: &mut ExecutionResult, channel: Option<&str>, truncated: bool) {
    let text = channel.unwrap_or("").trim();
    if text.is_empty() {
        return;
    }
    let failure = |kind: &str, message: String| ExecutionError { kind: kind.into(), message, traceback: String::new() };
    if truncated {
        fail(result, failure("ReturnValueTooLarge", "the handler's return value is over the size limit".into()));
        return;
    }
    match serde_json::from_str::<ChannelMessage>(text) {
        Ok(ChannelMessage { error: Some(e), .. }) => {
            let error = ExecutionError { kind: e.kind, message: e.message, traceback: e.traceback };
            if result.status == ExecutionStatus::Success {
                fail(result, error);
            } else {
                result.error = Some(error);
            }
        }
        Ok(message) if result.status == ExecutionStatus::Success => match message.return_value {
            Some(value) if value.depth() > MAX_VALUE_DEPTH => {
                let message = format!(
                    "the handler's return value nests {} levels deep, more than the {MAX_VALUE_DEPTH} allowed",
                    value.depth()
                );
                fail(result, failure("ReturnValueTooDeep", message));
            }
            value => result.return_value = value,
        },
        Ok(_) => {}
        Err(e) => fail(result, failure("ResultChannelError", format!("unreadable result from the driver: {e}"))),
    }
}

fn fail(result: &mut ExecutionResult, error: ExecutionError) {
    if result.status == ExecutionStatus::Success {
        result.status = ExecutionStatus::Failed;
        result.process_status = ProcessStatus::Error;
        result.exit_code = 1;
    }
    result.error = Some(error);
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use sandbox::runner::{Captured, LimitHit, RunOutput};
    use sandbox::{Outcome, SandboxReport};

    use super::build;
    use crate::{ExecutionStatus, TerminationReason};

    fn run(outcome: Outcome, limit: Option<LimitHit>) -> RunOutput {
        let report = SandboxReport {
            outcome,
            wall_time_ms: 1.0,
            cpu_time_ms: 1.0,
            peak_memory_kb: 1024,
            channel: None,
            channel_truncated: false,
            full_filesystems: Vec::new(),
        };
        RunOutput { report, stdout: Captured::default(), stderr: Captured::default(), limit }
    }

    fn ended(
        outcome: Outcome,
        limit: Option<LimitHit>,
        workspace_full: bool,
    ) -> (ExecutionStatus, Option<TerminationReason>) {
        let r = build("exec_1", run(outcome, limit), Vec::new(), workspace_full).unwrap();
        (r.status, r.termination_reason)
    }

    const KILL: Outcome = Outcome::Signaled { signal: 9 };

    #[test]
    fn each_limit_says_why_the_run_ended() {
        use ExecutionStatus::*;
        use TerminationReason::*;
        assert_eq!(ended(KILL, Some(LimitHit::Memory), false), (Killed, Some(MemoryLimit)));
        assert_eq!(ended(Outcome::Exited { code: 0 }, Some(LimitHit::Processes), false), (Killed, Some(ProcessLimit)));
        assert_eq!(ended(KILL, Some(LimitHit::Output), false), (Killed, Some(OutputLimit)));
        assert_eq!(ended(Outcome::Exited { code: 1 }, Some(LimitHit::Disk), false), (Failed, Some(DiskLimit)));
        assert_eq!(ended(Outcome::Signaled { signal: 25 }, Some(LimitHit::Disk), false), (Killed, Some(DiskLimit)));
    }

    #[test]
    fn a_sandbox_that_its_own_limits_left_no_room_to_start_is_the_runs_result() {
        let setup = || Outcome::SetupFailed { stage: "unshare namespaces".into(), message: "ENOMEM".into() };
        let r = build("exec_1", run(setup(), Some(LimitHit::Memory)), Vec::new(), false).unwrap();
        assert_eq!((r.status, r.termination_reason), (ExecutionStatus::Killed, Some(TerminationReason::MemoryLimit)));
        assert!(
            r.stderr.contains("could not start within the run's limits (unshare namespaces: ENOMEM)"),
            "{}",
            r.stderr
        );
        let r = build("exec_1", run(setup(), Some(LimitHit::Processes)), Vec::new(), false).unwrap();
        assert_eq!(r.termination_reason, Some(TerminationReason::ProcessLimit));
        let host_fault = build("exec_1", run(setup(), None), Vec::new(), false);
        assert!(matches!(host_fault, Err(crate::ExecuteError::Sandbox { .. })));
    }

    #[test]
    fn a_full_workspace_explains_failures_only() {
        use ExecutionStatus::*;
        assert_eq!(ended(Outcome::Exited { code: 1 }, None, true), (Failed, Some(TerminationReason::DiskLimit)));
        assert_eq!(ended(Outcome::Exited { code: 0 }, None, true), (Success, None));
        assert_eq!(ended(Outcome::TimedOut, None, true), (Timeout, Some(TerminationReason::Timeout)));
        assert_eq!(ended(KILL, None, false), (Killed, Some(TerminationReason::Signal)));
    }

    #[test]
    fn a_lost_sandbox_is_a_run_cut_short_and_says_so() {
        let mut lost = run(Outcome::Lost, None);
        lost.stdout.bytes = b"started\n".to_vec();
        lost.stderr.bytes = b"partial".to_vec();
        let r = build("exec_1", lost, Vec::new(), false).unwrap();
        assert_eq!(
            (r.status, r.termination_reason, r.exit_code),
            (ExecutionStatus::Killed, Some(TerminationReason::SandboxLost), -1)
        );
        assert_eq!(r.stdout, "started\n");
        assert_eq!(r.stderr, format!("partial\n{}", super::LOST_NOTE));
    }
}
