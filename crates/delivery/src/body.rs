//! The JSON bodies of the control plane's internal callback API.

use std::time::Duration;

use executor::{Artifact, ExecutionResult, ExecutionStatus};
use serde_json::{json, Value};

use crate::ControlPlaneConfig;

/// The contract's word for our status. It has no `killed`: a run cut short by a signal or by
/// the daemon's shutdown is what it calls `crashed`.
pub fn contract_status(status: ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Success => "success",
        ExecutionStatus::Failed => "failed",
        ExecutionStatus::Timeout => "timeout",
        ExecutionStatus::Killed => "crashed",
    }
}

/// `POST /executions/{id}/result`. The contract's fields first; ours after them, which the
/// control plane ignores but keeps the whole result on the wire (and in the fallback file).
/// `artifacts` is a list of paths because that is what the control plane parses
/// (`List[str]`); the full descriptions travel in `artifact_metadata`.
pub fn result_body(result: &ExecutionResult) -> Value {
    json!({
        "status": contract_status(result.status),
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exit_code": result.exit_code,
        "execution_time": result.execution_time,
        "return_value": result.return_value,
        "metrics": {
            "duration_ms": result.metrics.duration_ms,
            "cpu_time_ms": result.metrics.cpu_time_ms,
            "peak_memory_mb": result.metrics.peak_memory_mb,
        },
        "artifacts": result.artifacts.iter().map(|a| a.path.as_str()).collect::<Vec<_>>(),
        "execution_id": result.execution_id,
        "process_status": result.process_status,
        "termination_reason": result.termination_reason,
        "error": result.error,
        "truncated": result.truncated,
        // Descriptions only: file contents (up to 20 MiB a run) stay with the executor.
        "artifact_metadata": result.artifacts.iter().map(|a| Artifact { content: None, ..a.clone() }).collect::<Vec<_>>(),
    })
}

/// `POST /executions/{id}/heartbeat`.
pub fn heartbeat_body(now_ms: i64, elapsed: Duration) -> Value {
    json!({
        "timestamp": crate::clock::rfc3339(now_ms),
        "progress": { "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX) },
    })
}

/// `POST /containers/ready`.
pub fn ready_body(config: &ControlPlaneConfig, now_ms: i64) -> Value {
    json!({
        "event_type": "ready",
        "container_id": config.container_id,
        "pod_name": config.pod_name,
        "executor_port": config.executor_port,
        "ready_at": crate::clock::rfc3339(now_ms),
    })
}

/// `POST /containers/exited`.
pub fn exited_body(config: &ControlPlaneConfig, exit_code: i32, exit_reason: &str, now_ms: i64) -> Value {
    json!({
        "event_type": "exited",
        "container_id": config.container_id,
        "pod_name": config.pod_name,
        "executor_port": config.executor_port,
        "exit_code": exit_code,
        "exit_reason": exit_reason,
        "exited_at": crate::clock::rfc3339(now_ms),
    })
}

/// The exit reasons the contract knows.
pub const EXIT_REASONS: [&str; 5] = ["normal", "sigterm", "sigkill", "oom_killed", "error"];
