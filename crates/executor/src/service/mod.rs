//! The execution service: the one entry point for running code. It is made of what it owns:
//! the sandboxes every run is made with, the one-shot executions, the sessions and the warm
//! pools; it answers for the host's posture and stops them all in order.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::admission::Admission;
pub use crate::executions::Running;
use crate::executions::{self, Executions};
use crate::launcher::Launcher;
use crate::posture;
use crate::recorder::{ExecutionRecord, ExecutionRecorder};
use crate::rich::Tap;
use crate::sandboxes::Sandboxes;
use crate::session::Sessions;
use crate::templates::Templates;
use crate::warm::Pool;
use crate::{
    ExecuteError, ExecutionRequest, ExecutionResult, ExecutorConfig, FileDownload, Language, LimitPolicy, NewSession,
    SessionCall, SessionFile, SessionInfo, SessionResult, SessionStats,
};

pub use crate::posture::{HostInfo, Isolation, LanguageInfo, Layer, Platform};
use health::posture_of;
pub use health::Unhealthy;

/// What the service needs besides its configuration.
pub struct ServiceOptions {
    /// Where executions are recorded; without one, results only go back to the caller and
    /// asynchronous runs are refused.
    pub recorder: Option<Arc<dyn ExecutionRecorder>>,
    /// Executions running at once.
    pub max_running: usize,
    /// Executions waiting for a turn beyond those; more are refused (503).
    pub max_queued: usize,
    /// Caps and defaults of sessions.
    pub sessions: crate::session::SessionConfig,
    /// The pools of pre-started sandboxes (off by default).
    pub warm: crate::WarmConfig,
    /// How sandboxes are started; by default the cold launcher of the configuration's
    /// `init_exe` (tests put a launcher of their own here to run the service in-process).
    pub launcher: Option<Arc<dyn Launcher>>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        ServiceOptions {
            recorder: None,
            max_running: (4 * cores).max(4),
            max_queued: 64,
            sessions: Default::default(),
            warm: Default::default(),
            launcher: None,
        }
    }
}

/// Counters of the service's life so far.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct ServiceStats {
    pub executions_total: u64,
    pub executions_succeeded: u64,
    pub executions_failed: u64,
    pub executions_timed_out: u64,
    pub executions_killed: u64,
    pub active_executions: u64,
    pub queued_executions: u64,
    pub max_running: u64,
    pub max_queued: u64,
    /// Seed 003's session counters.
    #[serde(flatten)]
    pub sessions: crate::session::SessionStats,
}

pub struct ExecutionService {
    sandboxes: Arc<Sandboxes>,
    executions: Arc<Executions>,
    sessions: Arc<Sessions>,
    warm: Arc<Pool>,
    health: Result<(), Unhealthy>,
    /// Required layers that are not in force here, each with why.
    missing_required: Vec<String>,
    info: HostInfo,
    max: (usize, usize),
}

impl ExecutionService {
    /// Opens the workspace root and runs one real sandboxed program to learn whether the
    /// sandbox works here; the answer drives `/health` and the layers of `/info`.
    pub async fn new(config: ExecutorConfig, options: ServiceOptions) -> Result<Arc<Self>, ExecuteError> {
        let admission = Admission::new(options.max_running, options.max_queued);
        let mut sandboxes = Sandboxes::open(config, options.launcher, admission.clone(), options.max_running)?;
        let languages = posture::interpreters(&sandboxes.config.runtimes).await;
        let posture = posture_of(&sandboxes, executions::self_test(&sandboxes).await)?;
        sandboxes.active_layers = posture.layers.iter().filter(|l| l.active).map(|l| l.name.clone()).collect();
        let sandboxes = Arc::new(sandboxes);
        let warm = Arc::new(Pool::new(options.warm, sandboxes.clone()));
        let executions = Arc::new(Executions::new(sandboxes.clone(), warm.clone(), admission, options.recorder));
        let sessions = Sessions::new(options.sessions, sandboxes.clone(), executions.clone(), warm.clone());
        let info = HostInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            platform: Platform::of_this_host(),
            isolation: Isolation { mechanism: "linux-namespaces".into(), layers: posture.layers },
            languages,
            limits: sandboxes.config.limits.clone(),
            templates: Vec::new(),
            warm: warm.info(),
            egress: crate::egress::EgressInfo::of(&sandboxes.config.egress, posture.health.is_ok()),
            daemon_open_files: None,
        };
        Ok(Arc::new(ExecutionService {
            sandboxes,
            executions,
            sessions,
            warm,
            health: posture.health,
            missing_required: posture.missing_required,
            info,
            max: (options.max_running, options.max_queued),
        }))
    }

    /// Starts the warm pools (when configured and the sandbox works here). Called once the
    /// daemon is sure to serve: pooled sandboxes hold mounts that only an orderly stop removes.
    pub fn start_warm(&self) {
        if self.health.is_ok() {
            self.warm.start();
        }
    }

    /// Runs `req` to its end and answers with its result, once recorded. The run goes on
    /// even if the caller stops waiting for it.
    pub async fn execute(&self, req: ExecutionRequest) -> Result<ExecutionResult, ExecuteError> {
        self.permits_egress(req.egress.as_ref())?;
        self.executions.execute(req, None).await
    }

    /// [`ExecutionService::execute`], passing the run's output chunks to `tap` as the code
    /// writes them (within the output cap).
    pub async fn execute_streaming(&self, req: ExecutionRequest, tap: Tap) -> Result<ExecutionResult, ExecuteError> {
        self.permits_egress(req.egress.as_ref())?;
        self.executions.execute(req, Some(tap)).await
    }

    /// [`ExecutionService::execute_streaming`] in two steps: the request is taken on (or
    /// refused: queue full, a conflicting id, shutting down) before this returns, and the run
    /// goes on in a task of its own, which the returned future awaits.
    pub fn start_streaming(&self, req: ExecutionRequest, tap: Tap) -> Result<Running, ExecuteError> {
        self.permits_egress(req.egress.as_ref())?;
        self.executions.spawn(req, Some(tap))
    }

    /// Takes `req` on and returns at once with its id; the result is recorded when it ends
    /// and can be read with [`ExecutionService::lookup`].
    pub fn submit(&self, req: ExecutionRequest) -> Result<String, ExecuteError> {
        self.permits_egress(req.egress.as_ref())?;
        self.executions.submit(req)
    }

    /// The state of an execution, and its result once finished. Another tenant's execution is
    /// not found, exactly like one that never ran: ids do not leak across tenants.
    pub fn lookup(&self, execution_id: &str, tenant_id: &str) -> Result<ExecutionRecord, ExecuteError> {
        self.executions.lookup(execution_id, tenant_id)
    }

    pub fn active_executions(&self) -> usize {
        self.executions.admission.active()
    }

    /// Executions taken on and not finished, with how long ago (for heartbeats).
    pub fn active_ids(&self) -> Vec<(String, Duration)> {
        self.executions.admission.active_ids()
    }

    pub fn stats(&self) -> ServiceStats {
        let [succeeded, failed, timed_out, killed] = self.executions.finished();
        ServiceStats {
            executions_total: succeeded + failed + timed_out + killed,
            executions_succeeded: succeeded,
            executions_failed: failed,
            executions_timed_out: timed_out,
            executions_killed: killed,
            active_executions: self.executions.admission.active() as u64,
            queued_executions: self.executions.admission.queued() as u64,
            max_running: self.max.0 as u64,
            max_queued: self.max.1 as u64,
            sessions: self.sessions.stats(),
        }
    }

    /// `Err(reason)` when the sandbox cannot work on this host.
    pub fn health(&self) -> Result<(), Unhealthy> {
        self.health.clone()
    }

    /// `Err(reason)` when a new execution would not be taken now: the host cannot sandbox,
    /// the daemon is shutting down, or its queue is full. A load balancer sends work elsewhere.
    pub fn ready(&self) -> Result<(), Unhealthy> {
        self.health.clone()?;
        match self.executions.admission.refusal() {
            Some(reason) => Err(Unhealthy::Refused(reason)),
            None => Ok(()),
        }
    }

    /// Layers the configuration requires that are not in force, each with why; the daemon
    /// refuses to start when there is any.
    pub fn missing_required(&self) -> &[String] {
        &self.missing_required
    }

    pub fn info(&self) -> HostInfo {
        // Templates can be added while the daemon runs.
        HostInfo {
            templates: self.sandboxes.templates.names(),
            warm: self.warm.info(),
            daemon_open_files: crate::posture::OpenFilesLimit::now(),
            ..self.info.clone()
        }
    }

    /// The templates runs may ask for, and their builds.
    pub fn templates(&self) -> &Templates {
        &self.sandboxes.templates
    }

    pub fn session_config(&self) -> &crate::session::SessionConfig {
        self.sessions.config()
    }

    /// Refuses an egress policy the configuration does not allow (egress off, or a
    /// destination outside its cap).
    pub fn permits_egress(&self, policy: Option<&crate::EgressPolicy>) -> Result<(), ExecuteError> {
        match policy {
            Some(policy) => self
                .sandboxes
                .config
                .egress
                .permits(policy)
                .map_err(|why| ExecuteError::invalid("egress", why.to_string())),
            None => Ok(()),
        }
    }

    pub fn limits(&self) -> &LimitPolicy {
        &self.sandboxes.config.limits
    }

    /// Takes no new executions from now on.
    pub fn stop_accepting(&self) {
        self.executions.admission.stop_accepting();
    }

    /// Waits until no execution is left, at most `within`; false if some still are.
    pub async fn wait_idle(&self, within: Duration) -> bool {
        self.executions.wait_idle(within).await
    }

    /// Stops in order: no new executions, sessions or session calls; running executions and
    /// session calls may finish within `grace`, then are killed (recorded as killed by the
    /// shutdown); then the sessions end, the warm pools close (after the runs and sessions,
    /// which may live in a zygote's process tree), every persistent workspace is removed, and
    /// what finished runs left to remove after their answers is.
    pub async fn shutdown(&self, grace: Duration) {
        self.stop_accepting();
        let deadline = std::time::Instant::now() + grace;
        let calls_over = |idle| async move {
            idle && self.sessions.wait_calls(deadline.saturating_duration_since(std::time::Instant::now())).await
        };
        if !calls_over(self.wait_idle(grace).await).await {
            tracing::warn!(running = self.active_executions(), "grace period over: killing running executions");
            self.warm.kill_idle();
            self.sandboxes.cancel.cancel();
            if !self.wait_idle(Duration::from_secs(10)).await {
                tracing::error!("executions still running after being killed");
            }
        }
        // Sessions first: their interpreters may be forks of the zygotes the pools close.
        self.sessions.close().await;
        self.warm.close().await;
        self.sandboxes.workspaces.clear_persistent();
        // What runs left to remove after their answers.
        self.sandboxes.workspaces.removed().await;
        self.sandboxes.cgroups.removed().await;
    }

    /// Starts a session: its template built (when needed) and its workspace created. Its
    /// interpreters start with the first call of each language.
    pub async fn create_session(&self, new: NewSession) -> Result<SessionInfo, ExecuteError> {
        self.permits_egress(new.egress.as_ref())?;
        self.sessions.create(new).await
    }

    /// Runs one cell in the session's interpreter of its language (starting one when needed).
    pub async fn session_execute(&self, call: SessionCall) -> Result<SessionResult, ExecuteError> {
        self.sessions.call(call, None).await
    }

    /// [`ExecutionService::session_execute`], passing what the cell shows to `tap` while it
    /// runs: its output chunks and each result displayed. The call runs to its end even if
    /// the receiver goes away (run it in a task of its own to outlive the caller).
    pub async fn session_execute_streaming(&self, call: SessionCall, tap: Tap) -> Result<SessionResult, ExecuteError> {
        self.sessions.call(call, Some(tap)).await
    }

    /// Whether `call` would be taken now (its session is the tenant's and alive, its limits
    /// allowed, the daemon not draining): the errors [`ExecutionService::session_execute`]
    /// gives before its cell starts, bar a session ended or an interpreter that fails to
    /// start in between.
    pub fn check_session_call(&self, call: &SessionCall) -> Result<(), ExecuteError> {
        self.sessions.check(call)
    }

    /// Ends the session `id` of `tenant`: its interpreters are killed, its workspace removed.
    pub async fn destroy_session(&self, id: &str, tenant: &str) -> Result<(), ExecuteError> {
        self.sessions.destroy(id, tenant).await
    }

    /// The language of the session's template: a call's default.
    pub fn session_language(&self, id: &str, tenant: &str) -> Result<Language, ExecuteError> {
        self.sessions.language(id, tenant)
    }

    pub fn list_sessions(&self, tenant: &str) -> Vec<SessionInfo> {
        self.sessions.list(tenant)
    }

    pub fn session_stats(&self) -> SessionStats {
        self.sessions.stats()
    }

    /// Writes each `(path, content)` into the session's workspace, all of them or none.
    pub fn upload_session_files(
        &self,
        id: &str,
        tenant: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<SessionFile>, ExecuteError> {
        self.sessions.upload_files(id, tenant, files)
    }

    /// Every regular file of the session's workspace (symlinks and special files are left out).
    pub fn list_session_files(&self, id: &str, tenant: &str) -> Result<Vec<SessionFile>, ExecuteError> {
        self.sessions.list_files(id, tenant)
    }

    /// The file at `path`, opened for reading, with its place among the transfers under way.
    pub fn download_session_file(&self, id: &str, tenant: &str, path: &str) -> Result<FileDownload, ExecuteError> {
        self.sessions.download_file(id, tenant, path)
    }
}

mod health;
mod session_ops;
#[cfg(test)]
mod tests;
