//! A zygote: one long-lived Python sandbox per (Python, template) that has imported the
//! template's heavy modules and forks a run per request.
//!
//! The zygote's sandbox is a cold-path sandbox (same spec function, mounts, identity and
//! cgroup: [`spec::zygote`]) without the program's confinement: it runs no user code itself,
//! and each fork needs to build its own namespaces, which seccomp and Landlock would forbid.
//! Every fork then gets a sandbox of its own, built from the run's own cold-path spec
//! ([`spec::forked`]): fresh user, pid, mount, network, IPC, UTS and cgroup namespaces, a fresh root and /tmp, the run's
//! workspace (handed over as a detached mount), its own cgroup, rlimits, and the run's
//! seccomp and Landlock layers before the first line of user code.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox::runner::{OutputTap, RunError, RunOutput};
use sandbox::zygote::ZygoteLink;
use sandbox::{Outcome, SandboxSpec};
use std::os::unix::net::UnixStream as StdUnixStream;
use tokio::net::UnixStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::binds::HostBinds;
use super::prebuilt::{Claiming, ForkSource, Prebuilt};
use crate::launcher::{Origin, OutputCap, SandboxStart};
use crate::live::LiveSandbox;
use crate::runtime::{self, runtimes_for};
use crate::sandboxes::Sandboxes;
use crate::spec::{self, Shape, ZygoteParts};
use crate::workspace::Workspace;
use crate::{ExecuteError, LaunchPath, Template, WorkspaceChoice};

/// How long a zygote may take to start and import what it preloads.
const READY_WAIT: Duration = Duration::from_secs(120);

pub(crate) struct Zygote {
    pub link: ZygoteLink,
    live: LiveSandbox,
    workspace: Workspace,
    /// Set once a fork request failed: the pool replaces it.
    broken: AtomicBool,
    /// The template it was started for, as defined then.
    pub template: Option<Template>,
    /// What it bound from the host, which its forks bind again from its own view.
    binds: HostBinds,
    /// Sandboxes it built ahead of their runs, waiting for one each.
    prebuilt: Mutex<Vec<Prebuilt>>,
    /// Wakes the upkeep of `prebuilt` when one was taken.
    pub wanted: Arc<Notify>,
}

impl Zygote {
    /// Starts the zygote for `key` and waits until it has loaded its modules.
    pub async fn start(
        service: &Sandboxes,
        template: Option<&Template>,
        library: &Path,
        parent: &CancellationToken,
    ) -> Result<Zygote, ExecuteError> {
        let environment = match template {
            Some(template) => Some(service.templates.prepare(template).await?),
            None => None,
        };
        let preload = template.map(|t| super::preload(&t.packages)).unwrap_or_default();
        let runtimes = runtimes_for(&service.config, environment.as_ref());
        let workspace = service.workspaces.prepare(&WorkspaceChoice::Fresh, "zygote")?;
        let spec = spec::zygote(
            &service.config,
            &service.cgroups,
            ZygoteParts {
                launch: runtime::zygote_launch(&runtimes, &preload),
                environment: environment.as_ref(),
                workspace: &workspace.path,
                library,
            },
        );
        let binds = HostBinds::of(&spec.mounts);
        let output = service.config.limits.default_output_bytes;
        let token = parent.child_token();
        let launched = LiveSandbox::start_ready(service.launcher.clone(), spec, output, token, READY_WAIT).await;
        let linked = match launched {
            Ok((mut live, socket)) => match socket.into_std().and_then(ZygoteLink::new) {
                Ok(link) => Ok((live, link)),
                Err(e) => Err(live.failed(&format!("ended before it was ready: {e}")).await),
            },
            Err(why) => Err(why),
        };
        match linked {
            Ok((live, link)) => {
                let broken = AtomicBool::new(false);
                let (prebuilt, wanted) = (Mutex::new(Vec::new()), Arc::new(Notify::new()));
                Ok(Zygote { link, live, workspace, broken, template: template.cloned(), binds, prebuilt, wanted })
            }
            Err(why) => {
                service.workspaces.release(workspace);
                Err(ExecuteError::Internal(format!("zygote {why}")))
            }
        }
    }

    /// Whether it can still fork runs: it has not ended or failed a fork, and the host files
    /// its forks bind from its view are still the host's.
    pub fn alive(&self) -> bool {
        self.live.alive() && !self.broken.load(Ordering::SeqCst) && self.binds.current()
    }

    pub fn mark_broken(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    /// What its sandboxes built ahead are made with (its sandbox's token ends them with it).
    pub fn fork_source(&self) -> ForkSource<'_> {
        ForkSource { link: &self.link, token: &self.live.cancel, template: self.template.as_ref() }
    }

    /// A sandbox it built ahead that a run of `shape` can claim, if one waits.
    pub fn take_prebuilt(&self, shape: &Shape) -> Option<Prebuilt> {
        if !self.alive() {
            return None;
        }
        let mut ready = self.ready();
        // Those that ended while they waited go (their launchers are gone already).
        ready.retain(Prebuilt::alive);
        let at = ready.iter().position(|p| p.fits(shape))?;
        self.wanted.notify_one();
        Some(ready.remove(at))
    }

    /// How many sandboxes it has built ahead and waiting.
    pub fn prebuilt_count(&self) -> usize {
        self.ready().iter().filter(|p| p.alive()).count()
    }

    /// Keeps `built`, unless the zygote can no longer fork (it is given back).
    pub fn keep(&self, built: Prebuilt) -> Option<Prebuilt> {
        if !self.alive() {
            return Some(built);
        }
        self.ready().push(built);
        None
    }

    /// Takes out those waiting longer than `max_idle` or dead, to be retired.
    pub fn stale_prebuilt(&self, max_idle: Duration) -> Vec<Prebuilt> {
        let mut ready = self.ready();
        let (stale, kept) = ready.drain(..).partition(|p| !p.alive() || p.built.elapsed() > max_idle);
        *ready = kept;
        stale
    }

    fn ready(&self) -> std::sync::MutexGuard<'_, Vec<Prebuilt>> {
        self.prebuilt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kills the zygote, with what it built ahead, and removes its workspace. Its forks live
    /// in sandboxes of their own and end with their runs.
    pub async fn retire(mut self, service: &Sandboxes) {
        let prebuilt: Vec<Prebuilt> = self.ready().drain(..).collect();
        for built in prebuilt {
            built.retire().await;
        }
        self.live.kill().await;
        service.workspaces.release(self.workspace);
    }

    /// Kills it at once (its workspace goes with the next daemon's start).
    pub fn kill(&self) {
        self.live.cancel.cancel();
    }
}

impl AsRef<ZygoteLink> for Zygote {
    fn as_ref(&self) -> &ZygoteLink {
        &self.link
    }
}

/// How long a forked session interpreter may take to say it is ready.
const SESSION_READY_WAIT: Duration = Duration::from_secs(10);

/// Starts a session's interpreter (`spec`, its cold-path spec) in a sandbox of `zygote`, with
/// `workspace` handed over: one it built ahead when one fits, else one it forks now; and waits
/// until it is ready. None when the zygote could not fork it (the zygote is then replaced):
/// it is to be started cold.
pub(crate) async fn fork_live(
    service: &Sandboxes,
    zygote: Arc<Zygote>,
    spec: &SandboxSpec,
    workspace: &Path,
    cancel: CancellationToken,
) -> Option<(LiveSandbox, UnixStream, LaunchPath)> {
    let spec = spec::forked(spec.clone(), false);
    if let Some(prebuilt) = zygote.take_prebuilt(&Shape::of(&spec)) {
        if let Some((live, socket)) = session_on_prebuilt(service, &zygote, prebuilt, &spec, workspace, &cancel).await {
            return Some((live, socket, LaunchPath::Prebuilt));
        }
    }
    let mount = detached(workspace)?;
    let launcher = service.launcher.clone();
    let output = OutputCap::Fixed(service.config.limits.default_output_bytes);
    let started = LiveSandbox::start_forked(launcher, zygote.clone(), spec, vec![mount], output, cancel);
    let (mut live, mut socket) = started.map_err(|e| tracing::warn!(error = %e, "session socket")).ok()?;
    match live.ready(&mut socket, SESSION_READY_WAIT).await {
        Ok(()) => Some((live, socket, LaunchPath::Forked)),
        Err(why) => {
            tracing::warn!(%why, "the zygote could not fork a session interpreter; starting it cold");
            zygote.mark_broken();
            None
        }
    }
}

/// A session's interpreter in `prebuilt`: the session's socket and workspace go with the
/// claim; the sandbox then ends with the session (`cancel`) and keeps its zygote alive.
async fn session_on_prebuilt(
    service: &Sandboxes,
    zygote: &Arc<Zygote>,
    prebuilt: Prebuilt,
    spec: &SandboxSpec,
    workspace: &Path,
    cancel: &CancellationToken,
) -> Option<(LiveSandbox, UnixStream)> {
    let Some(mount) = detached(workspace) else {
        prebuilt.give_up();
        return None;
    };
    let pair = StdUnixStream::pair().and_then(|(ours, theirs)| {
        ours.set_nonblocking(true)?;
        Ok((UnixStream::from_std(ours)?, OwnedFd::from(theirs)))
    });
    let (mut socket, theirs) = match pair {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "session socket");
            prebuilt.give_up();
            return None;
        }
    };
    let output = service.config.limits.default_output_bytes;
    let mut live = match prebuilt.serve_session(spec, mount, theirs, output).await {
        Ok(live) => live,
        Err(why) => {
            tracing::warn!(%why, "a pre-built sandbox did not take a session interpreter; forking one");
            return None;
        }
    };
    let (session, sandbox) = (cancel.clone(), live.cancel.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = session.cancelled() => sandbox.cancel(),
            _ = sandbox.cancelled() => {}
        }
    });
    match live.ready(&mut socket, SESSION_READY_WAIT).await {
        Ok(()) => Some((live.keeping(zygote.clone()), socket)),
        Err(why) => {
            tracing::warn!(%why, "a pre-built session interpreter did not get ready");
            None
        }
    }
}

/// How a forked one-shot run goes besides its spec and workspace.
pub(crate) struct ForkRun {
    pub max_output_bytes: u64,
    pub cancel: CancellationToken,
    /// Whether the fork executes the spec's program (not the Python driver).
    pub executes: bool,
    /// Descriptors handed after the workspace's mount (an egress door's socket).
    pub more: Vec<OwnedFd>,
    /// Where the run's output chunks go as the code writes them.
    pub tap: OutputTap,
}

/// Runs `spec` (a cold-path spec) in a sandbox forked by `zygote`, with `workspace` handed
/// over: one the zygote built ahead when one fits the run, else one forked for it. The fork
/// executes the spec's program unless it is the Python driver. None when the zygote could not
/// fork it: nothing of the run started, and it goes cold (the zygote is then replaced).
pub(crate) async fn fork(
    service: &Sandboxes,
    zygote: &Zygote,
    spec: &SandboxSpec,
    workspace: &Path,
    run: ForkRun,
) -> Option<(Result<RunOutput, RunError>, LaunchPath)> {
    let spec = spec::forked(spec.clone(), run.executes);
    // A run with an egress door needs a sandbox built with it.
    let shape = Shape::of(&spec);
    let prebuilt = if run.more.is_empty() { zygote.take_prebuilt(&shape) } else { None };
    if let Some(prebuilt) = prebuilt {
        let claim = Claiming { output_cap: run.max_output_bytes, tap: &run.tap, cancel: &run.cancel };
        let Some(mount) = detached(workspace) else {
            prebuilt.give_up();
            return None;
        };
        match prebuilt.serve(&spec, mount, claim).await {
            Ok(ran) => return Some((ran, LaunchPath::Prebuilt)),
            Err(why) => tracing::warn!(%why, "a pre-built sandbox did not take the run; forking one"),
        }
    }
    fork_now(service, zygote, &spec, workspace, run).await.map(|ran| (ran, LaunchPath::Forked))
}

/// A detached copy of the workspace's mount, for a fork to attach; None when there is none.
fn detached(workspace: &Path) -> Option<OwnedFd> {
    sandbox::zygote::detached_mount(workspace)
        .map_err(|e| tracing::warn!(error = %e, "cannot hand the workspace to a forked run; running it cold"))
        .ok()
}

/// [`fork`] into a sandbox the zygote forks now, from the run's forked spec.
async fn fork_now(
    service: &Sandboxes,
    zygote: &Zygote,
    spec: &SandboxSpec,
    workspace: &Path,
    run: ForkRun,
) -> Option<Result<RunOutput, RunError>> {
    let ForkRun { max_output_bytes, cancel, more, tap, .. } = run;
    let mount = detached(workspace)?;
    let handed = std::iter::once(mount).chain(more).collect();
    let start = SandboxStart {
        origin: Origin::Forked(&zygote.link),
        handed,
        ..SandboxStart::fresh(spec, max_output_bytes, cancel, tap)
    };
    match service.launcher.start(start).await {
        Err(RunError::Spawn(_, e)) => {
            tracing::warn!(error = %e, "the zygote could not fork the run; running it cold");
            zygote.mark_broken();
            None
        }
        // The host replaced a file the fork binds from the zygote's view while it was being
        // built: nothing of the run started, and a cold sandbox binds the new file.
        Ok(run) if matches!(run.report.outcome, Outcome::SetupFailed { .. }) && !zygote.binds.current() => {
            tracing::warn!(outcome = ?run.report.outcome, "the zygote is stale (host files replaced); running it cold");
            zygote.mark_broken();
            None
        }
        other => Some(other),
    }
}
