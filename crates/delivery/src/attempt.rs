//! One delivery attempt of one outbox entry, and what the store learns from it.

use std::time::Duration;

use executor::ExecutionResult;
use store::PendingDelivery;

use crate::backoff::backoff_delay;
use crate::call::Verdict;
use crate::clock::{now_ms, rfc3339};
use crate::config::endpoint;
use crate::{fallback, Deliverer, DeliveryError};

/// Where an entry stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Still pending, due again later.
    Retrying,
    /// Given up on; in the store's dead letters with its reason.
    Dead,
}

impl Deliverer {
    /// POSTs the entry's result and records the outcome in the store. An error means the store
    /// could not record it; the entry then stays pending and due.
    pub(crate) async fn attempt(&self, entry: PendingDelivery) -> Result<AttemptOutcome, DeliveryError> {
        let id = entry.execution_id.clone();
        let result: ExecutionResult = match serde_json::from_str(&entry.result) {
            Ok(result) => result,
            Err(e) => {
                // Nothing we send can fix a stored result we cannot read.
                let reason = format!("stored result is not readable: {e}");
                tracing::error!(execution_id = %id, %reason, "result dead-lettered");
                // Nothing was sent: the attempts are those made before.
                return self.give_up(&entry, entry.attempts, reason).await;
            }
        };
        let body = match crate::body::result_body(&result) {
            Ok(body) => body,
            Err(e) => {
                let reason = format!("stored result cannot be written as a body: {e}");
                tracing::error!(execution_id = %id, %reason, "result dead-lettered");
                return self.give_up(&entry, entry.attempts, reason).await;
            }
        };
        let url = endpoint(&self.base, &["executions", &id, "result"]);
        match self.post("result", url, &body, Some(&id), None).await {
            Verdict::Delivered { status } => {
                let (store, dir) = (self.store.clone(), self.config.fallback_dir.clone());
                let (row, execution_id) = (entry.id, id.clone());
                crate::blocking(move || {
                    // The file first: a crash in between leaves the entry pending, to be sent
                    // again (a 200 duplicate), rather than a file claiming it was not delivered.
                    if let Some(dir) = dir {
                        if let Err(e) = fallback::remove(&dir, &execution_id) {
                            tracing::warn!(%execution_id, error = %e, "could not remove the fallback file");
                        }
                    }
                    store.mark_delivered(row, now_ms())
                })
                .await??;
                let latency_ms = (now_ms() - entry.created_at_ms).max(0);
                metrics::counter!("sandbox_callbacks_total", "kind" => "result", "outcome" => "delivered").increment(1);
                metrics::histogram!("sandbox_result_delivery_latency_seconds").record(latency_ms as f64 / 1000.0);
                if entry.attempts > 0 {
                    tracing::info!(execution_id = %id, status, attempts = entry.attempts + 1, latency_ms, "result delivered");
                } else {
                    tracing::debug!(execution_id = %id, status, latency_ms, "result delivered");
                }
                Ok(AttemptOutcome::Delivered)
            }
            Verdict::Reject { status, reason } => {
                tracing::error!(execution_id = %id, status, %reason, "control plane rejected the result; dead-lettered");
                self.give_up(&entry, entry.attempts.saturating_add(1), format!("rejected: {reason}")).await
            }
            Verdict::Retry { reason, retry_after, unreachable } => {
                if unreachable {
                    self.write_fallback(&id, body).await;
                }
                self.retry_or_expire(&entry, reason, retry_after).await
            }
        }
    }

    async fn retry_or_expire(
        &self,
        entry: &PendingDelivery,
        reason: String,
        retry_after: Option<Duration>,
    ) -> Result<AttemptOutcome, DeliveryError> {
        let now = now_ms();
        let age = Duration::from_millis(u64::try_from(now - entry.created_at_ms).unwrap_or(0));
        let attempts = entry.attempts.saturating_add(1);
        let Some(left) = self.config.max_age.checked_sub(age).filter(|left| !left.is_zero()) else {
            let reason = format!("undelivered after {attempts} attempts over {} s; last: {reason}", age.as_secs());
            tracing::error!(execution_id = %entry.execution_id, %reason, "result dead-lettered");
            return self.give_up(entry, attempts, reason).await;
        };
        // The control plane's own estimate wins over ours (a `Retry-After: 0` still waits the
        // initial backoff, not to hammer it); neither may carry the entry past its age limit
        // without one last attempt there.
        let delay = match retry_after {
            Some(asked) => asked.max(self.config.backoff_initial),
            None => backoff_delay(self.config.backoff_initial, self.config.backoff_max, entry.attempts),
        }
        .min(left);
        let next_at = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        tracing::warn!(
            execution_id = %entry.execution_id,
            attempts,
            retry_in_ms = delay.as_millis() as u64,
            %reason,
            "result not delivered; will retry"
        );
        let (store, row) = (self.store.clone(), entry.id);
        crate::blocking(move || store.retry_later(row, attempts, next_at, &reason)).await??;
        metrics::counter!("sandbox_callbacks_total", "kind" => "result", "outcome" => "retry").increment(1);
        Ok(AttemptOutcome::Retrying)
    }

    /// Dead-letters the entry after `attempts` attempts in all (this one included, if made).
    async fn give_up(
        &self,
        entry: &PendingDelivery,
        attempts: u32,
        reason: String,
    ) -> Result<AttemptOutcome, DeliveryError> {
        let (store, row) = (self.store.clone(), entry.id);
        crate::blocking(move || store.dead_letter(row, attempts, &reason, now_ms())).await??;
        metrics::counter!("sandbox_callbacks_total", "kind" => "result", "outcome" => "dead").increment(1);
        Ok(AttemptOutcome::Dead)
    }

    /// The operators' copy; failing to write it does not stop delivery (the outbox has it).
    async fn write_fallback(&self, execution_id: &str, body: Box<serde_json::value::RawValue>) {
        let Some(dir) = self.config.fallback_dir.clone() else { return };
        let (id, url) = (execution_id.to_owned(), self.config.base_url.clone());
        let written = crate::blocking(move || fallback::write_once(&dir, &id, &body, &url, &rfc3339(now_ms()))).await;
        match written {
            Ok(Ok(true)) => tracing::info!(%execution_id, "result written to the fallback directory"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(%execution_id, error = %e, "could not write the fallback file"),
            Err(e) => tracing::warn!(%execution_id, error = %e, "could not write the fallback file"),
        }
    }
}
