//! The daemon side: starts the init child for one spec and collects what comes back.
//!
//! The init child is this daemon's own executable re-executed with [`INIT_ARG`], so all
//! namespace work happens in a fresh single-threaded process, never in a fork of the async
//! runtime.

mod capture;
mod report;
mod supervise;

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::net::UnixStream;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::cgroup;
use crate::init::INIT_ARG;
use crate::spec::{SandboxReport, SandboxSpec};
use supervise::supervise;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The executable that understands [`INIT_ARG`] (the daemon's own binary).
    pub init_exe: PathBuf,
    /// Bytes kept of each of stdout and stderr; the rest is read and dropped.
    pub max_output_bytes: u64,
    /// Cancelling it kills the sandbox at once; the run ends as [`Outcome::Cancelled`].
    pub cancel: CancellationToken,
    /// Gives each run its own cgroup with the spec's memory and process limits.
    pub cgroups: Option<Arc<cgroup::Manager>>,
}

/// A limit the run ran into, as the daemon saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// The kernel killed a process of the run for passing its memory limit.
    Memory,
    /// The run tried to start more processes than allowed; it was stopped.
    Processes,
    /// The run wrote far more output than is kept; it was stopped.
    Output,
    /// The program failed with a size-capped filesystem of the sandbox full, or was killed
    /// for writing a file past the largest size allowed.
    Disk,
}

/// One stream of the program's output, as much of it as the cap allows.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// Everything the program wrote, kept or not.
    pub total_bytes: u64,
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub struct RunOutput {
    pub report: SandboxReport,
    pub stdout: Captured,
    pub stderr: Captured,
    pub limit: Option<LimitHit>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start the sandbox launcher {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("sandbox launcher: {0}")]
    Protocol(String),
}

/// Runs `spec` in a fresh sandbox and waits for all of it to end.
pub async fn run(spec: &SandboxSpec, options: &RunOptions) -> Result<RunOutput, RunError> {
    run_with_handoff(spec, options, None).await
}

/// [`run`], handing `handoff` to the launcher with the spec; the program finds it at
/// [`SandboxSpec::session_fd`].
pub async fn run_with_handoff(
    spec: &SandboxSpec,
    options: &RunOptions,
    handoff: Option<OwnedFd>,
) -> Result<RunOutput, RunError> {
    let spawn_err = |e| RunError::Spawn(options.init_exe.display().to_string(), e);
    let (ours, theirs) = StdUnixStream::pair().map_err(spawn_err)?;
    let mut child = Command::new(&options.init_exe)
        // What the code sees of its pid 1: not where the daemon is installed.
        .arg0("sandbox-init")
        .arg(INIT_ARG)
        .env_clear()
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_err)?;
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    ours.set_nonblocking(true).map_err(protocol)?;
    let control = UnixStream::from_std(ours).map_err(protocol)?;
    let stdout: Stream = Box::new(child.stdout.take().ok_or_else(|| RunError::Protocol("no stdout".into()))?);
    let stderr: Stream = Box::new(child.stderr.take().ok_or_else(|| RunError::Protocol("no stderr".into()))?);
    let launcher = LauncherProcess::Executed(child);
    supervise(spec, options, launcher, control, [stdout, stderr], handoff.into_iter().collect()).await
}

/// Runs `spec` in a sandbox whose launcher `zygote` forks (see [`crate::zygote`]); the
/// program is the zygote's interpreter, resumed. `handed` go with the spec (see
/// [`crate::init::fork_entry`]).
pub async fn run_forked(
    zygote: &crate::zygote::ZygoteLink,
    spec: &SandboxSpec,
    options: &RunOptions,
    handed: Vec<OwnedFd>,
) -> Result<RunOutput, RunError> {
    let forked = zygote.fork_launcher().map_err(|e| RunError::Spawn("zygote".into(), e))?;
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    let control = UnixStream::from_std(forked.control).map_err(protocol)?;
    let greeting = tokio::time::timeout(GREETING_WAIT, crate::zygote::greeting(&control)).await;
    // Until the greeting nothing of the run has started: a failure is the zygote's.
    let unborn = |why: String| RunError::Spawn("zygote".into(), std::io::Error::other(why));
    let pid = match greeting {
        Ok(Ok(pid)) => pid,
        Ok(Err(e)) => return Err(unborn(format!("its fork did not greet: {e}"))),
        Err(_) => return Err(unborn("it did not fork in time".into())),
    };
    let process = crate::zygote::Forked::open(pid).map_err(protocol)?;
    let stdout: Stream = Box::new(tokio::net::unix::pipe::Receiver::from_owned_fd(forked.stdout).map_err(protocol)?);
    let stderr: Stream = Box::new(tokio::net::unix::pipe::Receiver::from_owned_fd(forked.stderr).map_err(protocol)?);
    supervise(spec, options, LauncherProcess::Forked(process), control, [stdout, stderr], handed).await
}

/// How long a zygote may take to fork a launcher and hear from it.
const GREETING_WAIT: Duration = Duration::from_secs(10);

type Stream = Box<dyn AsyncRead + Unpin + Send>;

/// The launcher of a run: executed by the daemon, or forked by a zygote.
enum LauncherProcess {
    Executed(tokio::process::Child),
    Forked(crate::zygote::Forked),
}

impl LauncherProcess {
    fn id(&self) -> Option<u32> {
        match self {
            LauncherProcess::Executed(child) => child.id(),
            LauncherProcess::Forked(forked) => Some(forked.pid()),
        }
    }

    fn start_kill(&mut self) {
        match self {
            LauncherProcess::Executed(child) => drop(child.start_kill()),
            LauncherProcess::Forked(forked) => forked.kill(),
        }
    }

    async fn wait(&mut self) {
        match self {
            LauncherProcess::Executed(child) => drop(child.wait().await),
            LauncherProcess::Forked(forked) => forked.exited().await,
        }
    }
}
