//! Commands run in a session's workspace (the E2B compatibility layer's processes): a shell
//! command with its own environment and working directory, run as a one-shot sandbox over the
//! session's persistent workspace, so it sees (and leaves) the same files as its interpreters.

use std::collections::BTreeMap;

use super::Sessions;
use crate::validate;
use crate::{ExecuteError, ExecutionRequest, ExecutionResult, Language, RequestedLimits, WorkspaceChoice};

/// One command of a session.
#[derive(Debug, Clone)]
pub struct SessionCommand {
    pub session_id: String,
    pub tenant_id: String,
    /// A Bash script.
    pub command: String,
    /// Added to the sandbox's clean environment.
    pub env_vars: BTreeMap<String, String>,
    /// Seconds; `None`: the policy's default. Capped by the policy's maximum.
    pub timeout_secs: Option<f64>,
    /// Where the command's output goes as it is written.
    pub tap: Option<crate::Tap>,
    /// Kills the command when cancelled (the session's end kills it anyway).
    pub kill: Option<tokio_util::sync::CancellationToken>,
}

impl Sessions {
    /// Runs `command` with Bash in the session's workspace and waits for its end.
    pub async fn run_command(&self, command: SessionCommand) -> Result<ExecutionResult, ExecuteError> {
        let (session, _busy) = self.registry.get(&command.session_id, &command.tenant_id)?;
        let policy = &self.sandboxes.config.limits;
        validate::check_code(&command.command, policy)?;
        let timeout = command.timeout_secs.map(|t| t.clamp(policy.min_timeout_secs, policy.max_timeout_secs));
        let timeout_ms = validate::timeout_ms(timeout, validate::default_timeout_secs(None, policy), policy)?;
        self.registry.reused();
        let cancel = session.cancel.child_token();
        if let Some(kill) = command.kill {
            let run = cancel.clone();
            // Lives until the command is killed, or its kill token or the session is dropped.
            tokio::spawn(async move {
                tokio::select! {
                    _ = kill.cancelled() => run.cancel(),
                    _ = run.cancelled() => {}
                }
            });
        }
        let request = ExecutionRequest {
            execution_id: format!("{}-{}", session.id, uuid::Uuid::new_v4().simple()),
            language: Language::Shell,
            code: command.command,
            timeout_ms,
            workspace: WorkspaceChoice::Persistent(session.workspace_name.clone()),
            event: None,
            stdin: String::new(),
            env_vars: command.env_vars,
            files: Vec::new(),
            limits: RequestedLimits::default(),
            template: session.sandbox_template().cloned(),
            tenant_id: session.tenant.clone(),
            scope: session.scope.clone(),
            warm: true,
            home_alias: true,
            cancel: Some(cancel),
            egress: session.egress.clone(),
        };
        self.executions.execute(request, command.tap).await
    }
}

impl Sessions {
    /// Kills the session's interpreter of `language` (of the named context `context`), if it
    /// has one: the next cell there starts a fresh one.
    pub async fn restart_interpreter(
        &self,
        id: &str,
        tenant: &str,
        language: Language,
        context: Option<&str>,
    ) -> Result<(), ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        let slot = match context {
            Some(name) => session.context_slot(name, language)?,
            None => session.slot(language)?,
        };
        let mut slot = slot.lock().await;
        if let Some(mut interpreter) = slot.live.take() {
            interpreter.kill().await;
        }
        slot.lost = None;
        Ok(())
    }

    /// Ends the named context `context` of `language`: its interpreter is killed.
    pub async fn drop_context(
        &self,
        id: &str,
        tenant: &str,
        context: &str,
        language: Language,
    ) -> Result<(), ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        if let Some(slot) = session.take_context(context, language) {
            if let Some(mut interpreter) = slot.lock().await.live.take() {
                interpreter.kill().await;
            }
        }
        Ok(())
    }
}
