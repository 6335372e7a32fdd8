//! A live sandbox: a long-lived sandbox whose program serves on a socket handed to it at
//! start. Pre-started sandboxes, zygotes and session interpreters are each one of these with
//! their own protocol on the socket.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::Duration;

use sandbox::runner::{Adjustable, OutputTap, RunError, RunOutput};
use sandbox::zygote::ZygoteLink;
use sandbox::SandboxSpec;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::driver;
use crate::launcher::{Launcher, Origin, OutputCap, SandboxStart};

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
    /// Where its output goes as it comes, once set (a pre-started sandbox's run sets it).
    pub tap: OutputTap,
    /// What must live as long as it does (the zygote a session's sandbox was forked from).
    keeps: Option<Arc<dyn std::any::Any + Send + Sync>>,
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
        LiveSandbox::start_handing(launcher, spec, OutputCap::Fixed(max_output_bytes), cancel, Vec::new())
    }

    /// [`LiveSandbox::start`], with `more` going to the launcher after the socket (an egress
    /// door's socket), and its output cap `output` (an adjustable one learns its cgroup).
    pub fn start_handing(
        launcher: Arc<dyn Launcher>,
        spec: SandboxSpec,
        output: OutputCap,
        cancel: CancellationToken,
        more: Vec<OwnedFd>,
    ) -> std::io::Result<(LiveSandbox, UnixStream)> {
        let (ours, theirs) = StdUnixStream::pair()?;
        ours.set_nonblocking(true)?;
        let ours = UnixStream::from_std(ours)?;
        let token = cancel.clone();
        let handed = std::iter::once(OwnedFd::from(theirs)).chain(more).collect();
        let tap = OutputTap::default();
        let tap_to = tap.clone();
        let task = tokio::spawn(async move {
            let origin = Origin::Fresh;
            launcher.start(SandboxStart { spec: &spec, origin, output, cancel: token, handed, tap: tap_to }).await
        });
        Ok((LiveSandbox { cancel, task, reported: false, tap, keeps: None }, ours))
    }

    /// [`LiveSandbox::start_ready`] for a sandbox whose limits and output cap `adjust` changes
    /// after its start (a pre-started one, at its claim).
    pub async fn start_adjustable(
        launcher: Arc<dyn Launcher>,
        spec: SandboxSpec,
        adjust: Arc<Adjustable>,
        cancel: CancellationToken,
        wait: Duration,
    ) -> Result<(LiveSandbox, UnixStream), String> {
        let (ours, theirs) = StdUnixStream::pair().map_err(|e| format!("socket: {e}"))?;
        let ours = ours.set_nonblocking(true).and_then(|()| UnixStream::from_std(ours));
        let mut socket = ours.map_err(|e| format!("socket: {e}"))?;
        let token = cancel.clone();
        let handed = vec![OwnedFd::from(theirs)];
        let tap = OutputTap::default();
        let output_tap = tap.clone();
        let task = tokio::spawn(async move {
            let output = OutputCap::Adjustable(adjust);
            let origin = Origin::Fresh;
            launcher.start(SandboxStart { spec: &spec, origin, output, cancel: token, handed, tap: output_tap }).await
        });
        let mut live = LiveSandbox { cancel, task, reported: false, tap, keeps: None };
        live.ready(&mut socket, wait).await?;
        Ok((live, socket))
    }

    /// Starts the sandbox of `spec` in a fork of `zygote` (a forked spec), handing it one end
    /// of a fresh socket pair (at [`SandboxSpec::session_fd`], or the claim socket of a
    /// sandbox built ahead of its run) and then `handed`; returns it and the daemon's end.
    /// The zygote is kept while the sandbox lives.
    pub fn start_forked<Z: AsRef<ZygoteLink> + Send + Sync + 'static>(
        launcher: Arc<dyn Launcher>,
        zygote: Arc<Z>,
        spec: SandboxSpec,
        handed: Vec<OwnedFd>,
        output: OutputCap,
        cancel: CancellationToken,
    ) -> std::io::Result<(LiveSandbox, UnixStream)> {
        let (ours, theirs) = StdUnixStream::pair()?;
        ours.set_nonblocking(true)?;
        let ours = UnixStream::from_std(ours)?;
        let token = cancel.clone();
        let fds = std::iter::once(OwnedFd::from(theirs)).chain(handed).collect();
        let tap = OutputTap::default();
        let tap_to = tap.clone();
        let task = tokio::spawn(async move {
            let origin = Origin::Forked((*zygote).as_ref());
            launcher.start(SandboxStart { spec: &spec, origin, output, cancel: token, handed: fds, tap: tap_to }).await
        });
        Ok((LiveSandbox { cancel, task, reported: false, tap, keeps: None }, ours))
    }

    /// [`LiveSandbox::start`], then [`LiveSandbox::ready`]: a sandbox whose program is ready
    /// (or why it is not, and the sandbox then ended).
    pub async fn start_ready(
        launcher: Arc<dyn Launcher>,
        spec: SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        wait: Duration,
    ) -> Result<(LiveSandbox, UnixStream), String> {
        let (mut live, mut socket) =
            LiveSandbox::start(launcher, spec, max_output_bytes, cancel).map_err(|e| format!("socket: {e}"))?;
        live.ready(&mut socket, wait).await?;
        Ok((live, socket))
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

    /// The sandbox, keeping `what` alive as long as it is kept.
    pub fn keeping(mut self, what: Arc<dyn std::any::Any + Send + Sync>) -> LiveSandbox {
        self.keeps = Some(what);
        self
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use sandbox::runner::Captured;
    use sandbox::{Outcome, SandboxReport};

    use super::*;
    use crate::launcher::LaunchFuture;

    /// A program that writes `greeting` on its socket, then waits to be killed, or ends at
    /// once with `stderr` when it `exits`.
    struct Greeter {
        greeting: &'static [u8],
        exits: bool,
    }

    fn output(outcome: Outcome, stderr: &str) -> RunOutput {
        let report = SandboxReport {
            outcome,
            wall_time_ms: 0.0,
            cpu_time_ms: 0.0,
            peak_memory_kb: 0,
            channel: None,
            channel_truncated: false,
            full_filesystems: Vec::new(),
        };
        let captured = |bytes: &str| Captured {
            bytes: bytes.as_bytes().to_vec(),
            total_bytes: bytes.len() as u64,
            truncated: false,
        };
        RunOutput { report, stdout: captured(""), stderr: captured(stderr), limit: None }
    }

    impl Launcher for Greeter {
        fn start<'a>(&'a self, start: SandboxStart<'a>) -> LaunchFuture<'a> {
            let SandboxStart { origin, cancel, handed, .. } = start;
            assert!(matches!(origin, Origin::Fresh), "a live sandbox of these tests is never forked");
            Box::pin(async move {
                let mut socket = StdUnixStream::from(handed.into_iter().next().expect("a handed socket"));
                socket.write_all(self.greeting).unwrap();
                if self.exits {
                    drop(socket);
                    return Ok(output(Outcome::Exited { code: 1 }, " boom\n"));
                }
                cancel.cancelled().await;
                Ok(output(Outcome::Cancelled, ""))
            })
        }
    }

    fn spec() -> SandboxSpec {
        serde_json::from_value(serde_json::json!({
            "argv": ["/bin/true"], "env": [], "cwd": "/", "hostname": "sandbox", "mounts": [], "stdin": "",
            "identity": {"uid": 1000, "gid": 1000, "host_uid": 1000, "host_gid": 1000},
            "limits": {"wall_time_ms": 1000, "data_bytes": null, "memory_bytes": null, "file_size_bytes": 1,
                       "open_files": 1, "processes": 1, "pids": null, "channel_bytes": 1},
            "channel_fd": null, "session_fd": 3, "confinement": {"seccomp": false, "landlock": null},
        }))
        .unwrap()
    }

    async fn started(greeting: &'static [u8], exits: bool, wait: Duration) -> (LiveSandbox, Result<(), String>) {
        let launcher = Arc::new(Greeter { greeting, exits });
        let (mut live, mut socket) = LiveSandbox::start(launcher, spec(), 1024, CancellationToken::new()).unwrap();
        let ready = live.ready(&mut socket, wait).await;
        (live, ready)
    }

    #[tokio::test]
    async fn a_ready_sandbox_lives_until_it_is_killed() {
        let (mut live, ready) = started(driver::READY, false, Duration::from_secs(5)).await;
        assert_eq!(ready, Ok(()));
        assert!(live.alive());
        let output = live.kill().await.expect("a report");
        assert_eq!(output.report.outcome, Outcome::Cancelled);
        assert!(!live.alive());
        assert!(live.kill().await.is_none(), "the report is taken once");
    }

    #[tokio::test]
    async fn a_sandbox_that_is_not_ready_is_ended_with_why_and_its_report() {
        let (live, ready) = started(b"hello\n", false, Duration::from_secs(5)).await;
        assert_eq!(ready, Err("answered something else than ready: Cancelled ".to_string()));
        assert!(live.cancel.is_cancelled() && !live.alive());
        let (_, ready) = started(b"", true, Duration::from_secs(5)).await;
        let why = ready.unwrap_err();
        assert!(why.starts_with("ended before it was ready: ") && why.ends_with(": Exited { code: 1 } boom"), "{why}");
        let (_, ready) = started(b"", false, Duration::from_millis(50)).await;
        assert_eq!(ready, Err("not ready in time: Cancelled ".to_string()));
    }
}
