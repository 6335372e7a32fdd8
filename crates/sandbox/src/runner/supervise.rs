//! The part of a run common to both launchers: cgroup, spec, output, limits, report.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UnixStream;

use super::capture::{capture, exchange, Flood};
use super::output::{Captured, LimitHit, OutputStream, RunError, RunOptions, RunOutput};
use super::process::{LauncherProcess, Stream};
use super::report::{self, Ending};
use crate::cgroup::{attach, RunCgroup};
use crate::spec::{Outcome, SandboxSpec};

/// How long past the spec's wall-clock limit the daemon waits for the launcher before it
/// kills it itself (the launcher enforces the limit; this only guards against a stuck one).
const BACKSTOP: Duration = Duration::from_secs(10);

pub(super) async fn supervise(
    spec: &SandboxSpec,
    options: &RunOptions,
    mut child: LauncherProcess,
    control: UnixStream,
    [stdout, stderr]: [Stream; 2],
    handed: Vec<OwnedFd>,
) -> Result<RunOutput, RunError> {
    let started = Instant::now();
    // The launcher waits for its spec: nothing of the run starts before it is in its cgroup.
    let cgroup = match attach::attach_apart(options.cgroups.clone(), spec.limits, child.id()).await {
        Ok(cgroup) => cgroup,
        Err(message) => {
            child.start_kill();
            child.wait().await;
            let outcome = Outcome::SetupFailed { stage: "cgroup".into(), message };
            let report = report::ended(outcome, started.elapsed());
            return Ok(RunOutput { report, stdout: Captured::default(), stderr: Captured::default(), limit: None });
        }
    };
    let cap = match &options.adjust {
        Some(adjust) => {
            adjust.started(cgroup.as_ref().map(RunCgroup::limiter), child.id().unwrap_or(0));
            adjust.output_cap.clone()
        }
        None => Arc::new(AtomicU64::new(options.max_output_bytes)),
    };
    let payload = hand_over(&control, spec, handed)?;
    let flood = Flood::new(cap);
    let stdout = capture(Some(stdout), &flood, (&options.tap, OutputStream::Stdout));
    let stderr = capture(Some(stderr), &flood, (&options.tap, OutputStream::Stderr));
    let limit = Duration::from_millis(spec.limits.wall_time_ms) + BACKSTOP;
    // A run ends when it meets its pids limit; a box goes on: its processes are refused more
    // (EAGAIN), and its agent, servers and other processes keep serving.
    let pids_watched = cgroup.as_ref().filter(|_| !spec.agent);
    let ending = watch(&mut child, control, payload, limit, options, &flood, pids_watched);
    let (ending, stdout, stderr) = tokio::join!(ending, stdout, stderr);
    // A launcher that reported has nothing of the run left under it (its pid 1 reports once
    // every other process is reaped); its own end and its pid 1's (tearing down the
    // sandbox's namespaces) need not hold up the result. Any other is killed and awaited.
    if !matches!(ending, Ending::Report(Ok(_))) {
        child.wait().await;
    }
    let usage = attach::finish(cgroup, options.cgroups.as_deref()).await;
    let (report, limit) = report::assemble(ending, usage, started.elapsed())?;
    Ok(RunOutput { report, stdout, stderr, limit })
}

/// Sends the descriptors that go with the spec (with its first byte) and returns what is
/// left of the spec to send.
fn hand_over(control: &UnixStream, spec: &SandboxSpec, handed: Vec<OwnedFd>) -> Result<Vec<u8>, RunError> {
    let protocol = |e: std::io::Error| RunError::Protocol(e.to_string());
    let mut payload = serde_json::to_vec(spec).map_err(|e| RunError::Protocol(e.to_string()))?;
    if !handed.is_empty() {
        // One byte into an empty socket buffer never waits.
        let fds: Vec<_> = handed.iter().map(|fd| fd.as_fd()).collect();
        let sent = crate::handoff::send(control.as_fd(), &payload[..1], &fds).map_err(protocol)?;
        payload.drain(..sent);
    }
    Ok(payload)
}

/// Sends the spec and waits for the first of: the launcher's report, its limit passed,
/// cancellation, an output flood, the process limit. Killing the launcher takes the
/// sandbox with it (its pid 1 dies with its parent), which also ends the output streams.
async fn watch(
    child: &mut LauncherProcess,
    control: UnixStream,
    payload: Vec<u8>,
    limit: Duration,
    options: &RunOptions,
    flood: &Flood,
    cgroup: Option<&RunCgroup>,
) -> Ending {
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
        _ = attach::process_limit_hit(cgroup) => {
            child.start_kill();
            Ending::Cut(LimitHit::Processes)
        }
    }
}
