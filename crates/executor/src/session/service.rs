//! The service's session operations: create, call, list, destroy, and the reaper.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

use super::cell;
use super::interpreter::{CallLimits, CallOutcome, Interpreter};
use super::registry::{Session, SessionStats};
use super::{NewSession, SessionInfo};
use crate::recorder::now_ms;
use crate::service::ExecutionService;
use crate::spec::{self, SpecParts};
use crate::{artifacts, runtime, validate};
use crate::{
    ExecuteError, ExecutionRequest, ExecutionResult, Language, RequestedLimits, StartedExecution, WorkspaceChoice,
};

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
}

impl ExecutionService {
    /// Starts a session: its template built (when needed) and its workspace created. Its
    /// interpreters start with the first call of each language.
    pub async fn create_session(&self, new: NewSession) -> Result<SessionInfo, ExecuteError> {
        let config = &self.sessions.config;
        let ttl = new.ttl_secs.unwrap_or(config.default_ttl_secs);
        if ttl == 0 || ttl > config.max_ttl_secs {
            return Err(ExecuteError::invalid(
                "ttl",
                format!("must be between 1 and {} seconds, got {ttl}", config.max_ttl_secs),
            ));
        }
        self.sessions.check_room(&new.tenant_id)?;
        let environment = self.templates.prepare(&new.template).await?;
        let id = self.sessions.new_id();
        let workspace_name = format!("live-{id}");
        let workspace = self.workspaces.prepare(&WorkspaceChoice::Persistent(workspace_name.clone()), &id)?;
        let session = Arc::new(Session::new(
            id,
            new.tenant_id,
            new.scope,
            new.template,
            environment,
            Duration::from_secs(ttl),
            workspace_name,
            workspace.path,
            self.cancel.child_token(),
        ));
        if let Err(e) = self.sessions.insert(Arc::clone(&session)) {
            self.workspaces.remove_persistent(&session.workspace_name);
            return Err(e);
        }
        tracing::info!(session_id = %session.id, tenant_id = %session.tenant, template = %session.template.name, ttl, "session created");
        Ok(session.info())
    }

    /// Runs one cell in the session's interpreter of its language (starting one when needed).
    pub async fn session_execute(self: &Arc<Self>, call: SessionCall) -> Result<SessionResult, ExecuteError> {
        let (session, _busy) = self.sessions.get(&call.session_id, &call.tenant_id)?;
        validate::check_code(&call.code, &self.config.limits)?;
        let template = (session.template.language == call.language).then_some(&session.template);
        let default_timeout = validate::default_timeout_secs(template, &self.config.limits);
        let timeout_ms = validate::timeout_ms(call.timeout_secs, default_timeout, &self.config.limits)?;
        let max_output = call.max_output_bytes.unwrap_or(self.config.limits.default_output_bytes);
        if max_output == 0 || max_output > self.config.limits.max_output_bytes {
            return Err(ExecuteError::invalid(
                "limits.max_output_bytes",
                format!("must be between 1 and {}, got {max_output}", self.config.limits.max_output_bytes),
            ));
        }
        self.sessions.reused();
        if call.language == Language::Shell {
            return self.session_shell(&session, call, timeout_ms, max_output).await;
        }
        let slot = session.slot(call.language);
        let mut slot = slot.lock().await;
        // Destroyed while this call waited for its turn.
        if session.ended() {
            return Err(ExecuteError::SessionNotFound(session.id.clone()));
        }
        let mut restarted = None;
        if slot.live.is_none() {
            slot.live = Some(self.start_interpreter(&session, call.language)?);
            restarted = slot.lost.take();
        }
        let Some(interpreter) = slot.live.as_mut() else {
            return Err(ExecuteError::Internal("the session's interpreter is missing".into()));
        };
        let limits = CallLimits {
            timeout: Duration::from_millis(timeout_ms),
            max_output,
            max_value: self.config.limits.max_return_value_bytes,
        };
        let execution_id = format!("{}-{}", session.id, uuid::Uuid::new_v4().simple());
        // Recorded like any execution: readable with GET /executions/{id}, delivered to the
        // control plane.
        self.record_started(StartedExecution {
            execution_id: execution_id.clone(),
            language: call.language,
            timeout_ms,
            started_at_ms: now_ms(),
            tenant_id: session.tenant.clone(),
            scope: session.scope.clone(),
        })?;
        let before = artifacts::snapshot(&session.workspace);
        let started = Instant::now();
        let outcome = interpreter.call(&call.code, &limits).await;
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        let changed = artifacts::changed_since(&session.workspace, &before);
        let language = call.language.name();
        let (mut result, display, note) = match outcome {
            CallOutcome::Reply(mut reply) => {
                let display = reply.display.take();
                (cell::answered(execution_id, reply, wall_ms, changed), display, None)
            }
            CallOutcome::TimedOut => {
                slot.live = None;
                let secs = timeout_ms as f64 / 1000.0;
                slot.lost =
                    Some(format!("the previous {language} interpreter timed out after {secs} s and was killed"));
                let message = format!(
                    "the cell did not finish within {secs} s: the session's {language} interpreter was killed, \
                     and the next call starts a new one (variables are lost; the workspace's files remain)"
                );
                (cell::timed_out(execution_id, &message, wall_ms, changed), None, Some(message))
            }
            CallOutcome::Died(why, output) => {
                slot.live = None;
                if let Some(sandbox::Outcome::SetupFailed { stage, message }) =
                    output.as_ref().map(|o| &o.report.outcome)
                {
                    slot.lost = restarted;
                    return Err(ExecuteError::Sandbox { stage: stage.clone(), message: message.clone() });
                }
                slot.lost = Some(format!("the previous {language} interpreter died ({why})"));
                let message = format!(
                    "the session's {language} interpreter died during the cell ({why}); the next call starts a new \
                     one (variables are lost; the workspace's files remain)"
                );
                let cancelled = session.cancel.is_cancelled();
                (cell::died(execution_id, &message, output.as_ref(), cancelled, wall_ms, changed), None, Some(message))
            }
        };
        // The interpreter's sandbox was built like a one-shot run's: the same layers.
        result.isolation = self.active_layers.clone();
        self.count(call.language, &result);
        self.record_finished(&result);
        let interpreter_restarted = restarted.is_some();
        let note = cell::note(language, restarted, note);
        Ok(SessionResult {
            result,
            session_id: session.id.clone(),
            language: call.language,
            display,
            interpreter_restarted,
            note,
        })
    }

    /// Shell keeps no interpreter: each call is a one-shot run in the session's workspace.
    async fn session_shell(
        self: &Arc<Self>,
        session: &Session,
        call: SessionCall,
        timeout_ms: u64,
        max_output: u64,
    ) -> Result<SessionResult, ExecuteError> {
        let request = ExecutionRequest {
            execution_id: format!("{}-{}", session.id, uuid::Uuid::new_v4().simple()),
            language: Language::Shell,
            code: call.code,
            timeout_ms,
            workspace: WorkspaceChoice::Persistent(session.workspace_name.clone()),
            event: None,
            stdin: String::new(),
            env_vars: Default::default(),
            files: Vec::new(),
            limits: RequestedLimits { max_output_bytes: Some(max_output), ..Default::default() },
            template: None,
            tenant_id: session.tenant.clone(),
            scope: session.scope.clone(),
            warm: false,
        };
        let result = self.execute(request).await?;
        Ok(SessionResult {
            result,
            session_id: session.id.clone(),
            language: Language::Shell,
            display: None,
            interpreter_restarted: false,
            note: None,
        })
    }

    fn start_interpreter(&self, session: &Session, language: Language) -> Result<Interpreter, ExecuteError> {
        let environment = (session.environment.language == language).then_some(&session.environment);
        let runtimes = runtime::runtimes_for(&self.config, environment);
        let launch = runtime::session_launch(language, &runtimes)
            .ok_or_else(|| ExecuteError::invalid("language", format!("{} keeps no interpreter", language.name())))?;
        let template = (session.template.language == language).then_some(&session.template);
        let limits = validate::limits_with_template(RequestedLimits::default(), template, &self.config.limits);
        let spec = spec::sandbox_spec(
            &self.config,
            &self.cgroups,
            SpecParts {
                launch,
                environment,
                workspace: &session.workspace,
                env_vars: &Default::default(),
                limits: &limits,
                // The interpreter lives as long as the session may.
                wall_time_ms: self.sessions.config.max_lifetime_secs.saturating_mul(1000),
                stdin: String::new(),
            },
        );
        tracing::info!(session_id = %session.id, language = language.name(), "starting a session interpreter");
        Interpreter::start(Arc::clone(&self.launcher), spec, session.cancel.child_token())
    }

    /// Ends the session `id` of `tenant`: its interpreters are killed, its workspace removed.
    pub async fn destroy_session(&self, id: &str, tenant: &str) -> Result<(), ExecuteError> {
        let session = self.sessions.remove(id, tenant)?;
        self.teardown(session).await;
        Ok(())
    }

    /// The language of the session's template: a call's default.
    pub fn session_language(&self, id: &str, tenant: &str) -> Result<Language, ExecuteError> {
        Ok(self.sessions.get(id, tenant)?.0.template.language)
    }

    pub fn list_sessions(&self, tenant: &str) -> Vec<SessionInfo> {
        self.sessions.list(tenant)
    }

    pub fn session_stats(&self) -> SessionStats {
        self.sessions.stats()
    }

    /// Destroys expired sessions every [`REAP_EVERY`] while the service lives.
    pub(crate) fn start_reaper(self: &Arc<Self>) {
        let service: Weak<ExecutionService> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(REAP_EVERY).await;
                let Some(service) = service.upgrade() else { return };
                for session in service.sessions.take_expired() {
                    tracing::info!(session_id = %session.id, tenant_id = %session.tenant, "session expired");
                    service.teardown(session).await;
                }
            }
        });
    }

    /// Kills every session and removes their workspaces (at shutdown).
    pub async fn close_sessions(&self) {
        for session in self.sessions.drain() {
            self.teardown(session).await;
        }
    }

    async fn teardown(&self, session: Arc<Session>) {
        session.cancel.cancel();
        for slot in session.slots() {
            let mut slot = slot.lock().await;
            if let Some(mut interpreter) = slot.live.take() {
                interpreter.kill().await;
            }
        }
        self.workspaces.remove_persistent(&session.workspace_name);
        tracing::info!(session_id = %session.id, "session ended");
    }
}
