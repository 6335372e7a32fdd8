//! Execution records: a run is inserted `running` when accepted, becomes `finished` with its
//! result, and is read back by `GET /executions/{id}`. Also the recovery of runs a dead daemon
//! left `running`.

use executor::{
    ExecutionRecord, ExecutionResult, ExecutionState, ExecutionStatus, Language, Metrics, ProcessStatus,
    StartedExecution, TerminationReason, Truncated,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::timestamp::rfc3339_from_ms;
use crate::{outbox, StoreError};

/// What the stderr of a run recovered after a crash says.
pub const INTERRUPTED_STDERR: &str = "the executor stopped while this execution was running; it was not completed\n";

fn state_of(tx: &Transaction, execution_id: &str) -> Result<Option<String>, StoreError> {
    Ok(state_and_tenant(tx, execution_id)?.map(|(state, _)| state))
}

fn state_and_tenant(tx: &Transaction, execution_id: &str) -> Result<Option<(String, String)>, StoreError> {
    let row = tx
        .query_row("SELECT state, tenant_id FROM executions WHERE execution_id = ?1", [execution_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(row)
}

/// Records a run as running. An id whose earlier run (of the same tenant) finished may be
/// reused: the new run replaces it, so lookups show the run going on now. Another tenant's
/// id is refused whatever its state, so its record is never replaced.
pub(crate) fn start(tx: &Transaction, execution: &StartedExecution) -> Result<(), StoreError> {
    let StartedExecution { execution_id, language, timeout_ms, started_at_ms, tenant_id, scope } = execution;
    // A timeout beyond i64 milliseconds is not a real one; keep the largest storable.
    let timeout_ms = i64::try_from(*timeout_ms).unwrap_or(i64::MAX);
    let existing = state_and_tenant(tx, execution_id)?;
    if existing.as_ref().is_some_and(|(_, owner)| owner != tenant_id) {
        return Err(StoreError::OtherTenant(execution_id.clone()));
    }
    match existing.as_ref().map(|(state, _)| state.as_str()) {
        None => {
            tx.execute(
                "INSERT INTO executions (execution_id, language, state, timeout_ms, started_at_ms, tenant_id, scope)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6)",
                params![execution_id, language.name(), timeout_ms, started_at_ms, tenant_id, scope],
            )?;
        }
        Some("finished") => {
            // The earlier run's result may still wait for delivery: keep it with its entry,
            // since the execution row is about to show the new run.
            outbox::keep_pending_payload(tx, execution_id)?;
            tx.execute(
                "UPDATE executions SET language = ?2, state = 'running', timeout_ms = ?3, started_at_ms = ?4,
                        finished_at_ms = NULL, result = NULL, scope = ?5
                 WHERE execution_id = ?1",
                params![execution_id, language.name(), timeout_ms, started_at_ms, scope],
            )?;
        }
        Some(_) => return Err(StoreError::AlreadyRunning(execution_id.clone())),
    }
    Ok(())
}

/// Records a run's result and, when delivering, queues it in the outbox — in the caller's
/// transaction, so both are committed or neither is.
pub(crate) fn finish(tx: &Transaction, result: &ExecutionResult, now_ms: i64, deliver: bool) -> Result<(), StoreError> {
    let id = &result.execution_id;
    let json = serde_json::to_string(result)?;
    let updated = tx.execute(
        "UPDATE executions SET state = 'finished', finished_at_ms = ?2, result = ?3
         WHERE execution_id = ?1 AND state = 'running'",
        params![id, now_ms, json],
    )?;
    if updated == 0 {
        if state_of(tx, id)?.is_some() {
            // Finishing a run twice is a bug of the caller; the first result may be delivered.
            return Err(StoreError::AlreadyFinished(id.clone()));
        }
        // No start was recorded (a direct call): the result alone is still worth keeping.
        // Its language was never known; its start is inferred from its wall time.
        let wall_ms = (result.execution_time * 1000.0).round() as i64;
        tx.execute(
            "INSERT INTO executions (execution_id, language, state, timeout_ms, started_at_ms, finished_at_ms, result)
             VALUES (?1, NULL, 'finished', NULL, ?2, ?3, ?4)",
            params![id, now_ms.saturating_sub(wall_ms.max(0)), now_ms, json],
        )?;
    }
    if deliver {
        outbox::enqueue_result(tx, id, now_ms)?;
    }
    Ok(())
}

pub(crate) fn lookup(conn: &Connection, execution_id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
    type Row = (String, Option<String>, i64, Option<i64>, Option<String>, String, Option<String>);
    let row: Option<Row> = conn
        .query_row(
            "SELECT state, language, started_at_ms, finished_at_ms, result, tenant_id, scope
             FROM executions WHERE execution_id = ?1",
            [execution_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?)),
        )
        .optional()?;
    let Some((state, language, started_at_ms, finished_at_ms, result, tenant_id, scope)) = row else {
        return Ok(None);
    };
    let invalid = |reason: String| StoreError::Invalid { execution_id: execution_id.to_owned(), reason };
    let state = match state.as_str() {
        "running" => ExecutionState::Running,
        "finished" => ExecutionState::Finished,
        other => return Err(invalid(format!("unknown state {other:?}"))),
    };
    let language = match language {
        Some(name) => Language::parse(&name).ok_or_else(|| invalid(format!("unknown language {name:?}")))?,
        None => return Err(invalid("its result was recorded without its start, so its language is unknown".into())),
    };
    let result = result.map(|json| serde_json::from_str(&json)).transpose()?;
    Ok(Some(ExecutionRecord {
        execution_id: execution_id.to_owned(),
        state,
        language,
        started_at: rfc3339_from_ms(started_at_ms),
        finished_at: finished_at_ms.map(rfc3339_from_ms),
        tenant_id,
        scope,
        result,
    }))
}

/// Runs left `running` (by a daemon that died), with when each started.
pub(crate) fn interrupted(tx: &Transaction) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt = tx.prepare(
        "SELECT execution_id, started_at_ms FROM executions WHERE state = 'running' ORDER BY started_at_ms, execution_id",
    )?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The result of a run nobody saw end: killed by the (unclean) shutdown, nothing captured.
pub(crate) fn interrupted_result(execution_id: String, started_at_ms: i64, now_ms: i64) -> ExecutionResult {
    ExecutionResult {
        execution_id,
        status: ExecutionStatus::Killed,
        process_status: ProcessStatus::Error,
        termination_reason: Some(TerminationReason::Shutdown),
        stdout: String::new(),
        stderr: INTERRUPTED_STDERR.to_owned(),
        exit_code: -1,
        execution_time: now_ms.saturating_sub(started_at_ms).max(0) as f64 / 1000.0,
        return_value: None,
        error: None,
        metrics: Metrics {
            duration_ms: 0.0,
            cpu_time_ms: 0.0,
            peak_memory_mb: 0.0,
            path: Default::default(),
            phases: None,
        },
        artifacts: Vec::new(),
        truncated: Truncated::default(),
        isolation: Vec::new(),
        network: None,
    }
}
