//! A launcher that answers without a sandbox, so that everything of a run but the sandbox
//! itself (admission, workspace, files, the lifecycle, the warm pool's claim, artifacts, the
//! result, the record) is tested in-process.
//!
//! It reads the run's code from the spec (the `user.*` file mounted for the program), or,
//! for a sandbox started ahead of its run (one handed a socket), from the run message that
//! claims it, and answers what each line asks for:
//!
//! | line                 | the run                                                          |
//! |----------------------|------------------------------------------------------------------|
//! | `echo TEXT`          | writes `TEXT` and a newline to stdout                            |
//! | `warn TEXT`          | writes `TEXT` and a newline to stderr                            |
//! | `cat`                | copies its stdin to stdout                                       |
//! | `cat FILE`           | copies `FILE` of the workspace to stdout                         |
//! | `exit N`             | exits with code `N` (the default is 0)                           |
//! | `return JSON`        | sends `JSON` as the handler's return value on the channel       |
//! | `raise TYPE MESSAGE` | sends the error on the channel and exits with 1                  |
//! | `write NAME TEXT`    | writes `TEXT` to `NAME` in the workspace                         |
//! | `hang`               | runs until its wall time passes (as the real launcher stops it)  |
//! | `block`              | runs until it is cancelled (the daemon's shutdown)               |
//! | `oom`                | is killed by its memory limit                                    |
//! | `unstartable`        | has a sandbox that cannot be built (a host fault)                |
//! | `refuse-warm`        | a sandbox started ahead of it does not take it                   |
//!
//! Started with a handed socket, it is a pre-started driver: it says `ready`, reads its run,
//! and says `taken` (or, for code with `refuse-warm`, something else) before it runs it. A
//! service's start-up self-test (a shell `exit 0`) succeeds. It forks nothing: a zygote's
//! start is an error.

use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::Duration;

use sandbox::runner::{Captured, LimitHit, RunError, RunOutput};
use sandbox::{Mount, Outcome, SandboxReport, SandboxSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::launcher::{LaunchFuture, Launcher, Origin, SandboxStart};
use crate::spec::rootfs::WORKSPACE;

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

    /// A pre-started driver: ready, then the run that claims it, if it takes it.
    async fn pre_started(spec: &SandboxSpec, cancel: CancellationToken, handed: OwnedFd) -> RunOutput {
        let socket = std::os::unix::net::UnixStream::from(handed);
        socket.set_nonblocking(true).unwrap();
        let mut socket = tokio::net::UnixStream::from_std(socket).unwrap();
        socket.write_all(b"ready\n").await.unwrap();
        let mut message = Vec::new();
        tokio::select! {
            read = socket.read_to_end(&mut message) => read.map(|_| ()).unwrap(),
            _ = cancel.cancelled() => return Run::default().ended(Outcome::Cancelled),
        }
        let message: serde_json::Value = serde_json::from_slice(&message).expect("the run message is JSON");
        let code = message["code"].as_str().expect("the run message has the code").to_string();
        if code.contains("refuse-warm") {
            socket.write_all(b"nope!\n").await.unwrap();
            return Run::default().ended(Outcome::Exited { code: 0 });
        }
        socket.write_all(b"taken\n").await.unwrap();
        run(spec, &code, cancel).await
    }
}

impl Launcher for FakeLauncher {
    fn start<'a>(&'a self, start: SandboxStart<'a>) -> LaunchFuture<'a> {
        let SandboxStart { spec, origin, cancel, handed, .. } = start;
        Box::pin(async move {
            if matches!(origin, Origin::Forked(_)) {
                return Err(RunError::Protocol("the fake launcher forks nothing: these tests start no zygote".into()));
            }
            self.launched.lock().unwrap().push(spec.clone());
            Ok(match handed.into_iter().next() {
                Some(handed) => FakeLauncher::pre_started(spec, cancel, handed).await,
                None => run(spec, &code_of(spec), cancel).await,
            })
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

/// Runs `code` line by line until a line ends it.
async fn run(spec: &SandboxSpec, code: &str, cancel: CancellationToken) -> RunOutput {
    let mut run = Run::default();
    for line in code.lines() {
        let (word, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        if !run.obey(word, rest, spec, &cancel).await {
            break;
        }
    }
    run.output()
}

#[derive(Default)]
struct Run {
    stdout: Vec<u8>,
    stderr: String,
    outcome: Option<Outcome>,
    limit: Option<LimitHit>,
    channel: Option<String>,
}

impl Run {
    /// Does what one line says; false when the run ends there.
    async fn obey(&mut self, word: &str, rest: &str, spec: &SandboxSpec, cancel: &CancellationToken) -> bool {
        match word {
            "echo" => self.stdout.extend(format!("{rest}\n").into_bytes()),
            "warn" => self.stderr.push_str(&format!("{rest}\n")),
            "cat" if rest.is_empty() => self.stdout.extend(spec.stdin.as_bytes()),
            "cat" => self.stdout.extend(std::fs::read(workspace_of(spec).join(rest)).unwrap_or_default()),
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
            "hang" => {
                let wall_time = Duration::from_millis(spec.limits.wall_time_ms);
                self.outcome = Some(tokio::select! {
                    _ = tokio::time::sleep(wall_time) => Outcome::TimedOut,
                    _ = cancel.cancelled() => Outcome::Cancelled,
                });
            }
            "block" => {
                cancel.cancelled().await;
                self.outcome = Some(Outcome::Cancelled);
            }
            "oom" => {
                self.outcome = Some(Outcome::Signaled { signal: 9 });
                self.limit = Some(LimitHit::Memory);
            }
            "unstartable" => {
                let (stage, message) = ("mount /proc".into(), "Operation not permitted".into());
                self.outcome = Some(Outcome::SetupFailed { stage, message });
            }
            // `refuse-warm` is read by a pre-started driver; other lines (code of a real
            // language) do nothing.
            _ => {}
        }
        self.outcome.is_none()
    }

    fn ended(mut self, outcome: Outcome) -> RunOutput {
        self.outcome = Some(outcome);
        self.output()
    }

    fn output(self) -> RunOutput {
        let captured = |bytes: Vec<u8>| Captured { total_bytes: bytes.len() as u64, bytes, truncated: false };
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
            stderr: captured(self.stderr.into_bytes()),
            limit: self.limit,
        }
    }
}
