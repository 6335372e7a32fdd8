//! What a run gives back: its report, its output, the limit it met, or why it could not run.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cgroup;
use crate::spec::SandboxReport;
#[cfg(doc)]
use crate::{init::INIT_ARG, spec::Outcome};

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
    /// Set for a sandbox whose limits (and output cap, which then replaces
    /// `max_output_bytes`) are changed from outside after its start.
    pub adjust: Option<Arc<super::Adjustable>>,
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
