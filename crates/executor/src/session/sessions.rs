//! The live sessions and what is done with them: create, call, list, destroy, and the reaper
//! that ends those idle past their TTL.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use super::interpreter::{CallLimits, Interpreter, Slot};
use super::live::{check_lifetime, check_ttl};
use super::registry::{Registry, Session, SessionStats};
use super::transfers::Transfers;
use super::{cell, egress};
use super::{NewSession, SessionConfig, SessionInfo};
use crate::executions::Executions;
use crate::recorder::now_ms;
use crate::rich::Tap;
use crate::sandboxes::Sandboxes;
use crate::spec::{self, SpecParts};
use crate::warm::{self, Pool};
use crate::{artifacts, runtime, validate};
use crate::{
    ExecuteError, ExecutionRequest, ExecutionResult, Language, RequestedLimits, StartedExecution, WorkspaceChoice,
};
use sandbox::SandboxSpec;

/// How often the reaper looks for expired sessions.
const REAP_EVERY: Duration = Duration::from_millis(500);

/// One `POST /session/execute`, its fields already parsed.
#[derive(Debug, Clone)]
pub struct SessionCall {
    pub session_id: String,
    pub tenant_id: String,
    pub language: Language,
    pub code: String,
    /// Seconds; `None`: the template's default.
    pub timeout_secs: Option<f64>,
    pub max_output_bytes: Option<u64>,
    /// A named interpreter of the session (with variables of its own) instead of the one of
    /// its language; created on first use.
    pub context: Option<String>,
}

/// A session call's result: a one-shot run's fields plus the notebook's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionResult {
    #[serde(flatten)]
    pub result: ExecutionResult,
    pub session_id: String,
    pub language: Language,
    /// The value of the cell's final expression as a notebook shows it (Python's `repr()`,
    /// Node's `util.inspect`), or null when the cell ends with a statement or its value is
    /// None/undefined. `return_value` holds the same value as JSON when it is JSON-serialisable
    /// (and nests at most 126 levels deep).
    pub display: Option<String>,
    /// True when this call had to start a new interpreter because the previous one of this
    /// language timed out or died: the variables, functions and imports made before are gone
    /// (the workspace's files remain). `note` says why.
    pub interpreter_restarted: bool,
    /// A human explanation of `interpreter_restarted` or of a timeout or crash in this call.
    pub note: Option<String>,
    /// What the cell displayed, as a notebook shows it: a MIME bundle for each `display(...)`
    /// and figure shown (`is_main_result: false`), in order, and one for the value of the
    /// cell's last expression (`is_main_result: true`). Empty for shell calls.
    pub results: Vec<crate::RichResult>,
    /// The interpreter's count of the cells it has run, this one included (a notebook's
    /// `In [n]`); a new interpreter counts from 1. Null for shell calls.
    pub execution_count: Option<u64>,
}

/// The sessions of the service, and what their calls run with.
pub struct Sessions {
    pub(crate) registry: Registry,
    pub(crate) sandboxes: Arc<Sandboxes>,
    /// A shell call is a one-shot execution; every call is recorded and counted like one.
    pub(crate) executions: Arc<Executions>,
    /// Python interpreters are forked from its zygotes when they are ready.
    pub(crate) warm: Arc<Pool>,
    /// Calls in flight: a shutdown lets them finish within its grace.
    calls: tokio_util::task::TaskTracker,
    /// Downloads under way, within their caps.
    pub(super) transfers: Arc<Transfers>,
    /// Watches of workspace directories, each session's within its cap.
    pub(super) watches: Arc<super::watch::WatchTable>,
}

/// What one call of a session runs: its id, its limits, and the interpreter slot it holds.
struct Cell<'a> {
    execution_id: String,
    timeout_ms: u64,
    limits: CallLimits,
    slot: &'a mut Slot,
    /// Why the previous interpreter was lost, when this call started a new one.
    restarted: Option<String>,
    tap: Option<Tap>,
}

impl Sessions {
    pub(crate) fn new(
        config: SessionConfig,
        sandboxes: Arc<Sandboxes>,
        executions: Arc<Executions>,
        warm: Arc<Pool>,
    ) -> Arc<Sessions> {
        let calls = tokio_util::task::TaskTracker::new();
        let transfers = Transfers::new(config.max_transfers, config.max_transfers_per_tenant);
        let registry = Registry::new(config);
        let sessions =
            Arc::new(Sessions { registry, sandboxes, executions, warm, calls, transfers, watches: Default::default() });
        sessions.start_reaper();
        sessions
    }

    pub fn config(&self) -> &SessionConfig {
        &self.registry.config
    }

    /// Starts a session: its template built (when needed) and its workspace created. Its
    /// interpreters start with the first call of each language.
    pub async fn create(&self, new: NewSession) -> Result<SessionInfo, ExecuteError> {
        self.accepting()?;
        let config = &self.registry.config;
        let ttl = match new.lifetime_secs {
            Some(lifetime) => check_lifetime(lifetime)?,
            None => check_ttl(new.ttl_secs.unwrap_or(config.default_ttl_secs), config)?,
        };
        self.registry.check_room(&new.tenant_id)?;
        let environment = self.sandboxes.templates.prepare(&new.template).await?;
        let id = self.registry.new_id();
        let workspace_name = format!("live-{id}");
        let workspaces = &self.sandboxes.workspaces;
        let workspace = workspaces.prepare(&WorkspaceChoice::Persistent(workspace_name.clone()), &id)?;
        if new.egress.is_some() {
            if let Err(e) = workspaces.write_files(&workspace, &egress::layer_files()) {
                workspaces.remove_persistent(&workspace_name);
                return Err(e);
            }
        }
        let mut session = Session::new(
            id,
            new.tenant_id,
            new.scope,
            new.template,
            environment,
            Duration::from_secs(ttl),
            workspace_name,
            workspace.path,
            self.sandboxes.cancel.child_token(),
        );
        session.home_alias = new.home_alias;
        session.egress = new.egress;
        session.max_interpreters = config.max_interpreters;
        session.set_attributes(new.attributes);
        if let Some(lifetime) = new.lifetime_secs {
            session.end_in(Duration::from_secs(lifetime), self.registry.lifetime());
        }
        let session = Arc::new(session);
        if let Err(e) = self.registry.insert(Arc::clone(&session)) {
            workspaces.remove_persistent(&session.workspace_name);
            return Err(e);
        }
        tracing::info!(session_id = %session.id, tenant_id = %session.tenant, template = %session.template.name, ttl, "session created");
        Ok(session.info(self.registry.lifetime()))
    }

    /// Runs one cell in the session's interpreter of its language (starting one when needed),
    /// passing what it shows meanwhile to `tap`.
    pub async fn call(&self, call: SessionCall, tap: Option<Tap>) -> Result<SessionResult, ExecuteError> {
        let (session, _busy) = self.registry.get(&call.session_id, &call.tenant_id)?;
        // Once the daemon drains, its sessions take no new calls: they end with it.
        self.accepting().map_err(|_| ExecuteError::SessionEnding(session.id.clone()))?;
        let _in_flight = self.calls.token();
        let (timeout_ms, max_output) = self.call_limits(&session, &call)?;
        self.registry.reused();
        if call.language == Language::Shell {
            return self.shell(&session, call, timeout_ms, max_output, tap).await;
        }
        let slot = match &call.context {
            Some(name) => session.context_slot(name, call.language)?,
            None => session.slot(call.language)?,
        };
        let mut slot = slot.lock().await;
        // Destroyed while this call waited for its turn.
        if session.ended() {
            return Err(ExecuteError::SessionNotFound(session.id.clone()));
        }
        let mut restarted = None;
        if slot.live.is_none() {
            slot.live = Some(self.start_interpreter(&session, call.language).await?);
            restarted = slot.lost.take();
        }
        let limits = CallLimits {
            timeout: Duration::from_millis(timeout_ms),
            max_output,
            max_value: self.sandboxes.config.limits.max_return_value_bytes,
        };
        let execution_id = format!("{}-{}", session.id, uuid::Uuid::new_v4().simple());
        let cell = Cell { execution_id, timeout_ms, limits, slot: &mut slot, restarted, tap };
        self.run_cell(&session, &call, cell).await
    }

    /// What [`Sessions::call`] checks before it starts the cell.
    pub fn check(&self, call: &SessionCall) -> Result<(), ExecuteError> {
        let (session, _busy) = self.registry.get(&call.session_id, &call.tenant_id)?;
        self.accepting()?;
        self.call_limits(&session, call).map(drop)
    }

    fn accepting(&self) -> Result<(), ExecuteError> {
        match self.executions.admission.accepting() {
            true => Ok(()),
            false => Err(ExecuteError::ShuttingDown),
        }
    }

    /// Waits until the calls in flight are over, at most `within`; false if some still run.
    pub async fn wait_calls(&self, within: Duration) -> bool {
        self.calls.close();
        tokio::time::timeout(within, self.calls.wait()).await.is_ok()
    }

    /// The call's timeout and output cap, checked against the policy.
    fn call_limits(&self, session: &Session, call: &SessionCall) -> Result<(u64, u64), ExecuteError> {
        let policy = &self.sandboxes.config.limits;
        validate::check_code(&call.code, policy)?;
        let template = (session.template.language == call.language).then_some(&session.template);
        let default_timeout = validate::default_timeout_secs(template, policy);
        let timeout_ms = validate::timeout_ms(call.timeout_secs, default_timeout, policy)?;
        let max_output = call.max_output_bytes.unwrap_or(policy.default_output_bytes);
        if max_output == 0 || max_output > policy.max_output_bytes {
            return Err(ExecuteError::invalid(
                "limits.max_output_bytes",
                format!("must be between 1 and {}, got {max_output}", policy.max_output_bytes),
            ));
        }
        Ok((timeout_ms, max_output))
    }

    /// Sends the cell to the live interpreter of its slot and makes its result, recorded like
    /// any execution's (readable with GET /executions/{id}, delivered to the control plane).
    async fn run_cell(
        &self,
        session: &Session,
        call: &SessionCall,
        cell: Cell<'_>,
    ) -> Result<SessionResult, ExecuteError> {
        let Some(interpreter) = cell.slot.live.as_mut() else {
            return Err(ExecuteError::Internal("the session's interpreter is missing".into()));
        };
        self.executions.record_started(StartedExecution {
            execution_id: cell.execution_id.clone(),
            language: call.language,
            timeout_ms: cell.timeout_ms,
            started_at_ms: now_ms(),
            tenant_id: session.tenant.clone(),
            scope: session.scope.clone(),
        })?;
        let before = artifacts::snapshot(&session.workspace);
        let path = interpreter.path;
        let started = Instant::now();
        let mark = interpreter.network_mark();
        let outcome = interpreter.call(&call.code, &cell.limits, cell.tap.as_ref()).await;
        let network = interpreter.network_since(mark);
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        let changed = artifacts::changed_since(&session.workspace, &before);
        let Cell { execution_id, timeout_ms, slot, mut restarted, .. } = cell;
        let ended = cell::Ended { execution_id, timeout_ms, wall_ms, changed };
        let cancelled = session.cancel.is_cancelled();
        let settled = cell::settle(call.language, outcome, ended, slot, &mut restarted, cancelled)?;
        let cell::Settled { mut result, display, results, execution_count, note } = settled;
        if let Some(network) = network {
            crate::outcome::with_network(&mut result, network);
        }
        let language = call.language.name();
        // The interpreter's sandbox was built like a one-shot run's: the same layers.
        result.isolation = self.sandboxes.active_layers.clone();
        result.metrics.path = path;
        self.executions.count(call.language, &result);
        self.executions.record_finished(&result);
        let interpreter_restarted = restarted.is_some();
        let note = cell::note(language, restarted, note);
        Ok(SessionResult {
            result,
            session_id: session.id.clone(),
            language: call.language,
            display,
            interpreter_restarted,
            note,
            results,
            execution_count,
        })
    }

    /// Shell keeps no interpreter: each call is a one-shot run in the session's workspace.
    async fn shell(
        &self,
        session: &Session,
        call: SessionCall,
        timeout_ms: u64,
        max_output: u64,
        tap: Option<Tap>,
    ) -> Result<SessionResult, ExecuteError> {
        let request = ExecutionRequest {
            execution_id: format!("{}-{}", session.id, uuid::Uuid::new_v4().simple()),
            language: Language::Shell,
            code: call.code,
            timeout_ms,
            workspace: WorkspaceChoice::Persistent(session.workspace_name.clone()),
            event: None,
            stdin: String::new(),
            env_vars: egress::package_vars(session.egress.as_ref()),
            files: Vec::new(),
            limits: RequestedLimits { max_output_bytes: Some(max_output), ..Default::default() },
            template: session.sandbox_template().cloned(),
            tenant_id: session.tenant.clone(),
            scope: session.scope.clone(),
            warm: true,
            home_alias: session.home_alias,
            cancel: Some(session.cancel.child_token()),
            egress: session.egress.clone(),
        };
        let result = self.executions.execute(request, tap).await?;
        Ok(SessionResult {
            result,
            session_id: session.id.clone(),
            language: Language::Shell,
            display: None,
            interpreter_restarted: false,
            note: None,
            results: Vec::new(),
            execution_count: None,
        })
    }

    /// Starts the session's interpreter of `language`: forked by a ready zygote of its
    /// template when there is one (Python), else cold.
    async fn start_interpreter(&self, session: &Session, language: Language) -> Result<Interpreter, ExecuteError> {
        if session.home_alias {
            return self.boxed_interpreter(session, language).await;
        }
        let mut spec = self.interpreter_spec(session, language)?;
        tracing::info!(session_id = %session.id, language = language.name(), "starting a session interpreter");
        let template = session.sandbox_template();
        // A session with a policy has its packages' layer on PYTHONPATH, which a zygote's
        // interpreter, started long before, never reads: its interpreters start cold.
        let forks = language == Language::Python && session.egress.is_none();
        let zygote = forks.then(|| self.warm.zygote(template)).flatten();
        if let Some(zygote) = zygote {
            let cancel = session.cancel.child_token();
            if let Some((live, socket, path)) =
                warm::fork_live(&self.sandboxes, zygote, &spec, &session.workspace, cancel).await
            {
                return Ok(Interpreter::serving(live, socket, path));
            }
        }
        let cancel = session.cancel.child_token();
        let door = egress::open_door(&self.sandboxes, session.egress.as_ref(), &session.id, &mut spec, &cancel)?;
        Interpreter::start(Arc::clone(&self.sandboxes.launcher), spec, cancel, door)
    }

    /// The cold-path spec of the session's interpreter of `language`.
    fn interpreter_spec(&self, session: &Session, language: Language) -> Result<SandboxSpec, ExecuteError> {
        // Every interpreter sees the template's environment; only its own language's takes
        // the template's interpreter.
        let environment = Some(&session.environment);
        let config = &self.sandboxes.config;
        let runtimes = runtime::runtimes_for(config, environment);
        let launch = runtime::session_launch(language, &runtimes)
            .ok_or_else(|| ExecuteError::invalid("language", format!("{} keeps no interpreter", language.name())))?;
        let template = (session.template.language == language).then_some(&session.template);
        let limits = validate::limits_with_template(RequestedLimits::default(), template, &config.limits);
        let mut env_vars = egress::package_vars(session.egress.as_ref());
        if session.home_alias {
            env_vars.insert("HOME".to_string(), spec::rootfs::HOME_USER.to_string());
        }
        let mut spec = spec::sandbox_spec(
            config,
            &self.sandboxes.cgroups,
            SpecParts {
                launch,
                environment,
                workspace: &session.workspace,
                env_vars: &env_vars,
                limits: &limits,
                // The interpreter lives as long as the session may.
                wall_time_ms: self.registry.config.max_lifetime_secs.saturating_mul(1000),
                stdin: String::new(),
            },
        );
        if session.home_alias {
            spec::alias_home(&mut spec);
        }
        Ok(spec)
    }

    /// Ends the session `id` of `tenant`: its interpreters are killed, its workspace removed.
    pub async fn destroy(&self, id: &str, tenant: &str) -> Result<(), ExecuteError> {
        let session = self.registry.remove(id, tenant)?;
        self.teardown(session).await;
        Ok(())
    }

    /// The language of the session's template: a call's default.
    pub fn language(&self, id: &str, tenant: &str) -> Result<Language, ExecuteError> {
        Ok(self.registry.get(id, tenant)?.0.template.language)
    }

    pub fn list(&self, tenant: &str) -> Vec<SessionInfo> {
        self.registry.list(tenant)
    }

    pub fn stats(&self) -> SessionStats {
        self.registry.stats()
    }

    /// Destroys expired sessions every [`REAP_EVERY`] while the service lives.
    fn start_reaper(self: &Arc<Self>) {
        let sessions: Weak<Sessions> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REAP_EVERY).await;
                let Some(sessions) = sessions.upgrade() else { return };
                for session in sessions.registry.take_expired() {
                    tracing::info!(session_id = %session.id, tenant_id = %session.tenant, "session expired");
                    sessions.teardown(session).await;
                }
            }
        });
    }

    /// Kills every session and removes their workspaces (at shutdown).
    pub async fn close(&self) {
        for session in self.registry.drain() {
            self.teardown(session).await;
        }
    }

    async fn teardown(&self, session: Arc<Session>) {
        session.cancel.cancel();
        if let Some(the_box) = session.the_box.lock().await.take() {
            the_box.kill().await;
        }
        for slot in session.slots() {
            let mut slot = slot.lock().await;
            if let Some(mut interpreter) = slot.live.take() {
                interpreter.kill().await;
            }
        }
        self.sandboxes.workspaces.remove_persistent(&session.workspace_name);
        tracing::info!(session_id = %session.id, "session ended");
    }
}
