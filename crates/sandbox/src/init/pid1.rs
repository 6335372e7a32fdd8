//! The sandbox's pid 1: builds the root filesystem, starts the program, reaps everything,
//! and reports the program's outcome to the launcher.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::prctl;
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::error::{SetupResult, Stage};
use super::program::{self, ProgramFds};
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
}

/// Room in the root tmpfs besides the files the spec writes into it.
const ROOT_SLACK_BYTES: u64 = 1 << 20;

/// Never returns: writes the outcome to `report` and exits.
pub fn run(spec: &SandboxSpec, fds: ProgramFds, report: OwnedFd) -> ! {
    let outcome = match supervise(spec, fds) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::SetupFailed { stage: e.stage, message: e.message },
    };
    let full_filesystems = full_filesystems(&spec.mounts);
    let mut report = std::fs::File::from(report);
    let _ = report.write_all(&serde_json::to_vec(&Pid1Report { outcome, full_filesystems }).unwrap_or_default());
    sys::exit_now(0)
}

fn supervise(spec: &SandboxSpec, fds: ProgramFds) -> SetupResult<Outcome> {
    // If the launcher dies (it is killed with the daemon), the whole sandbox dies with us.
    prctl::set_pdeathsig(Signal::SIGKILL).stage(|| "set parent death signal".into())?;
    userns::enter_mount_namespace()?;
    mount::build_root(&spec.mounts, root_size(&spec.mounts))?;
    nix::unistd::sethostname(&spec.hostname).stage(|| "set hostname".into())?;
    let (pid, exec_errors) = program::start(spec, fds)?;
    let outcome = program::reap_all(pid);
    match program::exec_error(exec_errors) {
        Some(e) => Err(e),
        None => Ok(outcome),
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
