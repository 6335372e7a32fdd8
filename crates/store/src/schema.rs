//! Connection settings and the schema, migrated on open. The schema version lives in
//! `PRAGMA user_version`: 0 is a new (empty) database, each migration step raises it by one.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// The version this build writes; a database from a newer build is refused rather than misread.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// How long a statement waits for another connection's lock (the CLI, a second daemon
/// instance by mistake) before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Version 1: executions and the result outbox.
pub(crate) const V1: &str = "
CREATE TABLE IF NOT EXISTS executions (
    execution_id   TEXT PRIMARY KEY NOT NULL,
    -- NULL only when a result was recorded without its start (the language was never known).
    language       TEXT,
    state          TEXT NOT NULL CHECK (state IN ('running', 'finished')),
    timeout_ms     INTEGER,
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    -- The ExecutionResult as JSON, once finished.
    result         TEXT,
    CHECK ((state = 'running') = (result IS NULL))
);
-- Startup recovery looks up 'running' rows; purging looks up old 'finished' ones.
CREATE INDEX IF NOT EXISTS executions_by_state ON executions (state, finished_at_ms);

CREATE TABLE IF NOT EXISTS outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id       TEXT NOT NULL REFERENCES executions (execution_id),
    kind               TEXT NOT NULL CHECK (kind IN ('result')),
    state              TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at_ms INTEGER NOT NULL,
    created_at_ms      INTEGER NOT NULL,
    delivered_at_ms    INTEGER,
    dead_at_ms         INTEGER,
    last_error         TEXT,
    -- The result to deliver when it is no longer the execution's: set only when the id is
    -- reused for a new run while this entry is still pending. NULL means `executions.result`.
    payload            TEXT
);
-- Only pending entries are ever looked up by due time; delivered ones pile up and stay out of it.
CREATE INDEX IF NOT EXISTS outbox_pending_due ON outbox (next_attempt_at_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS outbox_by_execution ON outbox (execution_id, state);
";

/// Version 2: who each execution was for. Rows from version 1 belong to the default tenant.
const V2: &str = "
ALTER TABLE executions ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
ALTER TABLE executions ADD COLUMN scope TEXT;
";

/// Applies the per-connection settings and brings the schema up to [`SCHEMA_VERSION`].
pub(crate) fn prepare(conn: &mut Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers do not block the writer, and a commit is one append + fsync.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Some filesystems cannot hold WAL's shared memory; the rollback journal is still durable.
        tracing::warn!(journal_mode = %mode, "the execution store could not switch to WAL");
    }
    // FULL: a commit is on disk when it returns, also in WAL mode (NORMAL could lose the last
    // commits on power loss, and a result is acknowledged right after its commit).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE: two processes opening a new database at once do not both migrate it.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::UnsupportedSchema { found, supported: SCHEMA_VERSION });
    }
    if found < 1 {
        tx.execute_batch(V1)?;
    }
    if found < 2 {
        tx.execute_batch(V2)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tracing::info!(from = found, to = SCHEMA_VERSION, "execution store schema migrated");
    }
    tx.commit()?;
    Ok(())
}
