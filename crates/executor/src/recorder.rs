//! Where the service records executions. A result is committed here before the caller, or
//! anybody else, sees it: a daemon killed right after answering has not lost it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ExecutionResult, Language};

/// The durable record of executions (the embedded store implements it).
pub trait ExecutionRecorder: Send + Sync {
    /// The execution was accepted and is about to run.
    fn started(&self, execution: &StartedExecution) -> Result<(), String>;
    /// The execution ended; its result must be durable when this returns.
    fn finished(&self, result: &ExecutionResult) -> Result<(), String>;
    /// What is known of an execution: still running, or finished with its result.
    fn lookup(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, String>;
}

#[derive(Debug, Clone)]
pub struct StartedExecution {
    pub execution_id: String,
    pub language: Language,
    pub timeout_ms: u64,
    /// Milliseconds since the Unix epoch.
    pub started_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionState {
    Running,
    Finished,
}

/// `GET /executions/{id}`: the state of an execution and, once finished, its result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionRecord {
    pub execution_id: String,
    pub state: ExecutionState,
    pub language: Language,
    /// RFC 3339.
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The result, as `POST /execute` returns it, once finished.
    #[schema(value_type = Option<ExecutionResult>)]
    pub result: Option<serde_json::Value>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
