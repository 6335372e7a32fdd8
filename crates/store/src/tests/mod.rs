//! Tests of the store against real database files in temporary directories.

mod crash;
mod executions;
mod outbox;

use std::path::PathBuf;

use executor::{
    ExactJson, ExecutionRecorder, ExecutionResult, ExecutionStatus, Language, Metrics, ProcessStatus, StartedExecution,
    Truncated,
};
use tempfile::TempDir;

use crate::Store;

/// A database path in a fresh directory, below a folder that does not exist yet.
fn db_path() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state").join("store.sqlite3");
    (dir, path)
}

fn open(path: &std::path::Path, deliver: bool) -> Store {
    Store::open(path, deliver).expect("open the store")
}

fn start(id: &str, started_at_ms: i64) -> StartedExecution {
    StartedExecution {
        execution_id: id.into(),
        language: Language::Python,
        timeout_ms: 30_000,
        started_at_ms,
        tenant_id: "default".into(),
        scope: None,
    }
}

fn result(id: &str, stdout: &str) -> ExecutionResult {
    ExecutionResult {
        execution_id: id.into(),
        status: ExecutionStatus::Success,
        process_status: ProcessStatus::Completed,
        termination_reason: None,
        stdout: stdout.into(),
        stderr: String::new(),
        exit_code: 0,
        execution_time: 0.25,
        return_value: Some(ExactJson::parse(RETURN_VALUE).expect("valid JSON")),
        error: None,
        metrics: Metrics {
            duration_ms: 250.0,
            cpu_time_ms: 120.5,
            peak_memory_mb: 12.75,
            path: Default::default(),
            phases: None,
        },
        artifacts: Vec::new(),
        truncated: Truncated::default(),
        isolation: Vec::new(),
        network: None,
    }
}

/// Starts and finishes `id` with `stdout`.
fn run(store: &Store, id: &str, stdout: &str) {
    store.started(&start(id, executor::recorder::now_ms())).expect("started");
    store.finished(&result(id, stdout)).expect("finished");
}

/// Integers past 64 bits, which a `serde_json::Value` would round.
const RETURN_VALUE: &str =
    r#"{"answer":42,"unicode":"héllo ✓","big":1000000000000000000000000000000,"neg":-1180591620717411303424}"#;

/// The result as the store keeps it: its exact JSON text.
fn json(result: &ExecutionResult) -> ExactJson {
    ExactJson::parse(&serde_json::to_string(result).expect("serialize")).expect("valid JSON")
}

/// A stored result's fields, to look at one (numbers past 64 bits rounded).
fn fields(stored: Option<ExactJson>) -> serde_json::Value {
    serde_json::from_str(stored.expect("result").get()).expect("valid JSON")
}

/// A second connection to the same file, as another process would have.
fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}
