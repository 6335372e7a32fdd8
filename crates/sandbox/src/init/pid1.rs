//! The sandbox's pid 1: builds the root filesystem, starts the program, reaps everything,
//! and reports the program's outcome to the launcher.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::prctl;
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::error::{SetupResult, Stage};
use super::fds::ProgramFds;
use super::program::{self, Resumed, Start, Started};
use super::{mount, sys, userns};
use crate::host;
use crate::spec::{Mount, Outcome, SandboxSpec};

/// What pid 1 tells the launcher when everything of the run is gone.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pid1Report {
    pub outcome: Outcome,
    /// Size-capped filesystems of the sandbox that are full (only pid 1 sees them).
    #[serde(default)]
    pub full_filesystems: Vec<String>,
    /// What the run used: pid 1's own and its reaped children's (every process of the run),
    /// so that the launcher need not wait for pid 1's own end to know it.
    #[serde(default)]
    pub usage: Usage,
}

/// CPU time and the largest resident set of some processes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Usage {
    pub cpu_time_ms: f64,
    pub peak_memory_kb: u64,
}

impl Usage {
    /// Of this process's reaped children.
    pub fn children() -> Usage {
        Usage::of(UsageWho::RUSAGE_CHILDREN)
    }

    /// Of this process and its reaped children.
    fn with_children() -> Usage {
        Usage::children().max(Usage::of(UsageWho::RUSAGE_SELF))
    }

    fn of(who: UsageWho) -> Usage {
        let Ok(usage) = getrusage(who) else { return Usage::default() };
        let cpu = usage.user_time() + usage.system_time();
        let cpu_time_ms = cpu.tv_sec() as f64 * 1000.0 + cpu.tv_usec() as f64 / 1000.0;
        Usage { cpu_time_ms, peak_memory_kb: usage.max_rss().max(0) as u64 }
    }

    /// The larger of each figure: two views of the same processes, one perhaps partial.
    pub fn max(self, other: Usage) -> Usage {
        Usage {
            cpu_time_ms: self.cpu_time_ms.max(other.cpu_time_ms),
            peak_memory_kb: self.peak_memory_kb.max(other.peak_memory_kb),
        }
    }
}

/// Room in the root tmpfs besides the files the spec writes into it.
const ROOT_SLACK_BYTES: u64 = 1 << 20;

/// Writes the outcome to `report` and exits. Returns only in the program of a resumed
/// sandbox (see [`Start::Resume`]). `handed` is the mount a [`Mount::Handed`] step attaches.
pub fn run(spec: &SandboxSpec, fds: ProgramFds, handed: Option<OwnedFd>, report: OwnedFd, how: Start) -> Resumed {
    let outcome = match supervise(spec, fds, handed, how) {
        Ok(Supervised::Ended(outcome)) => outcome,
        Ok(Supervised::Program(resumed)) => {
            drop(report);
            return resumed;
        }
        Err(e) => Outcome::SetupFailed { stage: e.stage, message: e.message },
    };
    let full_filesystems = full_filesystems(&spec.mounts);
    let usage = Usage::with_children();
    // The run's output streams end here, with the run, and the report is closed once
    // written: the daemon has the whole run before this process's own end, which tears down
    // the sandbox's mount namespace and takes milliseconds more.
    let _ = nix::unistd::close(libc::STDOUT_FILENO);
    let _ = nix::unistd::close(libc::STDERR_FILENO);
    let mut report = std::fs::File::from(report);
    let _ = report.write_all(&serde_json::to_vec(&Pid1Report { outcome, full_filesystems, usage }).unwrap_or_default());
    drop(report);
    sys::exit_now(0)
}

enum Supervised {
    Ended(Outcome),
    Program(Resumed),
}

fn supervise(spec: &SandboxSpec, fds: ProgramFds, handed: Option<OwnedFd>, how: Start) -> SetupResult<Supervised> {
    // If the launcher dies (it is killed with the daemon), the whole sandbox dies with us.
    prctl::set_pdeathsig(Signal::SIGKILL).stage(|| "set parent death signal".into())?;
    userns::enter_mount_namespace()?;
    mount::build_root(&spec.mounts, root_size(&spec.mounts), handed)?;
    nix::unistd::sethostname(&spec.hostname).stage(|| "set hostname".into())?;
    if spec.agent {
        // A box's agent is pid 1 itself: nothing in the box can signal it (`kill -9 -1` from
        // inside reaches every process but this one), and every orphan of the box is its child.
        let control = program::confine_agent(spec, fds)?;
        let code = crate::agent::serve(control);
        program::kill_rest();
        while nix::sys::wait::wait().is_ok() {}
        return Ok(Supervised::Ended(Outcome::Exited { code }));
    }
    let (pid, exec_errors) = match program::start(spec, fds, how)? {
        Started::Parent(pid, exec_errors) => (pid, exec_errors),
        Started::Program(resumed) => return Ok(Supervised::Program(resumed)),
    };
    let outcome = program::reap_all(pid);
    match program::exec_error(exec_errors) {
        Some(e) => Err(e),
        None => Ok(Supervised::Ended(outcome)),
    }
}

fn root_size(mounts: &[Mount]) -> u64 {
    let files: u64 = mounts
        .iter()
        .map(|m| match m {
            Mount::File { contents, .. } => contents.len() as u64 + 4096,
            _ => 4096,
        })
        .sum();
    files + ROOT_SLACK_BYTES
}

/// The spec's size-capped tmpfs mounts that the run filled.
fn full_filesystems(mounts: &[Mount]) -> Vec<String> {
    mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Tmpfs { target, .. } if host::filesystem_full(Path::new(target)) => Some(target.clone()),
            _ => None,
        })
        .collect()
}
