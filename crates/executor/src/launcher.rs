//! How the daemon starts a sandbox from a spec and waits for its end: the [`Launcher`] trait,
//! and [`ColdLauncher`], which runs every spec through [`sandbox::runner`].
//!
//! Not to be confused with the process of the same name on the other side:
//! `sandbox::init::launcher` is the daemon's child (the configuration's `init_exe`, the
//! daemon's own binary re-executed) that builds the namespaces and reports how the program
//! ended. [`ColdLauncher`] starts one of those per sandbox, fresh or forked by a zygote.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::pin::Pin;

use std::sync::Arc;

use sandbox::cgroup::Manager;
use sandbox::runner::{self, Adjustable, OutputTap, RunError, RunOptions, RunOutput};
use sandbox::zygote::ZygoteLink;
use sandbox::SandboxSpec;
use tokio_util::sync::CancellationToken;

pub type LaunchFuture<'a> = Pin<Box<dyn Future<Output = Result<RunOutput, RunError>> + Send + 'a>>;

/// Where a sandbox's launcher comes from.
#[derive(Clone, Copy)]
pub enum Origin<'a> {
    /// A fresh launcher process: the cold path.
    Fresh,
    /// A fork of this zygote.
    Forked(&'a ZygoteLink),
}

/// How much of each output stream is kept.
pub enum OutputCap {
    Fixed(u64),
    /// Changed from outside after the start (a sandbox started ahead of its run gets the
    /// run's limits at its claim).
    Adjustable(Arc<Adjustable>),
}

/// One sandbox to start and see to its end.
pub struct SandboxStart<'a> {
    pub spec: &'a SandboxSpec,
    pub origin: Origin<'a>,
    pub output: OutputCap,
    /// Kills it early.
    pub cancel: CancellationToken,
    /// Descriptors that go with the spec, in the order the launcher takes them (see
    /// `sandbox::init::launcher`): a claim's or a session's socket, a workspace's mount, an
    /// egress door's socket.
    pub handed: Vec<OwnedFd>,
    /// Where the kept output also goes as it comes.
    pub tap: OutputTap,
}

impl<'a> SandboxStart<'a> {
    /// A fresh sandbox for `spec` keeping `max_output_bytes` of each stream, nothing handed.
    pub fn fresh(spec: &'a SandboxSpec, max_output_bytes: u64, cancel: CancellationToken, tap: OutputTap) -> Self {
        let output = OutputCap::Fixed(max_output_bytes);
        SandboxStart { spec, origin: Origin::Fresh, output, cancel, handed: Vec::new(), tap }
    }
}

/// Starts sandboxes for the executor and waits for their end: the one door through which
/// every run path (cold, forked, pre-started, pre-built, a session's interpreter) gets a
/// sandbox, so a test can put a fake one in its place ([`crate::ServiceOptions::launcher`]).
pub trait Launcher: Send + Sync {
    /// Starts the sandbox of `start` and runs it to its end.
    fn start<'a>(&'a self, start: SandboxStart<'a>) -> LaunchFuture<'a>;
}

/// Starts sandboxes through [`sandbox::runner`]: a fresh `init_exe` child per spec (the cold
/// path), or a fork of a zygote; each gets its own cgroup.
pub struct ColdLauncher {
    pub init_exe: PathBuf,
    /// Gives every run its own cgroup.
    pub cgroups: Option<Arc<Manager>>,
}

impl Launcher for ColdLauncher {
    fn start<'a>(&'a self, start: SandboxStart<'a>) -> LaunchFuture<'a> {
        let SandboxStart { spec, origin, output, cancel, handed, tap } = start;
        let (max_output_bytes, adjust) = match output {
            OutputCap::Fixed(bytes) => (bytes, None),
            OutputCap::Adjustable(adjust) => (adjust.output_cap(), Some(adjust)),
        };
        let cgroups = self.cgroups.clone();
        let options = RunOptions { init_exe: self.init_exe.clone(), max_output_bytes, cancel, cgroups, tap, adjust };
        Box::pin(async move {
            match origin {
                Origin::Fresh => runner::run_with_handed(spec, &options, handed).await,
                Origin::Forked(zygote) => runner::run_forked(zygote, spec, &options, handed).await,
            }
        })
    }
}
