//! A live sandbox: a long-lived sandbox whose program serves on a socket handed to it at
//! start. Pre-started sandboxes, zygotes and session interpreters are each one of these with
//! their own protocol on the socket.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::Duration;

use sandbox::runner::{RunError, RunOutput};
use sandbox::SandboxSpec;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::driver;
use crate::launcher::Launcher;

/// How long a killed sandbox may take to be gone.
pub(crate) const KILL_WAIT: Duration = Duration::from_secs(10);
/// How long a program that failed to get ready may take to end by itself: its report says why.
const REPORT_WAIT: Duration = Duration::from_secs(2);

pub(crate) struct LiveSandbox {
    /// Kills the sandbox (a child of its owner's token).
    pub cancel: CancellationToken,
    /// The sandbox's launch, to its end. Awaited once: by [`LiveSandbox::report`], or by an
    /// owner that then lets the sandbox go.
    pub task: JoinHandle<Result<RunOutput, RunError>>,
    /// Set once `task`'s end has been awaited.
    reported: bool,
}

impl LiveSandbox {
    /// Starts the sandbox of `spec` through `launcher` with one end of a fresh socket pair
    /// (at the program's [`SandboxSpec::session_fd`]), keeping at most `max_output_bytes` of
    /// each of its streams; returns it and the daemon's end. Nothing is started on an error.
    pub fn start(
        launcher: Arc<dyn Launcher>,
        spec: SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
    ) -> std::io::Result<(LiveSandbox, UnixStream)> {
        let (ours, theirs) = StdUnixStream::pair()?;
        ours.set_nonblocking(true)?;
        let ours = UnixStream::from_std(ours)?;
        let token = cancel.clone();
        let handoff = OwnedFd::from(theirs);
        let task = tokio::spawn(async move { launcher.launch(&spec, max_output_bytes, token, Some(handoff)).await });
        Ok((LiveSandbox { cancel, task, reported: false }, ours))
    }

    /// Waits at most `wait` for the program's [`driver::READY`] line on `socket`. When it does
    /// not come, the sandbox is ended and the error says why, with what its sandbox reported.
    pub async fn ready(&mut self, socket: &mut UnixStream, wait: Duration) -> Result<(), String> {
        let mut ready = [0u8; driver::READY.len()];
        match tokio::time::timeout(wait, socket.read_exact(&mut ready)).await {
            Ok(Ok(_)) if &ready == driver::READY => Ok(()),
            Ok(Ok(_)) => Err(self.failed("answered something else than ready").await),
            Ok(Err(e)) => Err(self.failed(&format!("ended before it was ready: {e}")).await),
            Err(_) => Err(self.failed("not ready in time").await),
        }
    }

    /// Ends a sandbox that could not get ready: `why`, then its outcome and stderr.
    pub async fn failed(&mut self, why: &str) -> String {
        // A program that ended says why in its report: give the report a moment.
        let output = match self.report(REPORT_WAIT).await {
            Some(output) => Some(output),
            None => self.kill().await,
        };
        self.cancel.cancel();
        let output = output
            .map(|o| format!("{:?} {}", o.report.outcome, String::from_utf8_lossy(&o.stderr.bytes).trim()))
            .unwrap_or_default();
        format!("{why}: {output}")
    }

    /// Whether the sandbox is still running.
    pub fn alive(&self) -> bool {
        !self.reported && !self.task.is_finished()
    }

    /// Kills the sandbox and waits (at most [`KILL_WAIT`]) for what it reported.
    pub async fn kill(&mut self) -> Option<RunOutput> {
        self.cancel.cancel();
        self.report(KILL_WAIT).await
    }

    /// What the sandbox reported, if it ends within `wait` (once: `None` after that).
    pub async fn report(&mut self, wait: Duration) -> Option<RunOutput> {
        if self.reported {
            return None;
        }
        let joined = tokio::time::timeout(wait, &mut self.task).await.ok()?;
        self.reported = true;
        match joined {
            Ok(Ok(output)) => Some(output),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "a live sandbox's launcher failed");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "a live sandbox's task failed");
                None
            }
        }
    }
}
