//! A launcher that answers from the spec alone, and a store in memory.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::Duration;

use sandbox::runner::{Captured, RunError, RunOutput};
use sandbox::{Mount, Outcome, SandboxReport, SandboxSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::launcher::{LaunchFuture, Launcher, Origin, SandboxStart};
use crate::recorder::{rfc3339, ExecutionRecord, ExecutionRecorder, ExecutionState, RecordError, StartedExecution};
use crate::{ExactJson, ExecuteError, ExecutionResult};

/// Runs the "code" of a spec as a few words, one command a line:
/// `exit N`, `echo-stdin`, `cat FILE` (from the workspace), `write FILE TEXT` (into it),
/// `hang` (until the wall time passes, as the real launcher stops it, or until cancelled),
/// `cannot-start` (the sandbox's setup fails). Started with a handed socket, it is a
/// pre-started driver: it says `ready`, reads its run, and says `taken` (or, for code that
/// says `refuse-warm`, something else) before it runs it.
pub(super) struct FakeLauncher;

impl FakeLauncher {
    async fn cold(spec: &SandboxSpec, cancel: CancellationToken) -> RunOutput {
        let code = spec.mounts.iter().find_map(|m| match m {
            Mount::File { target, contents, .. } if target.starts_with("/sandbox/user.") => Some(contents.clone()),
            _ => None,
        });
        run(spec, &code.unwrap_or_default(), cancel).await
    }

    async fn pre_started(spec: &SandboxSpec, cancel: CancellationToken, handed: OwnedFd) -> RunOutput {
        let socket = std::os::unix::net::UnixStream::from(handed);
        socket.set_nonblocking(true).unwrap();
        let mut socket = tokio::net::UnixStream::from_std(socket).unwrap();
        socket.write_all(b"ready\n").await.unwrap();
        let mut message = Vec::new();
        tokio::select! {
            read = socket.read_to_end(&mut message) => read.map(|_| ()).unwrap(),
            _ = cancel.cancelled() => return output(Outcome::Cancelled, Vec::new()),
        }
        let message: serde_json::Value = serde_json::from_slice(&message).expect("the run message is JSON");
        let code = message["code"].as_str().expect("the run message has the code").to_string();
        if code.contains("refuse-warm") {
            socket.write_all(b"nope!\n").await.unwrap();
            return output(Outcome::Exited { code: 0 }, Vec::new());
        }
        socket.write_all(b"taken\n").await.unwrap();
        run(spec, &code, cancel).await
    }
}

async fn run(spec: &SandboxSpec, code: &str, cancel: CancellationToken) -> RunOutput {
    let workspace = spec.mounts.iter().find_map(|m| match m {
        Mount::Bind { source, target, .. } if target == crate::spec::rootfs::WORKSPACE => Some(source.clone()),
        _ => None,
    });
    let workspace = std::path::PathBuf::from(workspace.expect("the run's workspace is bound"));
    let mut stdout = Vec::new();
    let mut outcome = Outcome::Exited { code: 0 };
    for line in code.lines() {
        let words: Vec<&str> = line.splitn(3, ' ').collect();
        match words.as_slice() {
            ["exit", code] => {
                outcome = Outcome::Exited { code: code.parse().expect("an exit code") };
                break;
            }
            ["echo-stdin"] => stdout.extend_from_slice(spec.stdin.as_bytes()),
            ["cat", name] => stdout.extend(std::fs::read(workspace.join(name)).unwrap_or_default()),
            ["write", name, text] => std::fs::write(workspace.join(name), text).expect("write into the workspace"),
            ["hang"] => {
                outcome = tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(spec.limits.wall_time_ms)) => Outcome::TimedOut,
                    _ = cancel.cancelled() => Outcome::Cancelled,
                };
                break;
            }
            ["cannot-start"] => {
                outcome = Outcome::SetupFailed { stage: "mount".into(), message: "no such device".into() };
                break;
            }
            ["refuse-warm"] => {}
            other => panic!("the fake launcher does not know {other:?}"),
        }
    }
    output(outcome, stdout)
}

fn output(outcome: Outcome, stdout: Vec<u8>) -> RunOutput {
    let report = SandboxReport {
        outcome,
        wall_time_ms: 1.5,
        cpu_time_ms: 1.0,
        peak_memory_kb: 2048,
        channel: None,
        channel_truncated: false,
        full_filesystems: Vec::new(),
    };
    let total_bytes = stdout.len() as u64;
    RunOutput {
        report,
        stdout: Captured { bytes: stdout, total_bytes, truncated: false },
        stderr: Captured::default(),
        limit: None,
    }
}

impl Launcher for FakeLauncher {
    fn start<'a>(&'a self, start: SandboxStart<'a>) -> LaunchFuture<'a> {
        let SandboxStart { spec, origin, cancel, handed, .. } = start;
        Box::pin(async move {
            if matches!(origin, Origin::Forked(_)) {
                return Err(RunError::Protocol("these tests start no zygote".into()));
            }
            Ok(match handed.into_iter().next() {
                Some(handed) => FakeLauncher::pre_started(spec, cancel, handed).await,
                None => FakeLauncher::cold(spec, cancel).await,
            })
        })
    }
}

/// What a store keeps of executions, in memory.
#[derive(Default)]
pub(super) struct Recorded {
    pub started: Mutex<HashMap<String, StartedExecution>>,
    pub finished: Mutex<HashMap<String, ExecutionResult>>,
}

impl ExecutionRecorder for Recorded {
    fn started(&self, execution: &StartedExecution) -> Result<(), ExecuteError> {
        self.started.lock().unwrap().insert(execution.execution_id.clone(), execution.clone());
        Ok(())
    }

    fn finished(&self, result: &ExecutionResult) -> Result<(), RecordError> {
        self.finished.lock().unwrap().insert(result.execution_id.clone(), result.clone());
        Ok(())
    }

    fn lookup(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, RecordError> {
        let Some(started) = self.started.lock().unwrap().get(execution_id).cloned() else { return Ok(None) };
        let result = self.finished.lock().unwrap().get(execution_id).cloned();
        Ok(Some(ExecutionRecord {
            execution_id: started.execution_id,
            state: if result.is_some() { ExecutionState::Finished } else { ExecutionState::Running },
            language: started.language,
            started_at: rfc3339(started.started_at_ms),
            finished_at: result.as_ref().map(|_| rfc3339(started.started_at_ms)),
            tenant_id: started.tenant_id,
            scope: started.scope,
            result: result.map(|r| ExactJson::parse(&serde_json::to_string(&r).unwrap()).unwrap()),
        }))
    }
}
