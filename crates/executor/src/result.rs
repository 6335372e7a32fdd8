//! The result of one execution, as returned over HTTP and printed by `sandbox-executor run`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Success,
    Failed,
    Timeout,
    Killed,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 4] =
        [ExecutionStatus::Success, ExecutionStatus::Failed, ExecutionStatus::Timeout, ExecutionStatus::Killed];

    /// The name the API and the metrics' `status` label give it.
    pub fn name(self) -> &'static str {
        match self {
            ExecutionStatus::Success => "success",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Timeout => "timeout",
            ExecutionStatus::Killed => "killed",
        }
    }
}

/// The NVIDIA sandbox's vocabulary for the same outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    Completed,
    Error,
    Timeout,
}

/// Why a run was cut short, when it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminationReason {
    Timeout,
    Signal,
    /// The daemon shut down (or restarted) while the run was going on.
    Shutdown,
    /// The kernel killed the run's code for passing its memory limit (`status: killed`).
    MemoryLimit,
    /// The run tried to start more processes or threads than its limit allows; it is
    /// stopped when that happens (`status: killed`).
    ProcessLimit,
    /// The run wrote far more output than is kept (more than twice the output cap and
    /// 16 MiB besides, both streams together); it was stopped (`status: killed`). Output
    /// merely past the cap is cut (see `truncated`) without stopping the run.
    OutputLimit,
    /// The run failed with /tmp or its workspace full (`status: failed`), or was killed for
    /// writing a file past the size limit (`status: killed`).
    DiskLimit,
    /// The run's sandbox was killed from outside the run (its launcher, or the zygote that
    /// forked it) after it had been handed the code: the run started and was cut short
    /// (`status: killed`, `exit_code: -1`; stderr ends with a note saying so).
    SandboxLost,
    /// The run passed its network limit (bytes moved or connections opened through its
    /// egress door, see `network.limit_exceeded`); it was stopped (`status: killed`).
    NetworkLimit,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExecutionResult {
    pub execution_id: String,
    pub status: ExecutionStatus,
    pub process_status: ProcessStatus,
    pub termination_reason: Option<TerminationReason>,
    pub stdout: String,
    pub stderr: String,
    /// The program's exit code; -1 on timeout; 128 + signal when killed by a signal.
    pub exit_code: i32,
    /// Wall time of the run in seconds.
    pub execution_time: f64,
    /// The handler's return value (any JSON), or null. Its numbers come back as the handler
    /// gave them: integers past 2^53 or 64 bits keep every digit. It may nest 126 levels
    /// deep; a deeper one fails the run (`ReturnValueTooDeep`).
    #[schema(value_type = Option<serde_json::Value>)]
    pub return_value: Option<crate::ExactJson>,
    /// A handler's or script's uncaught exception, or null.
    pub error: Option<ExecutionError>,
    pub metrics: Metrics,
    /// Files the run created or changed in its workspace.
    pub artifacts: Vec<Artifact>,
    pub truncated: Truncated,
    /// The isolation layers the run was under (the names `GET /info` lists as active).
    #[serde(default)]
    pub isolation: Vec<String>,
    /// The run's network through its egress door: what it was allowed and every attempt.
    /// Absent for runs without an egress policy (they have no network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::egress::NetworkReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ExecutionError {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub traceback: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Metrics {
    /// Wall time of the run: from its start (for a pre-started sandbox, from when it was
    /// handed the run) to the end of its last process.
    pub duration_ms: f64,
    /// CPU time of the sandboxed processes (not the daemon's).
    pub cpu_time_ms: f64,
    /// Peak memory of the run in MiB: its cgroup's high-water mark (files it wrote to /tmp
    /// count too); where no memory cgroup is in force, the largest resident set of a single
    /// process.
    pub peak_memory_mb: f64,
    /// How the run's sandbox was started: `cold` (for this run) or `warm` (pre-started,
    /// never used before, handed this run).
    #[serde(default)]
    pub path: LaunchPath,
    /// Where the time of the request went, phase by phase (one-shot runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
}

/// Where the time of a one-shot request went, in ms, in the order a run goes through them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Phases {
    /// Waiting for a place to run (the concurrency limit).
    pub queue_ms: f64,
    /// Getting a sandbox ready for the code: claiming a pre-started one or forking or
    /// starting one, its workspace and files, up to the code's start.
    pub launch_ms: f64,
    /// The code's own run (`duration_ms`).
    pub run_ms: f64,
    /// Reading how it ended and what it changed (artifacts) into the result.
    pub collect_ms: f64,
    /// Committing the result to the store (and the outbox) before the answer. The stored
    /// record is written before this is known, so it says 0 there.
    pub store_ms: f64,
}

impl Phases {
    /// Records the phases in the metrics' histograms.
    pub fn observe(&self) {
        for (phase, ms) in [
            ("queue", self.queue_ms),
            ("launch", self.launch_ms),
            ("run", self.run_ms),
            ("collect", self.collect_ms),
            ("store", self.store_ms),
        ] {
            metrics::histogram!("sandbox_execution_phase_seconds", "phase" => phase).record(ms / 1000.0);
        }
    }
}

/// How a run's sandbox was started; all are isolated alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LaunchPath {
    /// Started for the run.
    #[default]
    Cold,
    /// Started ahead of the run, and used for it only.
    Warm,
    /// Forked for the run from a zygote that had loaded the interpreter and the template's
    /// modules, into a sandbox of its own.
    Forked,
    /// Forked by a zygote before the run, with fresh namespaces, root, /tmp and cgroup
    /// built ahead; the run's claim brought its workspace, files, stdin, limits and last
    /// confinement. Used for that run only.
    Prebuilt,
    /// A process of its session's box (an E2B sandbox's interpreter), started by the box's
    /// agent beside the box's other processes.
    Boxed,
}

/// A file the run created or changed in its workspace.
///
/// Files under the workspace's output folder (`output/`, at any depth) come back with their
/// `content`, base64-encoded: that is where the Python driver saves charts (matplotlib figures
/// as `output/plot_<n>.png`, plotly figures as `output/plotly_<n>.json`, plus
/// `output/plotly_<n>.png` when kaleido is installed), and where code puts the files it
/// means to hand back. Content is capped: an output file over 10 MiB, or one that would take
/// the run's content past 20 MiB in all (file bytes, output files taken in path order), comes
/// back without it, as every file outside `output/` does: absent `content` (never null) means
/// "not sent", and `size` and `sha256` still describe the file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Artifact {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    pub size: u64,
    /// The MIME type guessed from the file's extension (`application/octet-stream` when
    /// unknown). JSON files, plotly's figures among them, are `application/json`.
    pub mime_type: String,
    /// Hex SHA-256 of the file's content.
    pub sha256: String,
    /// The MIME type again, under the name rich-output clients read (e.g. `image/png`).
    #[serde(rename = "type", default)]
    #[schema(required = true, example = "image/png")]
    pub kind: String,
    /// The file's name without its directory and extension (e.g. `plot_0`).
    #[serde(default)]
    #[schema(required = true)]
    pub name: String,
    /// The file's bytes, base64-encoded (standard alphabet, padded); see above for when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, Default, PartialEq, Eq)]
pub struct Truncated {
    pub stdout: bool,
    pub stderr: bool,
}

impl ExecutionResult {
    /// The record of an admitted execution that could not run (its sandbox did not start, or
    /// its files were refused): it still ends with a result, so nothing waits for it forever.
    pub fn not_run(execution_id: &str, kind: &str, message: &str) -> ExecutionResult {
        ExecutionResult {
            execution_id: execution_id.to_string(),
            status: ExecutionStatus::Failed,
            process_status: ProcessStatus::Error,
            termination_reason: None,
            stdout: String::new(),
            stderr: format!("{message}\n"),
            exit_code: -1,
            execution_time: 0.0,
            return_value: None,
            error: Some(ExecutionError {
                kind: kind.to_string(),
                message: message.to_string(),
                traceback: String::new(),
            }),
            metrics: Metrics {
                duration_ms: 0.0,
                cpu_time_ms: 0.0,
                peak_memory_mb: 0.0,
                path: LaunchPath::Cold,
                phases: None,
            },
            artifacts: Vec::new(),
            truncated: Truncated::default(),
            isolation: Vec::new(),
            network: None,
        }
    }
}
