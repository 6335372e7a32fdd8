//! What a run gives back: its report, its output, the limit it met, or why it could not run.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

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
    /// Where the kept part of the output also goes, as the program writes it.
    pub tap: OutputTap,
    /// Set for a sandbox whose limits (and output cap, which then replaces
    /// `max_output_bytes`) are changed from outside after its start.
    pub adjust: Option<Arc<super::Adjustable>>,
}

/// One of the program's output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// What receives a run's output as it comes.
pub trait OutputSink: Send + Sync {
    /// Bytes the program wrote on `stream`, within the cap.
    fn chunk(&self, stream: OutputStream, bytes: &[u8]);
    /// `stream` ended (the program and everything holding the stream are done).
    fn end(&self, stream: OutputStream);
}

/// The place of a run's [`OutputSink`], which may be filled after the run's sandbox started
/// (a pre-started sandbox learns it when a run claims it). Empty: the output is only kept.
#[derive(Clone, Default)]
pub struct OutputTap(Arc<Mutex<Option<Arc<dyn OutputSink>>>>);

impl OutputTap {
    /// From now on the output also goes to `sink`.
    pub fn set(&self, sink: Arc<dyn OutputSink>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// What the output goes to now, if anything.
    pub fn sink(&self) -> Option<Arc<dyn OutputSink>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl std::fmt::Debug for OutputTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.sink().is_some() { "OutputTap(set)" } else { "OutputTap(empty)" })
    }
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

impl RunError {
    /// The launcher could not start because the daemon (or the system) was out of open
    /// descriptors: the host's state at the moment, not the run's fault.
    pub fn out_of_descriptors(&self) -> bool {
        matches!(self, RunError::Spawn(_, e) if crate::host::out_of_descriptors(e))
    }
}
