//! What the embedded store keeps of executions, in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::recorder::{now_ms, rfc3339, ExecutionRecord, ExecutionRecorder, ExecutionState, RecordError};
use crate::{ExactJson, ExecuteError, ExecutionResult, StartedExecution};

/// Refuses an id as the store does (another tenant's, or one still running) and keeps each
/// execution's record and result.
#[derive(Default)]
pub struct MemoryRecorder {
    records: Mutex<HashMap<String, ExecutionRecord>>,
    results: Mutex<HashMap<String, ExecutionResult>>,
}

impl MemoryRecorder {
    /// Whether no execution was ever started.
    pub fn is_empty(&self) -> bool {
        self.records.lock().unwrap().is_empty()
    }

    /// The result recorded for `execution_id`, once it finished.
    pub fn result_of(&self, execution_id: &str) -> Option<ExecutionResult> {
        self.results.lock().unwrap().get(execution_id).cloned()
    }
}

impl ExecutionRecorder for MemoryRecorder {
    fn started(&self, execution: &StartedExecution) -> Result<(), ExecuteError> {
        let mut records = self.records.lock().unwrap();
        match records.get(&execution.execution_id) {
            Some(record) if record.tenant_id != execution.tenant_id => {
                return Err(ExecuteError::IdTaken(execution.execution_id.clone()))
            }
            Some(record) if record.state == ExecutionState::Running => {
                return Err(ExecuteError::AlreadyRunning(execution.execution_id.clone()))
            }
            _ => {}
        }
        let record = ExecutionRecord {
            execution_id: execution.execution_id.clone(),
            state: ExecutionState::Running,
            language: execution.language,
            started_at: rfc3339(execution.started_at_ms),
            finished_at: None,
            tenant_id: execution.tenant_id.clone(),
            scope: execution.scope.clone(),
            result: None,
        };
        records.insert(execution.execution_id.clone(), record);
        Ok(())
    }

    fn finished(&self, result: &ExecutionResult) -> Result<(), RecordError> {
        let mut records = self.records.lock().unwrap();
        let started = records.get_mut(&result.execution_id);
        let record = started.ok_or_else(|| RecordError::new(std::io::Error::other("finished before it started")))?;
        record.state = ExecutionState::Finished;
        record.finished_at = Some(rfc3339(now_ms()));
        let json = serde_json::to_string(result).map_err(RecordError::new)?;
        let exact = ExactJson::parse(&json).map_err(|e| RecordError::new(std::io::Error::other(e.to_string())))?;
        record.result = Some(exact);
        self.results.lock().unwrap().insert(result.execution_id.clone(), result.clone());
        Ok(())
    }

    fn lookup(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, RecordError> {
        Ok(self.records.lock().unwrap().get(execution_id).cloned())
    }
}
