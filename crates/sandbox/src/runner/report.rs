//! What a run's end says: the launcher's report, or the daemon's own account of how it
//! ended, and the limit that explains it.

use std::time::Duration;

use super::output::{LimitHit, RunError};
use crate::cgroup;
use crate::spec::{Outcome, SandboxReport};

/// How the daemon saw a run end.
pub(super) enum Ending {
    Report(Result<Vec<u8>, RunError>),
    Cancelled,
    /// The daemon stopped the run at a limit the launcher does not watch.
    Cut(LimitHit),
    /// The launcher stopped answering, and was killed.
    Lost,
}

/// The run's report and the limit it ran into, from how it ended and what its cgroup
/// counted.
pub(super) fn assemble(
    ending: Ending,
    usage: Option<cgroup::Usage>,
    elapsed: Duration,
) -> Result<(SandboxReport, Option<LimitHit>), RunError> {
    // Out of memory with nothing of the code left to kill (its files in /tmp hold the
    // memory), the kernel killed the sandbox's init or launcher: the limit ended it.
    let oom = usage.is_some_and(|u| u.oom_kills > 0);
    let (mut report, cut) = match ending {
        Ending::Cancelled => (ended(Outcome::Cancelled, elapsed), None),
        Ending::Cut(hit) => (ended(Outcome::Signaled { signal: libc::SIGKILL }, elapsed), Some(hit)),
        Ending::Report(Ok(raw)) if raw.is_empty() && !oom => (ended(Outcome::Lost, elapsed), None),
        Ending::Lost => (ended(Outcome::Lost, elapsed), None),
        Ending::Report(raw) => match raw.and_then(|raw| parse_report(&raw)) {
            Ok(report) => (report, None),
            Err(_) if oom => (ended(Outcome::Signaled { signal: libc::SIGKILL }, elapsed), Some(LimitHit::Memory)),
            Err(e) => return Err(e),
        },
    };
    let limit = cut.or_else(|| limit_hit(&report, usage.as_ref()));
    if let Some(usage) = &usage {
        apply_usage(&mut report, usage);
    }
    Ok((report, limit))
}

fn parse_report(raw: &[u8]) -> Result<SandboxReport, RunError> {
    serde_json::from_slice(raw)
        .map_err(|e| RunError::Protocol(format!("unreadable report ({e}): {}", String::from_utf8_lossy(raw))))
}

/// A report for a run the daemon ended itself.
pub(super) fn ended(outcome: Outcome, elapsed: Duration) -> SandboxReport {
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
