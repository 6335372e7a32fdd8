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

/// Starts sandboxes for the executor and waits for their end: the one door through which
/// every run path (cold, forked, pre-started, a session's interpreter) gets a sandbox, so a
/// test can put a fake one in its place ([`crate::ServiceOptions::launcher`]).
pub trait Launcher: Send + Sync {
    /// Runs `spec` to its end, keeping at most `max_output_bytes` of each output stream
    /// (which also go to `tap` as they come); `cancel` kills it early; `handoff` (a session's
    /// socket) goes to the program at [`SandboxSpec::session_fd`].
    fn launch<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handoff: Option<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a>;

    /// [`Launcher::launch`] with every descriptor of `handed` going with the spec (a
    /// session's socket, then an egress door's). By default only the first goes.
    fn launch_handed<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a> {
        self.launch(spec, max_output_bytes, cancel, handed.into_iter().next(), tap)
    }

    /// [`Launcher::launch_handed`] for a sandbox whose limits and output cap `adjust` changes
    /// after its start. By default it cannot: `adjust` refuses every change.
    fn launch_adjustable<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        adjust: Arc<Adjustable>,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a> {
        self.launch_handed(spec, adjust.output_cap(), cancel, handed, tap)
    }

    /// Runs `spec` in a sandbox forked by `zygote`; `handed` go with the spec.
    fn launch_forked<'a>(
        &'a self,
        zygote: &'a ZygoteLink,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a>;
}

/// Starts sandboxes through [`sandbox::runner`]: a fresh `init_exe` child per spec (the cold
/// path), or a fork of a zygote; each gets its own cgroup.
pub struct ColdLauncher {
    pub init_exe: PathBuf,
    /// Gives every run its own cgroup.
    pub cgroups: Option<Arc<Manager>>,
}

impl ColdLauncher {
    fn options(&self, max_output_bytes: u64, cancel: CancellationToken, tap: OutputTap) -> RunOptions {
        let cgroups = self.cgroups.clone();
        RunOptions { init_exe: self.init_exe.clone(), max_output_bytes, cancel, cgroups, tap, adjust: None }
    }

    /// Runs `spec` with `options`, handing `handed` to the launcher with it.
    fn run<'a>(&'a self, spec: &'a SandboxSpec, options: RunOptions, handed: Vec<OwnedFd>) -> LaunchFuture<'a> {
        Box::pin(async move { runner::run_with_handed(spec, &options, handed).await })
    }
}

impl Launcher for ColdLauncher {
    fn launch<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handoff: Option<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a> {
        self.run(spec, self.options(max_output_bytes, cancel, tap), handoff.into_iter().collect())
    }

    fn launch_handed<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a> {
        self.run(spec, self.options(max_output_bytes, cancel, tap), handed)
    }

    fn launch_adjustable<'a>(
        &'a self,
        spec: &'a SandboxSpec,
        adjust: Arc<Adjustable>,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a> {
        let options = RunOptions { adjust: Some(adjust.clone()), ..self.options(adjust.output_cap(), cancel, tap) };
        self.run(spec, options, handed)
    }

    fn launch_forked<'a>(
        &'a self,
        zygote: &'a ZygoteLink,
        spec: &'a SandboxSpec,
        max_output_bytes: u64,
        cancel: CancellationToken,
        handed: Vec<OwnedFd>,
        tap: OutputTap,
    ) -> LaunchFuture<'a> {
        let options = self.options(max_output_bytes, cancel, tap);
        Box::pin(async move { runner::run_forked(zygote, spec, &options, handed).await })
    }
}
