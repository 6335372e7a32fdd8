//! The daemon side: starts the init child for one spec and collects what comes back.
//!
//! The init child is this daemon's own executable re-executed with [`INIT_ARG`], so all
//! namespace work happens in a fresh single-threaded process, never in a fork of the async
//! runtime.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

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
    let mut payload = serde_json::to_vec(spec).map_err(|e| RunError::Protocol(e.to_string()))?;
    if let Some(fd) = handoff {
        // Still blocking: one byte into an empty socket buffer returns at once.
        let sent = crate::handoff::send(ours.as_fd(), &payload[..1], fd.as_fd()).map_err(protocol)?;
        payload.drain(..sent);
    }
    ours.set_nonblocking(true).map_err(protocol)?;
    let control = UnixStream::from_std(ours).map_err(protocol)?;
    let cap = options.max_output_bytes;
    let stdout = capture(child.stdout.take(), cap);
    let stderr = capture(child.stderr.take(), cap);
    let limit = Duration::from_millis(spec.limits.wall_time_ms) + BACKSTOP;
    let started = Instant::now();
    // Killing the launcher takes the sandbox with it (its pid 1 dies with its parent), which
    // also ends the output streams.
    let report = async {
        tokio::select! {
            report = tokio::time::timeout(limit, exchange(control, payload)) => match report {
                Ok(report) => Some(report),
                Err(_) => {
                    let _ = child.start_kill();
                    Some(Err(RunError::Protocol("did not finish in time and was killed".into())))
                }
            },
            _ = options.cancel.cancelled() => {
                let _ = child.start_kill();
                None
            }
        }
    };
    let (report, stdout, stderr) = tokio::join!(report, stdout, stderr);
    let _ = child.wait().await;
    let Some(report) = report else {
        let report = cancelled(started.elapsed());
        return Ok(RunOutput { report, stdout, stderr });
    };
    let raw = report?;
    let report = serde_json::from_slice(&raw)
        .map_err(|e| RunError::Protocol(format!("unreadable report ({e}): {}", String::from_utf8_lossy(&raw))))?;
    Ok(RunOutput { report, stdout, stderr })
}

fn cancelled(elapsed: Duration) -> SandboxReport {
    SandboxReport {
        outcome: Outcome::Cancelled,
        wall_time_ms: elapsed.as_secs_f64() * 1000.0,
        cpu_time_ms: 0.0,
        peak_memory_kb: 0,
        channel: None,
        channel_truncated: false,
    }
}

async fn exchange(mut control: UnixStream, payload: Vec<u8>) -> Result<Vec<u8>, RunError> {
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    control.write_all(&payload).await.map_err(protocol)?;
    control.shutdown().await.map_err(protocol)?;
    let mut raw = Vec::new();
    control.read_to_end(&mut raw).await.map_err(protocol)?;
    Ok(raw)
}

/// Reads a stream to its end, keeping at most `cap` bytes, so a flood of output costs the
/// daemon a fixed amount of memory and never blocks the writer.
async fn capture(stream: Option<impl AsyncRead + Unpin>, cap: u64) -> Captured {
    let mut out = Captured::default();
    let Some(mut stream) = stream else { return out };
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.total_bytes += n as u64;
                let room = cap.saturating_sub(out.bytes.len() as u64) as usize;
                out.bytes.extend_from_slice(&chunk[..n.min(room)]);
                out.truncated |= n > room;
            }
        }
    }
    out
}
