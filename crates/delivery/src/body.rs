//! The JSON bodies of the control plane's internal callback API.

use std::time::Duration;

use executor::{
    Artifact, ExactJson, ExecutionError, ExecutionResult, ExecutionStatus, ProcessStatus, TerminationReason, Truncated,
};
use serde::Serialize;
use serde_json::value::RawValue;
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
///
/// Written as JSON text straight from the result, never through a `Value`, which would round
/// a return value's integers past 64 bits to floats.
pub fn result_body(result: &ExecutionResult) -> Result<Box<RawValue>, serde_json::Error> {
    serde_json::value::to_raw_value(&ResultBody {
        status: contract_status(result.status),
        stdout: &result.stdout,
        stderr: &result.stderr,
        exit_code: result.exit_code,
        execution_time: result.execution_time,
        return_value: result.return_value.as_ref(),
        metrics: BodyMetrics {
            duration_ms: result.metrics.duration_ms,
            cpu_time_ms: result.metrics.cpu_time_ms,
            peak_memory_mb: result.metrics.peak_memory_mb,
        },
        artifacts: result.artifacts.iter().map(|a| a.path.as_str()).collect(),
        execution_id: &result.execution_id,
        process_status: result.process_status,
        termination_reason: result.termination_reason,
        error: result.error.as_ref(),
        truncated: result.truncated,
        // Descriptions only: file contents (up to 20 MiB a run) stay with the executor.
        artifact_metadata: result.artifacts.iter().map(|a| Artifact { content: None, ..a.clone() }).collect(),
    })
}

#[derive(Serialize)]
struct ResultBody<'a> {
    status: &'static str,
    stdout: &'a str,
    stderr: &'a str,
    exit_code: i32,
    execution_time: f64,
    return_value: Option<&'a ExactJson>,
    metrics: BodyMetrics,
    artifacts: Vec<&'a str>,
    execution_id: &'a str,
    process_status: ProcessStatus,
    termination_reason: Option<TerminationReason>,
    error: Option<&'a ExecutionError>,
    truncated: Truncated,
    artifact_metadata: Vec<Artifact>,
}

#[derive(Serialize)]
struct BodyMetrics {
    duration_ms: f64,
    cpu_time_ms: f64,
    peak_memory_mb: f64,
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
