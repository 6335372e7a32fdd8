//! Where the service records executions. A result is committed here before the caller, or
//! anybody else, sees it: a daemon killed right after answering has not lost it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ExecuteError, ExecutionResult, Language};

/// The durable record of executions (the embedded store implements it).
pub trait ExecutionRecorder: Send + Sync {
    /// The execution was accepted and is about to run. Refused with
    /// [`ExecuteError::IdTaken`] when the id is another tenant's execution, with
    /// [`ExecuteError::AlreadyRunning`] when it is the same tenant's and still running.
    fn started(&self, execution: &StartedExecution) -> Result<(), ExecuteError>;
    /// The execution ended; its result must be durable when this returns.
    fn finished(&self, result: &ExecutionResult) -> Result<(), RecordError>;
    /// What is known of an execution: still running, or finished with its result.
    fn lookup(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, RecordError>;
}

/// Why the recorder could not record or read an execution (its store's own error).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RecordError(Box<dyn std::error::Error + Send + Sync>);

impl RecordError {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> RecordError {
        RecordError(Box::new(error))
    }
}

#[derive(Debug, Clone)]
pub struct StartedExecution {
    pub execution_id: String,
    pub language: Language,
    pub timeout_ms: u64,
    /// Milliseconds since the Unix epoch.
    pub started_at_ms: i64,
    /// Who the run is for, and the caller's note of why.
    pub tenant_id: String,
    pub scope: Option<String>,
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
    /// Who the run was for (`default` when the caller named nobody), and the caller's scope.
    pub tenant_id: String,
    pub scope: Option<String>,
    /// The result, as `POST /execute` returns it, once finished.
    #[schema(value_type = Option<ExecutionResult>)]
    pub result: Option<crate::ExactJson>,
}

/// `ms` since the Unix epoch as RFC 3339, UTC, with milliseconds: `2026-11-22T04:10:00.123Z`.
/// Instants before the epoch never occur here and are shown as the epoch.
pub fn rfc3339(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_320_600_123), "2026-11-22T04:10:00.123Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
    }
}
