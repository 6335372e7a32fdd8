//! The daemon side: starts the init child for one spec and collects what comes back.
//!
//! The init child is this daemon's own executable re-executed with [`INIT_ARG`], so all
//! namespace work happens in a fresh single-threaded process, never in a fork of the async
//! runtime.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::cgroup::{self, attach};
use crate::init::INIT_ARG;
use crate::spec::{Outcome, SandboxReport, SandboxSpec};

/// How long past the spec's wall-clock limit the daemon waits for the launcher before it
/// kills it itself (the launcher enforces the limit; this only guards against a stuck one).
const BACKSTOP: Duration = Duration::from_secs(10);

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

/// The part of a run common to both launchers: cgroup, spec, output, limits, report.
async fn supervise(
    spec: &SandboxSpec,
    options: &RunOptions,
    mut child: LauncherProcess,
    control: UnixStream,
    [stdout, stderr]: [Stream; 2],
    handed: Vec<OwnedFd>,
) -> Result<RunOutput, RunError> {
    let started = Instant::now();
    // The launcher waits for its spec: nothing of the run starts before it is in its cgroup.
    let cgroup = match attach::attach(options.cgroups.as_deref(), &spec.limits, child.id()) {
        Ok(cgroup) => cgroup,
        Err(message) => {
            child.start_kill();
            child.wait().await;
            let outcome = Outcome::SetupFailed { stage: "cgroup".into(), message };
            let report = ended(outcome, started.elapsed());
            return Ok(RunOutput { report, stdout: Captured::default(), stderr: Captured::default(), limit: None });
        }
    };
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    let mut payload = serde_json::to_vec(spec).map_err(|e| RunError::Protocol(e.to_string()))?;
    if !handed.is_empty() {
        // One byte into an empty socket buffer never waits.
        let fds: Vec<_> = handed.iter().map(|fd| fd.as_fd()).collect();
        let sent = crate::handoff::send(control.as_fd(), &payload[..1], &fds).map_err(protocol)?;
        payload.drain(..sent);
    }
    drop(handed);
    let cap = options.max_output_bytes;
    let flood = Flood::new(cap);
    let stdout = capture(Some(stdout), cap, &flood);
    let stderr = capture(Some(stderr), cap, &flood);
    let limit = Duration::from_millis(spec.limits.wall_time_ms) + BACKSTOP;
    // Killing the launcher takes the sandbox with it (its pid 1 dies with its parent), which
    // also ends the output streams.
    let ending = async {
        tokio::select! {
            report = tokio::time::timeout(limit, exchange(control, payload)) => match report {
                Ok(report) => Ending::Report(report),
                // The launcher enforces the limit: one this late has stopped answering.
                Err(_) => {
                    child.start_kill();
                    Ending::Lost
                }
            },
            _ = options.cancel.cancelled() => {
                child.start_kill();
                Ending::Cancelled
            }
            _ = flood.cut.cancelled() => {
                child.start_kill();
                Ending::Cut(LimitHit::Output)
            }
            _ = attach::process_limit_hit(cgroup.as_ref()) => {
                child.start_kill();
                Ending::Cut(LimitHit::Processes)
            }
        }
    };
    let (ending, stdout, stderr) = tokio::join!(ending, stdout, stderr);
    child.wait().await;
    let usage = attach::finish(cgroup).await;
    // Out of memory with nothing of the code left to kill (its files in /tmp hold the
    // memory), the kernel killed the sandbox's init or launcher: the limit ended it.
    let oom = usage.is_some_and(|u| u.oom_kills > 0);
    let (mut report, cut) = match ending {
        Ending::Cancelled => (ended(Outcome::Cancelled, started.elapsed()), None),
        Ending::Cut(hit) => (ended(Outcome::Signaled { signal: libc::SIGKILL }, started.elapsed()), Some(hit)),
        Ending::Report(Ok(raw)) if raw.is_empty() && !oom => (ended(Outcome::Lost, started.elapsed()), None),
        Ending::Lost => (ended(Outcome::Lost, started.elapsed()), None),
        Ending::Report(raw) => match raw.and_then(|raw| parse_report(&raw)) {
            Ok(report) => (report, None),
            Err(_) if oom => {
                (ended(Outcome::Signaled { signal: libc::SIGKILL }, started.elapsed()), Some(LimitHit::Memory))
            }
            Err(e) => return Err(e),
        },
    };
    let limit = cut.or_else(|| limit_hit(&report, usage.as_ref()));
    if let Some(usage) = &usage {
        apply_usage(&mut report, usage);
    }
    Ok(RunOutput { report, stdout, stderr, limit })
}

fn parse_report(raw: &[u8]) -> Result<SandboxReport, RunError> {
    serde_json::from_slice(raw)
        .map_err(|e| RunError::Protocol(format!("unreadable report ({e}): {}", String::from_utf8_lossy(raw))))
}

enum Ending {
    Report(Result<Vec<u8>, RunError>),
    Cancelled,
    /// The daemon stopped the run at a limit the launcher does not watch.
    Cut(LimitHit),
    /// The launcher stopped answering, and was killed.
    Lost,
}

/// A report for a run the daemon ended itself.
fn ended(outcome: Outcome, elapsed: Duration) -> SandboxReport {
    SandboxReport {
        outcome,
        wall_time_ms: elapsed.as_secs_f64() * 1000.0,
        cpu_time_ms: 0.0,
        peak_memory_kb: 0,
        channel: None,
        channel_truncated: false,
        full_filesystems: Vec::new(),
    }
}

/// The limit that explains how a run the launcher reported on ended, if one does. A run
/// that timed out stays a timeout; a run that reached its process limit counts as stopped
/// by it even if it exited before the daemon saw it; memory and disk explain failures only.
fn limit_hit(report: &SandboxReport, usage: Option<&cgroup::Usage>) -> Option<LimitHit> {
    let usage = usage.copied().unwrap_or_default();
    let failed = match report.outcome {
        Outcome::Exited { code } => code != 0,
        Outcome::Signaled { .. } | Outcome::Lost => true,
        // A limit too small for the sandbox itself (an allocation or a fork of its setup
        // refused) is that limit, not a fault of the host.
        Outcome::SetupFailed { .. } if usage.memory_limit_hits > 0 => return Some(LimitHit::Memory),
        Outcome::SetupFailed { .. } if usage.pids_limit_hits > 0 => return Some(LimitHit::Processes),
        _ => return None,
    };
    if usage.pids_limit_hits > 0 {
        Some(LimitHit::Processes)
    } else if failed && usage.oom_kills > 0 {
        Some(LimitHit::Memory)
    } else if report.outcome == (Outcome::Signaled { signal: libc::SIGXFSZ })
        || (failed && !report.full_filesystems.is_empty())
    {
        Some(LimitHit::Disk)
    } else {
        None
    }
}

/// The cgroup counts every process of the run, however short-lived: its figures replace
/// the launcher's getrusage ones where the kernel has them.
fn apply_usage(report: &mut SandboxReport, usage: &cgroup::Usage) {
    if let Some(bytes) = usage.peak_memory_bytes {
        report.peak_memory_kb = bytes / 1024;
    }
    if let Some(usec) = usage.cpu_usec {
        report.cpu_time_ms = usec as f64 / 1000.0;
    }
}

/// Output far past the cap is not worth reading on: the run is stopped once both streams
/// together pass twice the cap and a margin, so a program that prints somewhat more than
/// is kept still ends on its own.
struct Flood {
    total: AtomicU64,
    limit: u64,
    cut: CancellationToken,
}

impl Flood {
    const MARGIN: u64 = 16 * 1024 * 1024;

    fn new(cap: u64) -> Flood {
        let limit = cap.saturating_mul(2).saturating_add(Self::MARGIN);
        Flood { total: AtomicU64::new(0), limit, cut: CancellationToken::new() }
    }

    fn add(&self, n: u64) {
        if self.total.fetch_add(n, Ordering::Relaxed) + n > self.limit {
            self.cut.cancel();
        }
    }
}

async fn exchange(mut control: UnixStream, payload: Vec<u8>) -> Result<Vec<u8>, RunError> {
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    control.write_all(&payload).await.map_err(protocol)?;
    control.shutdown().await.map_err(protocol)?;
    let mut raw = Vec::new();
    // The spec is in: a launcher killed from here on may reset the connection, which ends
    // its report as an end of file would (empty: the sandbox was lost).
    let _ = control.read_to_end(&mut raw).await;
    Ok(raw)
}

/// Reads a stream to its end, keeping at most `cap` bytes, so a flood of output costs the
/// daemon a fixed amount of memory and never blocks the writer.
async fn capture(stream: Option<impl AsyncRead + Unpin>, cap: u64, flood: &Flood) -> Captured {
    let mut out = Captured::default();
    let Some(mut stream) = stream else { return out };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.total_bytes += n as u64;
                flood.add(n as u64);
                let room = cap.saturating_sub(out.bytes.len() as u64) as usize;
                out.bytes.extend_from_slice(&chunk[..n.min(room)]);
                out.truncated |= n > room;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup_failed() -> SandboxReport {
        ended(Outcome::SetupFailed { stage: "unshare namespaces".into(), message: "ENOMEM".into() }, Duration::ZERO)
    }

    #[test]
    fn a_setup_refused_at_the_runs_own_limit_is_that_limit() {
        let at_memory = cgroup::Usage { memory_limit_hits: 3, ..Default::default() };
        assert_eq!(limit_hit(&setup_failed(), Some(&at_memory)), Some(LimitHit::Memory));
        let at_processes = cgroup::Usage { pids_limit_hits: 1, ..Default::default() };
        assert_eq!(limit_hit(&setup_failed(), Some(&at_processes)), Some(LimitHit::Processes));
        assert_eq!(limit_hit(&setup_failed(), Some(&cgroup::Usage::default())), None);
        assert_eq!(limit_hit(&setup_failed(), None), None);
    }
}
