//! The embedded store: every execution's record and the outbox of results to deliver to the
//! control plane, in one SQLite database in WAL mode. A result and its outbox entry are
//! committed in one transaction before anybody is told of the result, so a daemon killed at
//! any moment loses nothing: after a restart, pending deliveries resume.
#![forbid(unsafe_code)]

mod executions;
mod outbox;
mod schema;
#[cfg(test)]
mod tests;
mod timestamp;
mod wakeup;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use executor::recorder::now_ms;
use executor::{ExecuteError, ExecutionRecord, ExecutionRecorder, ExecutionResult, RecordError, StartedExecution};
use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use executions::INTERRUPTED_STDERR;
use wakeup::OutboxSignal;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("execution store {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("execution store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("execution store: cannot create the directory {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("execution store: schema version {found} is newer than this build's {supported}")]
    UnsupportedSchema { found: i64, supported: i64 },
    #[error("execution store: result JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("execution store: execution {0} is already running")]
    AlreadyRunning(String),
    #[error("execution store: execution {0} is another tenant's")]
    OtherTenant(String),
    #[error("execution store: execution {0} has already finished")]
    AlreadyFinished(String),
    #[error("execution store: execution {execution_id}: {reason}")]
    Invalid { execution_id: String, reason: String },
}

/// An outbox entry due for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDelivery {
    pub id: i64,
    pub execution_id: String,
    /// The result, as `POST /execute` returns it (JSON).
    pub result: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the entry was committed (ms since the Unix epoch); its age bounds the retries.
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
}

/// An entry given up on, kept visible with its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub execution_id: String,
    pub reason: String,
    pub attempts: u32,
    pub dead_at_ms: i64,
}

/// The store. One connection behind a mutex: every call is a short statement or transaction,
/// and SQLite writes one transaction at a time anyway.
pub struct Store {
    conn: Mutex<Connection>,
    deliver: bool,
    outbox_signal: OutboxSignal,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode with full sync.
    /// `deliver`: whether finished results are queued in the outbox (a control plane is set).
    pub fn open(path: &Path, deliver: bool) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| StoreError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let opening = |source| StoreError::Open { path: shown.clone(), source };
        let mut conn = Connection::open(path).map_err(opening)?;
        schema::prepare(&mut conn).map_err(|e| match e {
            StoreError::Sql(source) => opening(source),
            other => other,
        })?;
        Ok(Store { conn: Mutex::new(conn), deliver, outbox_signal: OutboxSignal::default() })
    }

    /// Whether finished results are queued for delivery.
    pub fn delivers(&self) -> bool {
        self.deliver
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock left no transaction open (dropping one rolls it
        // back), so the connection is still sound.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` in one write transaction, committed when it returns Ok. IMMEDIATE takes the
    /// write lock up front, so another connection (the CLI) makes it wait (busy_timeout)
    /// instead of failing halfway with SQLITE_BUSY.
    fn write<T>(&self, work: impl FnOnce(&Transaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = work(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Records `result` (and queues it when delivering) in one transaction; wakes the
    /// deliverer only once that is committed.
    fn record_finished(&self, result: &ExecutionResult) -> Result<(), StoreError> {
        self.write(|tx| executions::finish(tx, result, now_ms(), self.deliver))?;
        if self.deliver {
            self.outbox_signal.entry_added();
        }
        Ok(())
    }

    /// Executions a previous daemon left running (it died): each is finished now as `killed`
    /// with termination_reason `shutdown` and an explanation in stderr, and queued for
    /// delivery when delivering. Returns their ids.
    pub fn recover_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        let ids = self.write(|tx| {
            let mut ids = Vec::new();
            for (id, started_at_ms) in executions::interrupted(tx)? {
                let result = executions::interrupted_result(id.clone(), started_at_ms, now);
                executions::finish(tx, &result, now, self.deliver)?;
                ids.push(id);
            }
            Ok(ids)
        })?;
        if self.deliver && !ids.is_empty() {
            self.outbox_signal.entry_added();
        }
        Ok(ids)
    }

    /// Removes finished executions older than `cutoff_ms` whose delivery is not pending.
    pub fn purge_finished_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.write(|tx| outbox::purge_finished_before(tx, cutoff_ms))
    }

    /// Up to `limit` pending entries due at `now_ms`, oldest first.
    pub fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<PendingDelivery>, StoreError> {
        outbox::due(&self.conn(), now_ms, limit)
    }

    /// When the next pending entry is due (ms since the epoch), if any.
    pub fn next_due_at(&self) -> Result<Option<i64>, StoreError> {
        outbox::next_due_at(&self.conn())
    }

    /// The entry was delivered (the control plane answered 2xx). Entries no longer pending
    /// are left as they are, here and in the two calls below.
    pub fn mark_delivered(&self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        outbox::mark_delivered(&self.conn(), id, now_ms)
    }

    /// An attempt failed: `attempts` failures so far, the next attempt at `next_at_ms`.
    pub fn retry_later(&self, id: i64, attempts: u32, next_at_ms: i64, error: &str) -> Result<(), StoreError> {
        outbox::retry_later(&self.conn(), id, attempts, next_at_ms, error)
    }

    /// Gives up on the entry after `attempts` attempts in all, keeping it visible with `reason`.
    pub fn dead_letter(&self, id: i64, attempts: u32, reason: &str, now_ms: i64) -> Result<(), StoreError> {
        outbox::dead_letter(&self.conn(), id, attempts, reason, now_ms)
    }

    pub fn counts(&self) -> Result<OutboxCounts, StoreError> {
        outbox::counts(&self.conn())
    }

    /// The newest `limit` dead letters of `tenant`'s executions, newest first.
    pub fn dead_letters(&self, tenant: &str, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        outbox::dead_letters(&self.conn(), tenant, limit)
    }

    /// Resolves when an entry is added to the outbox (after its commit), so a deliverer can
    /// sleep until there is work.
    ///
    /// Returns at once if an entry was added since the last call returned (any number of
    /// additions count as one), else when one is added; every task waiting then wakes. Meant
    /// for a loop that re-scans [`Store::due`] after each return; a return may find nothing
    /// new. Dropping the future (a `select!` with a timer) loses nothing.
    pub async fn outbox_changed(&self) {
        self.outbox_signal.changed().await
    }
}

impl ExecutionRecorder for Store {
    fn started(&self, execution: &StartedExecution) -> Result<(), ExecuteError> {
        self.write(|tx| executions::start(tx, execution)).map_err(|e| match e {
            StoreError::OtherTenant(id) => ExecuteError::IdTaken(id),
            StoreError::AlreadyRunning(id) => ExecuteError::AlreadyRunning(id),
            other => ExecuteError::Internal(format!("recording the execution: {other}")),
        })
    }

    fn finished(&self, result: &ExecutionResult) -> Result<(), RecordError> {
        self.record_finished(result).map_err(RecordError::new)
    }

    fn lookup(&self, execution_id: &str) -> Result<Option<ExecutionRecord>, RecordError> {
        executions::lookup(&self.conn(), execution_id).map_err(RecordError::new)
    }
}
