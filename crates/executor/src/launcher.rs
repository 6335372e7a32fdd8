//! How a sandbox is started. The cold launcher re-executes the daemon as a fresh init child
//! for every run; other launchers (pre-warmed ones) can stand beside it behind this trait.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::pin::Pin;

use std::sync::Arc;

use sandbox::cgroup::Manager;
use sandbox::runner::{self, RunError, RunOptions, RunOutput};
use sandbox::zygote::ZygoteLink;
use sandbox::SandboxSpec;
use tokio_util::sync::CancellationToken;

pub type LaunchFuture<'a> = Pin<Box<dyn Future<Output = Result<RunOutput, RunError>> + Send + 'a>>;

pub trait Launcher: Send + Sync {
    /// Runs `spec` to its end, keeping at most `max_output_bytes` of each output stream;
    /// `cancel` kills it early; `handoff` (a session's socket) goes to the program at
    /// [`SandboxSpec::session_fd`].
    fn launch<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handoff: Option<OwnedFd>,
    ) -> LaunchFuture<'a>;

    /// Runs `spec` in a sandbox forked by `zygote`; `handed` go with the spec.
    fn launch_forked<'a>(
        &'a self,
        zygote: &'a ZygoteLink,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
    ) -> LaunchFuture<'a>;
}

pub struct ColdLauncher {
    pub init_exe: PathBuf,
    /// Gives every run its own cgroup.
    pub cgroups: Option<Arc<Manager>>,
}

impl ColdLauncher {
    fn options(&self, max_output_bytes: u64, cancel: CancellationToken) -> RunOptions {
        RunOptions { init_exe: self.init_exe.clone(), max_output_bytes, cancel, cgroups: self.cgroups.clone() }
    }
}

impl Launcher for ColdLauncher {
    fn launch<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handoff: Option<OwnedFd>,
    ) -> LaunchFuture<'a> {
        Box::pin(async move { runner::run_with_handoff(spec, &self.options(max_output_bytes, cancel), handoff).await })
    }

    fn launch_forked<'a>(
        &'a self,
        zygote: &'a ZygoteLink,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
    ) -> LaunchFuture<'a> {
        Box::pin(async move { runner::run_forked(zygote, spec, &self.options(max_output_bytes, cancel), handed).await })
    }
}
