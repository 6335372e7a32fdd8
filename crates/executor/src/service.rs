//! The execution service: the one entry point for running code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::admission::{Admission, Ticket};
use crate::launcher::{ColdLauncher, Launcher};
use crate::recorder::{now_ms, ExecutionRecord, ExecutionRecorder, StartedExecution};
use crate::templates::Templates;
use crate::workspace::Workspaces;
use crate::{posture, run};
use crate::{
    ExecuteError, ExecutionRequest, ExecutionResult, ExecutionStatus, ExecutorConfig, Language, LimitPolicy,
    RuntimePaths, WorkspaceChoice,
};

/// What `GET /info` reports about this host and the sandbox in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostInfo {
    pub version: String,
    pub platform: Platform,
    pub isolation: Isolation,
    pub languages: Vec<LanguageInfo>,
    pub limits: LimitPolicy,
    /// Names of the templates runs may ask for (`GET /templates` has the details).
    pub templates: Vec<String>,
    /// The pre-started sandboxes that serve runs warm.
    pub warm: crate::WarmInfo,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Isolation {
    /// How runs are isolated: `linux-namespaces`.
    pub mechanism: String,
    /// Every layer, in force or not, with why.
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Layer {
    pub name: String,
    pub active: bool,
    pub detail: String,
    /// The daemon is configured to refuse to run without this layer.
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LanguageInfo {
    pub language: crate::Language,
    pub interpreter: String,
    /// The interpreter's own version string, or null when it is missing.
    pub version: Option<String>,
}

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
    pub(crate) config: ExecutorConfig,
    pub(crate) workspaces: Workspaces,
    pub(crate) launcher: Arc<dyn Launcher>,
    pub(crate) templates: Templates,
    pub(crate) cgroups: Arc<sandbox::cgroup::Manager>,
    pub(crate) sessions: crate::session::Registry,
    pub(crate) warm: crate::warm::Pool,
    admission: Arc<Admission>,
    recorder: Option<Arc<dyn ExecutionRecorder>>,
    pub(crate) cancel: CancellationToken,
    health: Result<(), String>,
    /// Required layers that are not in force here, each with why.
    missing_required: Vec<String>,
    /// Names of the layers in force, recorded on every result.
    pub(crate) active_layers: Vec<String>,
    info: HostInfo,
    finished: [AtomicU64; 4],
    max: (usize, usize),
}

impl ExecutionService {
    /// Opens the workspace root and runs one real sandboxed program to learn whether the
    /// sandbox works here; the answer drives `/health` and the layers of `/info`.
    pub async fn new(config: ExecutorConfig, options: ServiceOptions) -> Result<Arc<Self>, ExecuteError> {
        let owner =
            if sandbox::host::is_root() { (config.identity.host_uid, config.identity.host_gid) } else { current_ids() };
        let workspaces = Workspaces::open(&config.workspace_root, config.limits.workspace_bytes, owner)?;
        let cgroups = Arc::new(sandbox::cgroup::Manager::open(&config.cgroups));
        for state in cgroups.states().iter().filter(|s| !s.active) {
            tracing::warn!(controller = %state.name, reason = %state.detail, "cgroup controller not in force");
        }
        let launcher = options.launcher.clone().unwrap_or_else(|| {
            Arc::new(ColdLauncher { init_exe: config.init_exe.clone(), cgroups: Some(cgroups.clone()) })
        });
        let templates = Templates::open(&config.templates, &config.runtimes, &config.limits)
            .map_err(|e| ExecuteError::Internal(format!("templates: {e}")))?;
        let languages = interpreters(&config.runtimes).await;
        let mut service = ExecutionService {
            info: HostInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                platform: Platform {
                    os: std::env::consts::OS.into(),
                    arch: std::env::consts::ARCH.into(),
                    kernel: sandbox::host::kernel_release(),
                },
                isolation: Isolation { mechanism: "linux-namespaces".into(), layers: Vec::new() },
                languages,
                limits: config.limits.clone(),
                templates: Vec::new(),
                warm: crate::warm::Pool::new(Default::default()).info(),
            },
            config,
            workspaces,
            launcher,
            templates,
            cgroups,
            sessions: crate::session::Registry::new(options.sessions),
            warm: crate::warm::Pool::new(options.warm),
            admission: Admission::new(options.max_running, options.max_queued),
            recorder: options.recorder,
            cancel: CancellationToken::new(),
            health: Ok(()),
            missing_required: Vec::new(),
            active_layers: Vec::new(),
            finished: Default::default(),
            max: (options.max_running, options.max_queued),
        };
        service.health = service.self_test().await;
        if let Err(reason) = &service.health {
            tracing::error!(%reason, "the sandbox does not work on this host");
        }
        let capped = service.workspaces.size_capped();
        let posture = |self_test: &Result<(), String>| {
            posture::layers(self_test, capped, service.config.confinement, service.cgroups.states())
        };
        let mut layers = posture(&service.health);
        // Requirements are checked against what the host supports: a failed self-test is a
        // health problem (503 with its reason), not a missing layer.
        let mut supported = posture(&Ok(()));
        service.missing_required = posture::require(&mut supported, &service.config.required_layers)
            .map_err(|e| ExecuteError::invalid("require", e))?;
        for (layer, supported) in layers.iter_mut().zip(&supported) {
            layer.required = supported.required;
        }
        if !service.missing_required.is_empty() && service.health.is_ok() {
            service.health = Err(format!("required isolation layers missing: {}", service.missing_required.join(", ")));
        }
        service.active_layers = layers.iter().filter(|l| l.active).map(|l| l.name.clone()).collect();
        service.info.isolation.layers = layers;
        let service = Arc::new(service);
        service.start_reaper();
        Ok(service)
    }

    /// Starts the warm pools (when configured and the sandbox works here). Called once the
    /// daemon is sure to serve: pooled sandboxes hold mounts that only an orderly stop removes.
    pub fn start_warm(self: &Arc<Self>) {
        if self.health.is_ok() {
            self.warm.start(self);
        }
    }

    /// Runs `req` to its end and answers with its result, once recorded. The run goes on
    /// even if the caller stops waiting for it.
    pub async fn execute(self: &Arc<Self>, req: ExecutionRequest) -> Result<ExecutionResult, ExecuteError> {
        let ticket = self.admit(&req)?;
        let this = Arc::clone(self);
        let span = execution_span(&req);
        tokio::spawn(async move { this.run_admitted(ticket, req).await }.instrument(span))
            .await
            .map_err(|e| ExecuteError::Internal(format!("execution task failed: {e}")))?
    }

    /// Takes `req` on and returns at once with its id; the result is recorded when it ends
    /// and can be read with [`ExecutionService::lookup`].
    pub fn submit(self: &Arc<Self>, req: ExecutionRequest) -> Result<String, ExecuteError> {
        if self.recorder.is_none() {
            return Err(ExecuteError::Internal("asynchronous runs need the execution store".into()));
        }
        let ticket = self.admit(&req)?;
        let id = req.execution_id.clone();
        let this = Arc::clone(self);
        let span = execution_span(&req);
        tokio::spawn(
            async move {
                if let Err(e) = this.run_admitted(ticket, req).await {
                    tracing::error!(error = %e, "asynchronous execution failed");
                }
            }
            .instrument(span),
        );
        Ok(id)
    }

    /// The state of an execution, and its result once finished. Another tenant's execution is
    /// not found, exactly like one that never ran: ids do not leak across tenants.
    pub fn lookup(&self, execution_id: &str, tenant_id: &str) -> Result<ExecutionRecord, ExecuteError> {
        let recorder = self.recorder.as_ref().ok_or_else(|| ExecuteError::NotFound(execution_id.into()))?;
        recorder
            .lookup(execution_id)
            .map_err(ExecuteError::Internal)?
            .filter(|record| record.tenant_id == tenant_id)
            .ok_or_else(|| ExecuteError::NotFound(execution_id.into()))
    }

    pub fn active_executions(&self) -> usize {
        self.admission.active()
    }

    /// Executions taken on and not finished, with how long ago (for heartbeats).
    pub fn active_ids(&self) -> Vec<(String, Duration)> {
        self.admission.active_ids()
    }

    pub fn stats(&self) -> ServiceStats {
        let count = |i: usize| self.finished[i].load(Ordering::Relaxed);
        ServiceStats {
            executions_total: (0..4).map(count).sum(),
            executions_succeeded: count(0),
            executions_failed: count(1),
            executions_timed_out: count(2),
            executions_killed: count(3),
            active_executions: self.admission.active() as u64,
            queued_executions: self.admission.queued() as u64,
            max_running: self.max.0 as u64,
            max_queued: self.max.1 as u64,
            sessions: self.sessions.stats(),
        }
    }

    /// `Err(reason)` when the sandbox cannot work on this host.
    pub fn health(&self) -> Result<(), String> {
        self.health.clone()
    }

    /// Layers the configuration requires that are not in force, each with why; the daemon
    /// refuses to start when there is any.
    pub fn missing_required(&self) -> &[String] {
        &self.missing_required
    }

    pub fn info(&self) -> HostInfo {
        // Templates can be added while the daemon runs.
        HostInfo { templates: self.templates.names(), warm: self.warm.info(), ..self.info.clone() }
    }

    /// The templates runs may ask for, and their builds.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    pub fn session_config(&self) -> &crate::session::SessionConfig {
        &self.sessions.config
    }

    pub fn limits(&self) -> &LimitPolicy {
        &self.config.limits
    }

    /// Takes no new executions from now on.
    pub fn stop_accepting(&self) {
        self.admission.stop_accepting();
    }

    /// Waits until no execution is left, at most `within`; false if some still are.
    pub async fn wait_idle(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.admission.active() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Kills every running sandbox; their results are recorded as killed by the shutdown.
    pub fn kill_all(&self) {
        self.warm.kill_idle();
        self.cancel.cancel();
    }

    /// Kills the pre-started sandboxes and removes their workspaces (at shutdown).
    pub async fn close_warm(&self) {
        self.warm.close(self).await;
    }

    /// Every place to run is taken: background work (refilling pools) waits.
    pub(crate) fn busy(&self) -> bool {
        self.admission.active() >= self.max.0
    }

    /// Kills every session's interpreters and removes persistent workspaces, sessions' too
    /// (at shutdown; [`ExecutionService::close_sessions`] first waits for the kills).
    pub fn shutdown(&self) {
        self.warm.kill_idle();
        for session in self.sessions.drain() {
            session.cancel.cancel();
        }
        self.workspaces.clear_persistent();
    }

    fn admit(&self, req: &ExecutionRequest) -> Result<Ticket, ExecuteError> {
        let ticket = self.admission.admit(&req.execution_id, &req.tenant_id)?;
        self.record_started(StartedExecution {
            execution_id: req.execution_id.clone(),
            language: req.language,
            timeout_ms: req.timeout_ms,
            started_at_ms: now_ms(),
            tenant_id: req.tenant_id.clone(),
            scope: req.scope.clone(),
        })?;
        Ok(ticket)
    }

    /// Records a run as started, when there is a store.
    pub(crate) fn record_started(&self, started: StartedExecution) -> Result<(), ExecuteError> {
        match &self.recorder {
            Some(recorder) => recorder.started(&started),
            None => Ok(()),
        }
    }

    /// Records a run's result (and queues it for the control plane) before anybody is told; a
    /// failure here is logged, and the caller still gets the result.
    pub(crate) fn record_finished(&self, result: &ExecutionResult) {
        if let Some(recorder) = &self.recorder {
            if let Err(e) = recorder.finished(result) {
                tracing::error!(error = %e, "cannot record the result");
            }
        }
    }

    async fn run_admitted(&self, ticket: Ticket, req: ExecutionRequest) -> Result<ExecutionResult, ExecuteError> {
        let _turn = ticket.turn().await;
        let language = req.language;
        let outcome = self.run(req, self.cancel.child_token()).await;
        match &outcome {
            Ok(r) => {
                tracing::info!(status = ?r.status, exit_code = r.exit_code, duration_ms = r.metrics.duration_ms, "finished")
            }
            Err(e) => tracing::warn!(error = %e, "not run"),
        }
        let recorded = match &outcome {
            Ok(result) => {
                self.count(language, result);
                result.clone()
            }
            Err(e) => ExecutionResult::not_run(&ticket.execution_id, e.kind(), &e.to_string()),
        };
        self.record_finished(&recorded);
        drop(ticket);
        outcome
    }

    pub(crate) fn count(&self, language: Language, result: &ExecutionResult) {
        let (slot, status) = match result.status {
            ExecutionStatus::Success => (0, "success"),
            ExecutionStatus::Failed => (1, "failed"),
            ExecutionStatus::Timeout => (2, "timeout"),
            ExecutionStatus::Killed => (3, "killed"),
        };
        self.finished[slot].fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sandbox_executions_total", "language" => language.name(), "status" => status).increment(1);
        metrics::histogram!("sandbox_execution_duration_seconds", "language" => language.name())
            .record(result.execution_time);
    }

    async fn self_test(&self) -> Result<(), String> {
        let req = ExecutionRequest {
            execution_id: format!("self-test-{}", uuid::Uuid::new_v4().simple()),
            language: Language::Shell,
            code: "exit 0".into(),
            timeout_ms: 10_000,
            workspace: WorkspaceChoice::Fresh,
            event: None,
            stdin: String::new(),
            env_vars: Default::default(),
            files: Vec::new(),
            limits: Default::default(),
            template: None,
            tenant_id: crate::DEFAULT_TENANT.into(),
            scope: None,
            warm: false,
        };
        match self.run(req, CancellationToken::new()).await {
            Ok(result) if result.exit_code == 0 => Ok(()),
            Ok(result) => Err(format!("a sandboxed `exit 0` ended with {:?}: {}", result.status, result.stderr.trim())),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn run(&self, req: ExecutionRequest, cancel: CancellationToken) -> Result<ExecutionResult, ExecuteError> {
        run::run(self, req, cancel).await
    }
}

/// Every log line of a run carries its execution id (and, through the parent span, the
/// request id).
fn execution_span(req: &ExecutionRequest) -> tracing::Span {
    tracing::info_span!(
        "execution",
        execution_id = %req.execution_id,
        language = req.language.name(),
        tenant_id = %req.tenant_id,
        scope = req.scope.as_deref(),
    )
}

fn current_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((65534, 65534))
}

/// Each language's interpreter and its version, asked of the interpreter itself.
async fn interpreters(runtimes: &RuntimePaths) -> Vec<LanguageInfo> {
    let mut found = Vec::new();
    for (language, path) in [
        (Language::Python, &runtimes.python),
        (Language::Javascript, &runtimes.node),
        (Language::Shell, &runtimes.bash),
    ] {
        let output = tokio::process::Command::new(path).arg("--version").env_clear().output().await;
        let version = output.ok().filter(|o| o.status.success()).and_then(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().map(|l| l.trim().to_string())
        });
        found.push(LanguageInfo { language, interpreter: path.display().to_string(), version });
    }
    found
}
