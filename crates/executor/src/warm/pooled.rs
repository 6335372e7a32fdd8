//! One pre-started sandbox: started like a cold run's, minus the run, which it waits for.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox::runner::Adjustable;
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::binds::HostBinds;
use super::{Fixed, Key};
use crate::live::LiveSandbox;
use crate::runtime::{self, runtimes_for};
use crate::sandboxes::Sandboxes;
use crate::spec::{self, sandbox_spec, SpecParts};
use crate::templates::Environment;
use crate::workspace::Workspace;
use crate::{validate, ExecuteError, ExecutorConfig, RequestedLimits, Template, WorkspaceChoice};

/// How long a sandbox may take to start and import what it preloads.
const READY_WAIT: Duration = Duration::from_secs(60);

pub(crate) struct Pooled {
    /// Its driver waits for the run on it.
    pub socket: UnixStream,
    pub workspace: Workspace,
    /// The sandbox (its token a child of the pool's, itself the service's child).
    pub live: LiveSandbox,
    pub started: Instant,
    pub fixed: Fixed,
    /// Gives it a claiming run's own limits from outside (see [`super::serve`]).
    pub adjust: Arc<Adjustable>,
    pub environment: Option<Environment>,
    /// The template it was started for, as defined then.
    pub template: Option<Template>,
    /// What it bound from the host: stale once the host replaced any of it.
    binds: HostBinds,
}

impl Pooled {
    /// Starts a sandbox for `key` and waits until its driver is ready for a run.
    pub async fn start(
        service: &Sandboxes,
        key: &Key,
        template: Option<&Template>,
        max_idle: Duration,
        parent: &CancellationToken,
    ) -> Result<Pooled, ExecuteError> {
        let environment = match template {
            Some(template) => Some(service.templates.prepare(template).await?),
            None => None,
        };
        let launch = warm_launch(&service.config, key, template, environment.as_ref())?;
        let policy = &service.config.limits;
        let limits = validate::limits_with_template(RequestedLimits::default(), template, policy);
        let fixed = Fixed::of(&limits, policy);
        let workspace = service.workspaces.prepare(&WorkspaceChoice::Fresh, "warm")?;
        let parts = SpecParts {
            launch,
            environment: environment.as_ref(),
            workspace: &workspace.path,
            env_vars: &BTreeMap::new(),
            limits: &limits,
            wall_time_ms: spec::pre_started_wall_time_ms(policy, READY_WAIT, max_idle),
            stdin: String::new(),
        };
        let spec = sandbox_spec(&service.config, &service.cgroups, parts);
        let binds = HostBinds::of(&spec.mounts);
        let started = Instant::now();
        let token = parent.child_token();
        let adjust = Adjustable::new(fixed.output_bytes);
        let launcher = service.launcher.clone();
        let launched = LiveSandbox::start_adjustable(launcher, spec, adjust.clone(), token, READY_WAIT);
        let (live, socket) = match launched.await {
            Ok(launched) => launched,
            Err(why) => {
                service.workspaces.release(workspace);
                return Err(ExecuteError::Internal(format!("warm sandbox {why}")));
            }
        };
        let template = template.cloned();
        Ok(Pooled { socket, workspace, live, started, fixed, adjust, environment, template, binds })
    }

    /// Whether the sandbox is still waiting for a run: its launcher has not ended, its
    /// driver has not hung up (it writes nothing while it waits), and what it bound from the
    /// host is still what a fresh sandbox would bind.
    pub fn alive(&self) -> bool {
        let hung_up = match self.socket.try_read(&mut [0u8; 1]) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        };
        self.live.alive() && !hung_up && self.binds.current()
    }

    /// Kills the sandbox and removes its workspace (its cgroup goes with its launcher).
    pub async fn retire(mut self, service: &Sandboxes) {
        self.live.kill().await;
        service.workspaces.release(self.workspace);
    }
}

/// The pre-started driver of `key`, which imports the template's heavy modules.
fn warm_launch(
    config: &ExecutorConfig,
    key: &Key,
    template: Option<&Template>,
    environment: Option<&Environment>,
) -> Result<runtime::Launch, ExecuteError> {
    let preload = template.map(|t| super::preload(&t.packages)).unwrap_or_default();
    let runtimes = runtimes_for(config, environment);
    runtime::warm_launch(key.language, &runtimes, &preload)
        .ok_or_else(|| ExecuteError::Internal(format!("no warm path for {}", key.language.name())))
}
