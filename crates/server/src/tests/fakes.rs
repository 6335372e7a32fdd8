//! A launcher that answers without a sandbox, and an execution recorder in memory, so the
//! routes that run code can be tested in-process.
//!
//! The fake launcher reads the run's code from the spec (the `user.*` file the executor
//! mounts for the program) and answers what each line asks for:
//!
//! | line                   | the run                                                      |
//! |------------------------|--------------------------------------------------------------|
//! | `echo TEXT`            | writes `TEXT` and a newline to stdout                        |
//! | `warn TEXT`            | writes `TEXT` and a newline to stderr                        |
//! | `cat`                  | copies its stdin to stdout                                   |
//! | `exit N`               | exits with code `N` (the default is 0)                       |
//! | `return JSON`          | sends `JSON` as the handler's return value on the channel   |
//! | `raise TYPE MESSAGE`   | sends the error on the channel and exits with 1              |
//! | `write NAME TEXT`      | writes `TEXT` to `NAME` in the workspace                     |
//! | `hang`                 | is stopped by its wall-time limit                            |
//! | `block`                | runs until it is cancelled (the daemon's shutdown)           |
//! | `oom`                  | is killed by its memory limit                                |
//! | `unstartable`          | has a sandbox that cannot be built (a host fault)            |
//!
//! The service's start-up self-test (a shell `exit 0`) therefore succeeds.

use std::collections::HashMap;
use std::sync::Mutex;

use executor::launcher::{LaunchFuture, Launcher, Origin, SandboxStart};
use executor::{
    ExactJson, ExecuteError, ExecutionRecord, ExecutionRecorder, ExecutionResult, ExecutionState, RecordError,
    StartedExecution,
};
use sandbox::runner::{Captured, LimitHit, RunOutput};
use sandbox::{Mount, Outcome, SandboxReport, SandboxSpec};

/// Where the executor puts the workspace in every sandbox.
const WORKSPACE: &str = "/workspace";

#[derive(Default)]
pub struct FakeLauncher {
    /// Every spec launched, oldest first (the self-test's included).
    launched: Mutex<Vec<SandboxSpec>>,
}

impl FakeLauncher {
    /// The spec of the last run whose code contains `marker`.
    pub fn spec_of(&self, marker: &str) -> SandboxSpec {
        let launched = self.launched.lock().unwrap();
        launched.iter().rev().find(|spec| code_of(spec).contains(marker)).cloned().expect("a run with this code")
    }

    /// How many runs had code containing `marker`.
    pub fn launched_count_of(&self, marker: &str) -> usize {
        self.launched.lock().unwrap().iter().filter(|spec| code_of(spec).contains(marker)).count()
    }

    fn answer(&self, spec: &SandboxSpec) -> RunOutput {
        self.launched.lock().unwrap().push(spec.clone());
        let mut run = Run::default();
        for line in code_of(spec).lines() {
            let (word, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            if !run.obey(word, rest, spec) {
                break;
            }
        }
        run.output()
    }
}

impl Launcher for FakeLauncher {
    fn start<'a>(&'a self, start: SandboxStart<'a>) -> LaunchFuture<'a> {
        let SandboxStart { spec, origin, cancel, .. } = start;
        Box::pin(async move {
            let fresh = matches!(origin, Origin::Fresh);
            if fresh && code_of(spec).lines().any(|line| line.trim() == "block") {
                cancel.cancelled().await;
            }
            Ok(self.answer(spec))
        })
    }
}

/// The program of a run: the `user.*` file mounted for it.
fn code_of(spec: &SandboxSpec) -> String {
    spec.mounts
        .iter()
        .find_map(|mount| match mount {
            Mount::File { target, contents, .. }
                if target.rsplit('/').next().is_some_and(|n| n.starts_with("user.")) =>
            {
                Some(contents.clone())
            }
            _ => None,
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct Run {
    stdout: String,
    stderr: String,
    outcome: Option<Outcome>,
    limit: Option<LimitHit>,
    channel: Option<String>,
}

impl Run {
    /// Does what one line says; false when the run ends there.
    fn obey(&mut self, word: &str, rest: &str, spec: &SandboxSpec) -> bool {
        match word {
            "echo" => self.stdout.push_str(&format!("{rest}\n")),
            "warn" => self.stderr.push_str(&format!("{rest}\n")),
            "cat" => self.stdout.push_str(&spec.stdin),
            "exit" => self.outcome = Some(Outcome::Exited { code: rest.parse().expect("exit takes a number") }),
            "return" => self.channel = Some(format!(r#"{{"return_value": {rest}}}"#)),
            "raise" => {
                let (kind, message) = rest.split_once(' ').unwrap_or((rest, ""));
                let error = serde_json::json!({ "type": kind, "message": message, "traceback": "" });
                self.channel = Some(serde_json::json!({ "error": error }).to_string());
                self.outcome = Some(Outcome::Exited { code: 1 });
            }
            "write" => {
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                std::fs::write(workspace_of(spec).join(name), text).expect("write into the workspace");
            }
            "hang" => self.outcome = Some(Outcome::TimedOut),
            "block" => self.outcome = Some(Outcome::Cancelled),
            "oom" => {
                self.outcome = Some(Outcome::Signaled { signal: 9 });
                self.limit = Some(LimitHit::Memory);
            }
            "unstartable" => {
                self.outcome = Some(Outcome::SetupFailed {
                    stage: "mount /proc".into(),
                    message: "Operation not permitted".into(),
                })
            }
            _ => {}
        }
        self.outcome.is_none()
    }

    fn output(self) -> RunOutput {
        let captured =
            |text: String| Captured { total_bytes: text.len() as u64, bytes: text.into_bytes(), truncated: false };
        RunOutput {
            report: SandboxReport {
                outcome: self.outcome.unwrap_or(Outcome::Exited { code: 0 }),
                wall_time_ms: 12.0,
                cpu_time_ms: 3.0,
                peak_memory_kb: 2048,
                channel: self.channel,
                channel_truncated: false,
                full_filesystems: Vec::new(),
            },
            stdout: captured(self.stdout),
            stderr: captured(self.stderr),
            limit: self.limit,
        }
    }
}

/// The host directory mounted as the run's workspace.
pub fn workspace_of(spec: &SandboxSpec) -> std::path::PathBuf {
    spec.mounts
        .iter()
        .find_map(|mount| match mount {
            Mount::Bind { source, target, .. } if target == WORKSPACE => Some(source.into()),
            _ => None,
        })
        .expect("the workspace is mounted")
}

/// What the embedded store keeps of executions, in memory.
#[derive(Default)]
pub struct MemoryRecorder {
    records: Mutex<HashMap<String, ExecutionRecord>>,
}

impl ExecutionRecorder for MemoryRecorder {
    fn started(&self, execution: &StartedExecution) -> Result<(), ExecuteError> {
        let mut records = self.records.lock().unwrap();
        match records.get(&execution.execution_id) {
            Some(record) if record.tenant_id != execution.tenant_id => {
                return Err(ExecuteError::IdTaken(execution.execution_id.clone()))
            }
            Some(record) if record.state == ExecutionState::Running => {
                return Err(ExecuteError::AlreadyRunning(execution.execution_id.clone()))
            }
            _ => {}
        }
        let record = ExecutionRecord {
            execution_id: execution.execution_id.clone(),
            state: ExecutionState::Running,
            language: execution.language,
            started_at: executor::recorder::rfc3339(execution.started_at_ms),
            finished_at: None,
            tenant_id: execution.tenant_id.clone(),
            scope: execution.scope.clone(),
            result: None,
        };
        records.insert(execution.execution_id.clone(), record);
        Ok(())
    }

    fn finished(&self, result: &ExecutionResult) -> Result<(), RecordError> {
        let mut records = self.records.lock().unwrap();
        let started = records.get_mut(&result.execution_id);
        let record = started.ok_or_else(|| RecordError::new(std::io::Error::other("finished before it started")))?;
        record.state = ExecutionState::Finished;
        record.finished_at = Some(executor::recorder::rfc3339(executor::recorder::now_ms()));
        let json = serde_json::to_string(result).map_err(RecordError::new)?;
        record.result =
            Some(ExactJson::parse(&json).map_err(|e| RecordError::new(std::io::Error::other(e.to_string())))?);
        Ok(())
    }

    fn lookup(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, RecordError> {
        Ok(self.records.lock().unwrap().get(execution_id).cloned())
    }
}
