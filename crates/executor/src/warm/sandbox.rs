//! One pre-started sandbox: started like a cold run's, minus the run, which it waits for.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

use sandbox::runner::{RunError, RunOutput};
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::binds::HostBinds;
use super::{Fixed, Key};
use crate::driver;
use crate::runtime::{self, runtimes_for};
use crate::service::ExecutionService;
use crate::spec::{self, sandbox_spec, SpecParts};
use crate::templates::Environment;
use crate::workspace::Workspace;
use crate::{validate, ExecuteError, RequestedLimits, Template, WorkspaceChoice};

/// How long a sandbox may take to start and import what it preloads.
const READY_WAIT: Duration = Duration::from_secs(60);
/// How long a killed sandbox may take to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Pooled {
    pub socket: UnixStream,
    pub workspace: Workspace,
    /// Kills the sandbox (a child of the pool's token, itself the service's child).
    pub cancel: CancellationToken,
    pub task: JoinHandle<Result<RunOutput, RunError>>,
    pub started: Instant,
    pub fixed: Fixed,
    pub environment: Option<Environment>,
    /// The template it was started for, as defined then.
    pub template: Option<Template>,
    /// What it bound from the host: stale once the host replaced any of it.
    binds: HostBinds,
}

impl Pooled {
    /// Starts a sandbox for `key` and waits until its driver is ready for a run.
    pub async fn start(
        service: &ExecutionService,
        key: &Key,
        template: Option<&Template>,
        max_idle: Duration,
        parent: &CancellationToken,
    ) -> Result<Pooled, ExecuteError> {
        let environment = match template {
            Some(template) => Some(service.templates.prepare(template).await?),
            None => None,
        };
        let preload = template.map(|t| super::preload(&t.packages)).unwrap_or_default();
        let runtimes = runtimes_for(&service.config, environment.as_ref());
        let launch = runtime::warm_launch(key.language, &runtimes, &preload)
            .ok_or_else(|| ExecuteError::Internal(format!("no warm path for {}", key.language.name())))?;
        let policy = &service.config.limits;
        let limits = validate::limits_with_template(RequestedLimits::default(), template, policy);
        let workspace = service.workspaces.prepare(&WorkspaceChoice::Fresh, "warm")?;
        let wall_time_ms = spec::pre_started_wall_time_ms(policy, READY_WAIT, max_idle);
        let spec = sandbox_spec(
            &service.config,
            &service.cgroups,
            SpecParts {
                launch,
                environment: environment.as_ref(),
                workspace: &workspace.path,
                env_vars: &BTreeMap::new(),
                limits: &limits,
                wall_time_ms,
                stdin: String::new(),
            },
        );
        let fixed = Fixed::of(&limits, policy);
        let binds = HostBinds::of(&spec.mounts);
        let internal = |e: std::io::Error| ExecuteError::Internal(format!("warm sandbox socket: {e}"));
        let pair = StdUnixStream::pair().map_err(internal);
        let (ours, theirs) = match pair {
            Ok(pair) => pair,
            Err(e) => {
                service.workspaces.release(workspace);
                return Err(e);
            }
        };
        let cancel = parent.child_token();
        let launcher = service.launcher.clone();
        let token = cancel.clone();
        let task = tokio::spawn(async move {
            launcher.launch(&spec, fixed.output_bytes, token, Some(OwnedFd::from(theirs))).await
        });
        let socket = ours.set_nonblocking(true).and_then(|()| UnixStream::from_std(ours)).map_err(internal);
        let mut pooled = match socket {
            Ok(socket) => {
                let template = template.cloned();
                let started = Instant::now();
                Pooled { socket, workspace, cancel, task, started, fixed, environment, template, binds }
            }
            Err(e) => {
                cancel.cancel();
                let _ = tokio::time::timeout(KILL_WAIT, task).await;
                service.workspaces.release(workspace);
                return Err(e);
            }
        };
        let mut ready = [0u8; driver::READY.len()];
        match tokio::time::timeout(READY_WAIT, pooled.socket.read_exact(&mut ready)).await {
            Ok(Ok(_)) if &ready == driver::READY => Ok(pooled),
            outcome => {
                let why = match outcome {
                    Err(_) => "not ready in time".to_string(),
                    Ok(Err(e)) => format!("ended before it was ready: {e}"),
                    Ok(Ok(_)) => "answered something else than ready".to_string(),
                };
                // A driver that ended says why in its report: give the report a moment.
                let output = match tokio::time::timeout(Duration::from_secs(2), &mut pooled.task).await {
                    Ok(Ok(Ok(output))) => Some(output),
                    Ok(_) => None,
                    Err(_) => pooled.kill().await,
                };
                pooled.cancel.cancel();
                let stderr = output
                    .map(|o| format!("{:?} {}", o.report.outcome, String::from_utf8_lossy(&o.stderr.bytes)))
                    .unwrap_or_default();
                service.workspaces.release(pooled.workspace);
                Err(ExecuteError::Internal(format!("warm sandbox {why}: {}", stderr.trim())))
            }
        }
    }

    /// Whether the sandbox is still waiting for a run: its launcher has not ended, its
    /// driver has not hung up (it writes nothing while it waits), and what it bound from the
    /// host is still what a fresh sandbox would bind.
    pub fn alive(&self) -> bool {
        let hung_up = match self.socket.try_read(&mut [0u8; 1]) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        };
        !self.task.is_finished() && !hung_up && self.binds.current()
    }

    /// Kills the sandbox and waits (a bounded time) for what it reported.
    pub async fn kill(&mut self) -> Option<RunOutput> {
        self.cancel.cancel();

        match tokio::time::timeout(KILL_WAIT, &mut self.task).await {
            Ok(Ok(Ok(output))) => Some(output),
            _ => None,
        }
    }

    /// Kills the sandbox and removes its workspace (its cgroup goes with its launcher).
    pub async fn retire(mut self, service: &ExecutionService) {
        self.kill().await;
        service.workspaces.release(self.workspace);
    }
}
