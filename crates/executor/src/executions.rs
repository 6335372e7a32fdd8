//! The one-shot executions the service has taken on: admission, the run, the record of its
//! start and result, and the counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::admission::{Admission, Ticket};
use crate::lifecycle;
use crate::recorder::{now_ms, ExecutionRecord, ExecutionRecorder, StartedExecution};
use crate::rich::{self, Tap};
use crate::sandboxes::Sandboxes;
use crate::warm::{NotTaken, Pool};
use crate::{ExecuteError, ExecutionRequest, ExecutionResult, ExecutionStatus, Language};

/// A run taken on, going on in a task of its own: awaiting it gives its result.
pub type Running = std::pin::Pin<Box<dyn std::future::Future<Output = Result<ExecutionResult, ExecuteError>> + Send>>;

pub(crate) struct Executions {
    pub sandboxes: Arc<Sandboxes>,
    pub warm: Arc<Pool>,
    pub admission: Arc<Admission>,
    recorder: Option<Arc<dyn ExecutionRecorder>>,
    /// Finished executions by status: succeeded, failed, timed out, killed.
    finished: [AtomicU64; 4],
}

impl Executions {
    pub fn new(
        sandboxes: Arc<Sandboxes>,
        warm: Arc<Pool>,
        admission: Arc<Admission>,
        recorder: Option<Arc<dyn ExecutionRecorder>>,
    ) -> Executions {
        Executions { sandboxes, warm, admission, recorder, finished: Default::default() }
    }

    /// Runs `req` to its end and answers with its result, once recorded. The run goes on
    /// even if the caller stops waiting for it.
    /// Its output chunks go to `tap` as the code writes them.
    pub async fn execute(
        self: &Arc<Self>,
        req: ExecutionRequest,
        tap: Option<Tap>,
    ) -> Result<ExecutionResult, ExecuteError> {
        self.spawn(req, tap)?.await
    }

    /// Takes `req` on (or refuses it) now, and runs it in a task of its own, whose end is the
    /// result: the run goes on even if nobody waits for it.
    pub fn spawn(self: &Arc<Self>, req: ExecutionRequest, tap: Option<Tap>) -> Result<Running, ExecuteError> {
        let ticket = self.admit(&req)?;
        let this = Arc::clone(self);
        let span = execution_span(&req);
        let task = tokio::spawn(async move { this.run_admitted(ticket, req, tap).await }.instrument(span));
        Ok(Box::pin(
            async move { task.await.map_err(|e| ExecuteError::Internal(format!("execution task failed: {e}")))? },
        ))
    }

    /// Takes `req` on and returns at once with its id; the result is recorded when it ends.
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
                if let Err(e) = this.run_admitted(ticket, req, None).await {
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
            .map_err(|e| ExecuteError::Internal(e.to_string()))?
            .filter(|record| record.tenant_id == tenant_id)
            .ok_or_else(|| ExecuteError::NotFound(execution_id.into()))
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

    /// Finished executions: succeeded, failed, timed out, killed.
    pub fn finished(&self) -> [u64; 4] {
        std::array::from_fn(|i| self.finished[i].load(Ordering::Relaxed))
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
    pub fn record_started(&self, started: StartedExecution) -> Result<(), ExecuteError> {
        match &self.recorder {
            Some(recorder) => recorder.started(&started),
            None => Ok(()),
        }
    }

    /// Records a run's result (and queues it for the control plane) before anybody is told; a
    /// failure here is logged, and the caller still gets the result.
    pub fn record_finished(&self, result: &ExecutionResult) {
        if let Some(recorder) = &self.recorder {
            if let Err(e) = recorder.finished(result) {
                tracing::error!(error = %e, "cannot record the result");
            }
        }
    }

    async fn run_admitted(
        &self,
        ticket: Ticket,
        req: ExecutionRequest,
        tap: Option<Tap>,
    ) -> Result<ExecutionResult, ExecuteError> {
        let queued = std::time::Instant::now();
        let _turn = ticket.turn().await;
        let queue_ms = lifecycle::ms(queued.elapsed());
        let language = req.language;
        let cancel = match &req.cancel {
            Some(session) => session.child_token(),
            None => self.sandboxes.cancel.child_token(),
        };
        let mut outcome = lifecycle::run(&self.sandboxes, &self.warm, &req, cancel, rich::output_tap(tap)).await;
        if let Some(phases) = outcome.as_mut().ok().and_then(|r| r.metrics.phases.as_mut()) {
            phases.queue_ms = queue_ms;
        }
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
        let storing = std::time::Instant::now();
        self.record_finished(&recorded);
        drop(ticket);
        if let Some(phases) = outcome.as_mut().ok().and_then(|r| r.metrics.phases.as_mut()) {
            phases.store_ms = lifecycle::ms(storing.elapsed());
            phases.observe();
        }
        outcome
    }

    pub fn count(&self, language: Language, result: &ExecutionResult) {
        let slot = match result.status {
            ExecutionStatus::Success => 0,
            ExecutionStatus::Failed => 1,
            ExecutionStatus::Timeout => 2,
            ExecutionStatus::Killed => 3,
        };
        let status = result.status.name();
        self.finished[slot].fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sandbox_executions_total", "language" => language.name(), "status" => status).increment(1);
        metrics::histogram!("sandbox_execution_duration_seconds", "language" => language.name())
            .record(result.execution_time);
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

/// Why the sandboxed `exit 0` of the self-test did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelfTestError {
    #[error(transparent)]
    NotTaken(#[from] NotTaken),
    #[error("a sandboxed `exit 0` ended with {status:?}: {stderr}")]
    Ended { status: ExecutionStatus, stderr: String },
    #[error(transparent)]
    NotRun(#[from] ExecuteError),
}

/// A sandboxed `exit 0`, run cold through the one lifecycle: whether the sandbox works here.
pub(crate) async fn self_test(sandboxes: &Sandboxes) -> Result<(), SelfTestError> {
    let req = ExecutionRequest {
        execution_id: format!("self-test-{}", uuid::Uuid::new_v4().simple()),
        language: Language::Shell,
        code: "exit 0".into(),
        timeout_ms: 10_000,
        workspace: crate::WorkspaceChoice::Fresh,
        event: None,
        stdin: String::new(),
        env_vars: Default::default(),
        files: Vec::new(),
        limits: Default::default(),
        template: None,
        tenant_id: crate::DEFAULT_TENANT.into(),
        scope: None,
        warm: false,
        home_alias: false,
        cancel: None,
        egress: None,
    };
    let ran =
        lifecycle::run_with(sandboxes, &req, lifecycle::Start::Cold, CancellationToken::new(), Default::default())
            .await;
    let result = match ran {
        lifecycle::Ran::Done(result) => *result,
        lifecycle::Ran::NotTaken(why) => return Err(why.into()),
    };
    match result? {
        result if result.exit_code == 0 => Ok(()),
        result => Err(SelfTestError::Ended { status: result.status, stderr: result.stderr.trim().to_string() }),
    }
}
