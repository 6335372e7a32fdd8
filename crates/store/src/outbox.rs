//! The outbox: one entry per result to deliver to the control plane. An entry is `pending`
//! until delivered, retried with backoff (the deliverer's policy), or given up on (`dead`).
//! Delivered and dead entries stay until their execution is purged, for the counts.

use rusqlite::{params, Connection, Transaction};

use crate::{DeadLetter, OutboxCounts, PendingDelivery, StoreError};

/// SQLite takes an i64 LIMIT; anything larger means "no limit" anyway.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Queues `execution_id`'s result, due now.
pub(crate) fn enqueue_result(tx: &Transaction, execution_id: &str, now_ms: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO outbox (execution_id, kind, state, attempts, next_attempt_at_ms, created_at_ms)
         VALUES (?1, 'result', 'pending', 0, ?2, ?2)",
        params![execution_id, now_ms],
    )?;
    Ok(())
}

/// Before a finished execution's row is reused for a new run: its pending entries take a copy
/// of the result they are to deliver, which the execution row will no longer hold.
pub(crate) fn keep_pending_payload(tx: &Transaction, execution_id: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE outbox SET payload = (SELECT result FROM executions WHERE execution_id = ?1)
         WHERE execution_id = ?1 AND state = 'pending' AND payload IS NULL",
        [execution_id],
    )?;
    Ok(())
}

pub(crate) fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<PendingDelivery>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, o.execution_id, COALESCE(o.payload, e.result), o.attempts, o.created_at_ms
         FROM outbox o JOIN executions e ON e.execution_id = o.execution_id
         WHERE o.state = 'pending' AND o.next_attempt_at_ms <= ?1
           AND COALESCE(o.payload, e.result) IS NOT NULL
         ORDER BY o.id
         LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, sql_limit(limit)], |row| {
        Ok(PendingDelivery {
            id: row.get(0)?,
            execution_id: row.get(1)?,
            result: row.get(2)?,
            attempts: row.get(3)?,
            created_at_ms: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn next_due_at(conn: &Connection) -> Result<Option<i64>, StoreError> {
    let at =
        conn.query_row("SELECT MIN(next_attempt_at_ms) FROM outbox WHERE state = 'pending'", [], |row| row.get(0))?;
    Ok(at)
}

/// Applies a change to a pending entry. An entry no longer pending (a second report of the
/// same attempt) is left as it is: its fate was already recorded.
fn settle(conn: &Connection, id: i64, what: &str, sql: &str, params: impl rusqlite::Params) -> Result<(), StoreError> {
    if conn.execute(sql, params)? == 0 {
        tracing::warn!(outbox_id = id, "outbox entry to mark {what} is not pending; left as it is");
    }
    Ok(())
}

pub(crate) fn mark_delivered(conn: &Connection, id: i64, now_ms: i64) -> Result<(), StoreError> {
    let sql = "UPDATE outbox SET state = 'delivered', delivered_at_ms = ?2 WHERE id = ?1 AND state = 'pending'";
    settle(conn, id, "delivered", sql, params![id, now_ms])
}

pub(crate) fn retry_later(
    conn: &Connection,
    id: i64,
    attempts: u32,
    next_at_ms: i64,
    error: &str,
) -> Result<(), StoreError> {
    let sql = "UPDATE outbox SET attempts = ?2, next_attempt_at_ms = ?3, last_error = ?4
               WHERE id = ?1 AND state = 'pending'";
    settle(conn, id, "for a retry", sql, params![id, attempts, next_at_ms, error])
}

pub(crate) fn dead_letter(
    conn: &Connection,
    id: i64,
    attempts: u32,
    reason: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let sql = "UPDATE outbox SET state = 'dead', attempts = ?2, dead_at_ms = ?3, last_error = ?4
               WHERE id = ?1 AND state = 'pending'";
    settle(conn, id, "dead", sql, params![id, attempts, now_ms, reason])
}

pub(crate) fn counts(conn: &Connection) -> Result<OutboxCounts, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM outbox GROUP BY state")?;
    let mut rows = stmt.query([])?;
    let mut counts = OutboxCounts::default();
    while let Some(row) = rows.next()? {
        let (state, n): (String, u64) = (row.get(0)?, row.get(1)?);
        match state.as_str() {
            "pending" => counts.pending = n,
            "delivered" => counts.delivered = n,
            "dead" => counts.dead = n,
            // The schema's CHECK allows no other state.
            _ => {}
        }
    }
    Ok(counts)
}

pub(crate) fn dead_letters(conn: &Connection, tenant: &str, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.execution_id, COALESCE(o.last_error, ''), o.attempts, o.dead_at_ms
         FROM outbox o JOIN executions e ON e.execution_id = o.execution_id
         WHERE o.state = 'dead' AND e.tenant_id = ?2 ORDER BY o.dead_at_ms DESC, o.id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map(rusqlite::params![sql_limit(limit), tenant], |row| {
        Ok(DeadLetter {
            execution_id: row.get(0)?,
            reason: row.get(1)?,
            attempts: row.get(2)?,
            dead_at_ms: row.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes finished executions older than `cutoff_ms` with their settled entries; one whose
/// result still waits for delivery is kept. Returns how many executions were deleted.
pub(crate) fn purge_finished_before(tx: &Transaction, cutoff_ms: i64) -> Result<usize, StoreError> {
    // Same predicate in both statements; after the first, a purgeable execution has no entry left.
    const PURGEABLE: &str = "e.state = 'finished' AND e.finished_at_ms < ?1
        AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.execution_id = e.execution_id AND p.state = 'pending')";
    tx.execute(
        &format!(
            "DELETE FROM outbox WHERE execution_id IN (SELECT e.execution_id FROM executions e WHERE {PURGEABLE})"
        ),
        [cutoff_ms],
    )?;
    let purged = tx.execute(&format!("DELETE FROM executions AS e WHERE {PURGEABLE}"), [cutoff_ms])?;
    Ok(purged)
}
