//! A zygote: one long-lived Python sandbox per (Python, template) that has imported the
//! template's heavy modules and forks a run per request.
//!
//! The zygote's sandbox is a cold-path sandbox (same spec function, mounts, identity and
//! cgroup: [`spec::zygote`]) without the program's confinement: it runs no user code itself, and each fork
//! needs to build its own namespaces, which seccomp and Landlock would forbid. Every fork
//! then gets a sandbox of its own, built from the run's own cold-path spec ([`spec::forked`]): fresh user,
//! pid, mount, network, IPC, UTS and cgroup namespaces, a fresh root and /tmp, the run's
//! workspace (handed over as a detached mount), its own cgroup, rlimits, and the run's
//! seccomp and Landlock layers before the first line of user code.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sandbox::runner::{RunError, RunOutput};
use sandbox::zygote::ZygoteLink;
use sandbox::{Outcome, SandboxSpec};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::binds::HostBinds;
use crate::driver;
use crate::runtime::{self, runtimes_for};
use crate::service::ExecutionService;
use crate::spec::{self, ZygoteParts};
use crate::workspace::Workspace;
use crate::{ExecuteError, Template, WorkspaceChoice};

/// How long a zygote may take to start and import what it preloads.
const READY_WAIT: Duration = Duration::from_secs(120);

pub(crate) struct Zygote {
    pub link: ZygoteLink,
    cancel: CancellationToken,
    task: JoinHandle<Result<RunOutput, RunError>>,
    workspace: Option<Workspace>,
    /// Set once a fork request failed: the pool replaces it.
    broken: AtomicBool,
    /// The template it was started for, as defined then.
    pub template: Option<Template>,
    /// What it bound from the host, which its forks bind again from its own view.
    binds: HostBinds,
}

impl Zygote {
    /// Starts the zygote for `key` and waits until it has loaded its modules.
    pub async fn start(
        service: &ExecutionService,
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
        let policy = &service.config.limits;
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
        let internal = |e: std::io::Error| ExecuteError::Internal(format!("zygote socket: {e}"));
        let (ours, theirs) = match StdUnixStream::pair() {
            Ok(pair) => pair,
            Err(e) => {
                service.workspaces.release(workspace);
                return Err(internal(e));
            }
        };
        let cancel = parent.child_token();
        let launcher = service.launcher.clone();
        let token = cancel.clone();
        let output = policy.default_output_bytes;
        let mut task = tokio::spawn(async move {
            launcher.launch(&spec, output, token, Some(std::os::fd::OwnedFd::from(theirs))).await
        });
        let ready = async {
            ours.set_nonblocking(true)?;
            let mut socket = UnixStream::from_std(ours)?;
            let mut ready = [0u8; driver::READY.len()];
            socket.read_exact(&mut ready).await?;
            if &ready != driver::READY {
                return Err(std::io::Error::other("answered something else than ready"));
            }
            ZygoteLink::new(socket.into_std()?)
        };
        match tokio::time::timeout(READY_WAIT, ready).await {
            Ok(Ok(link)) => Ok(Zygote {
                link,
                cancel,
                task,
                workspace: Some(workspace),
                broken: AtomicBool::new(false),
                template: template.cloned(),
                binds,
            }),
            outcome => {
                let why = match outcome {
                    Err(_) => "not ready in time".to_string(),
                    Ok(Err(e)) => format!("ended before it was ready: {e}"),
                    Ok(Ok(_)) => unreachable!("handled above"),
                };
                // A zygote that ended says why in its report: give the report a moment.
                let ended = match tokio::time::timeout(Duration::from_secs(2), &mut task).await {
                    Ok(ended) => Some(ended),
                    Err(_) => {
                        cancel.cancel();
                        tokio::time::timeout(Duration::from_secs(10), &mut task).await.ok()
                    }
                };
                let output = match ended {
                    Some(Ok(Ok(output))) => {
                        format!("{:?} {}", output.report.outcome, String::from_utf8_lossy(&output.stderr.bytes).trim())
                    }
                    _ => String::new(),
                };
                service.workspaces.release(workspace);
                Err(ExecuteError::Internal(format!("zygote {why}: {output}")))
            }
        }
    }

    /// Whether it can still fork runs: it has not ended or failed a fork, and the host files
    /// its forks bind from its view are still the host's.
    pub fn alive(&self) -> bool {
        !self.task.is_finished() && !self.broken.load(Ordering::SeqCst) && self.binds.current()
    }

    pub fn mark_broken(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    /// Kills the zygote and removes its workspace. Its forks live in sandboxes of their own
    /// and end with their runs.
    pub async fn retire(mut self, service: &ExecutionService) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        if let Some(workspace) = self.workspace.take() {
            service.workspaces.release(workspace);
        }
    }

    /// Kills it at once (its workspace goes with the next daemon's start).
    pub fn kill(&self) {
        self.cancel.cancel();
    }
}

/// Runs `spec` (a cold-path spec) in a sandbox forked by `zygote`, with `workspace` handed
/// over. None when the zygote could not fork it: nothing of the run started, and it goes
/// cold (the zygote is then replaced).
pub(crate) async fn fork(
    service: &ExecutionService,
    zygote: &Zygote,
    spec: &SandboxSpec,
    workspace: &Path,
    max_output_bytes: u64,
    cancel: CancellationToken,
) -> Option<Result<RunOutput, RunError>> {
    let mount = match sandbox::zygote::detached_mount(workspace) {
        Ok(mount) => mount,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hand the workspace to a forked run; running it cold");
            return None;
        }
    };
    let spec = spec::forked(spec.clone());
    match service.launcher.launch_forked(&zygote.link, &spec, max_output_bytes, cancel, vec![mount]).await {
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
