//! The two ways a run's launcher comes to be: executed by the daemon, or forked by a zygote.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::UnixStream;
use tokio::process::Command;

use super::output::{RunError, RunOptions, RunOutput};
use super::process::{LauncherProcess, Stream};
use super::supervise::supervise;
use crate::init::INIT_ARG;
use crate::spec::SandboxSpec;

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
    run_with_handed(spec, options, handoff.into_iter().collect()).await
}

/// [`run`], handing `handed` to the launcher with the spec, in their order (see
/// [`crate::init::launcher`]: the session socket, the mount, the egress door's socket).
pub async fn run_with_handed(
    spec: &SandboxSpec,
    options: &RunOptions,
    handed: Vec<OwnedFd>,
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
    supervise(spec, options, launcher, control, [stdout, stderr], handed).await
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
