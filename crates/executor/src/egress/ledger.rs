//! A run's account of its network: every attempt, the totals, and its limits. Passing a
//! limit stops the run (its kill token) and says which limit it was.

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::report::{NetworkAttempt, NetworkReport, MAX_LISTED};

pub(crate) struct Ledger {
    report: Mutex<NetworkReport>,
    max_bytes: u64,
    max_connections: u64,
    /// Cancelled when the run passes a limit.
    cut: CancellationToken,
    pub execution_id: String,
}

/// Where an attempt is in the ledger (`None` past the listed ones: totals only).
pub(crate) type Entry = Option<usize>;

impl Ledger {
    pub fn new(allowed: Vec<String>, max_bytes: u64, max_connections: u64, cut: CancellationToken, id: &str) -> Self {
        let report = NetworkReport { allowed, ..NetworkReport::default() };
        Ledger { report: Mutex::new(report), max_bytes, max_connections, cut, execution_id: id.to_owned() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NetworkReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection; `false` when it is one too many (the run is stopped).
    pub fn connection(&self) -> bool {
        let mut report = self.lock();
        report.connections += 1;
        if report.connections > self.max_connections {
            self.exceeded(&mut report, "connections");
            return false;
        }
        true
    }

    /// Notes how many connections the run has open now (the report keeps the most).
    pub fn open_now(&self, open: u64) {
        let mut report = self.lock();
        report.peak_open = report.peak_open.max(open);
    }

    /// Lists an attempt and logs it.
    pub fn record(&self, attempt: NetworkAttempt) -> Entry {
        let outcome = if attempt.allowed { "allowed" } else { "refused" };
        metrics::counter!("sandbox_egress_connections_total", "outcome" => outcome).increment(1);
        tracing::info!(
            execution_id = %self.execution_id, host = %attempt.host, port = attempt.port,
            method = %attempt.method, allowed = attempt.allowed, reason = attempt.reason.as_deref().unwrap_or(""),
            "egress attempt"
        );
        let mut report = self.lock();
        if report.attempts.len() >= MAX_LISTED {
            return None;
        }
        report.attempts.push(attempt);
        Some(report.attempts.len() - 1)
    }

    /// Notes why an allowed attempt failed.
    pub fn failed(&self, entry: Entry, reason: String) {
        let mut report = self.lock();
        if let Some(attempt) = entry.and_then(|i| report.attempts.get_mut(i)) {
            attempt.reason = Some(reason);
        }
    }

    /// Adds bytes moved on an attempt; `false` when the run passed its byte limit (it is
    /// stopped, and the bytes must not go on).
    pub fn moved(&self, entry: Entry, sent: u64, received: u64) -> bool {
        metrics::counter!("sandbox_egress_bytes_total", "direction" => "sent").increment(sent);
        metrics::counter!("sandbox_egress_bytes_total", "direction" => "received").increment(received);
        let mut report = self.lock();
        report.bytes_sent += sent;
        report.bytes_received += received;
        if let Some(attempt) = entry.and_then(|i| report.attempts.get_mut(i)) {
            attempt.bytes_sent += sent;
            attempt.bytes_received += received;
        }
        if report.bytes_sent + report.bytes_received > self.max_bytes {
            self.exceeded(&mut report, "bytes");
            return false;
        }
        true
    }

    fn exceeded(&self, report: &mut NetworkReport, limit: &str) {
        if report.limit_exceeded.is_none() {
            tracing::warn!(execution_id = %self.execution_id, limit, "run stopped: egress limit passed");
            metrics::counter!("sandbox_egress_limits_total", "limit" => limit.to_owned()).increment(1);
            report.limit_exceeded = Some(limit.to_owned());
        }
        self.cut.cancel();
    }

    pub fn report(&self) -> NetworkReport {
        self.lock().clone()
    }
}
