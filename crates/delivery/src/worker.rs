//! The outbox worker: delivers due entries as soon as they are committed or due again, a few
//! at a time, and sleeps until the next one otherwise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use futures::StreamExt;
use store::PendingDelivery;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::clock::now_ms;
use crate::in_flight::Claim;
use crate::{AttemptOutcome, Deliverer, DeliveryError};

/// Deliveries under way at once: enough that one slow or failing entry does not hold up a
/// backlog, few enough not to flood a control plane that is coming back.
pub(crate) const CONCURRENCY: usize = 8;
/// Entries read per look at the outbox; more than CONCURRENCY, so the entries already under
/// way cannot hide the others.
const BATCH: usize = 32;
/// The worker looks at the outbox at least this often, whatever it was told.
const RECHECK: Duration = Duration::from_secs(5);
/// A pause after the store failed, so a broken disk is not hammered in a loop.
const STORE_PAUSE: Duration = Duration::from_secs(1);
/// How long stop() lets deliveries under way finish before abandoning them (they stay pending).
const STOP_GRACE: Duration = Duration::from_secs(2);
/// flush() reads at most this many entries.
const FLUSH_LIMIT: usize = 100_000;

/// What flush() got done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
    /// Pending entries not attempted: time ran out, or the worker had them under way.
    pub unattempted: usize,
}

impl Deliverer {
    /// Starts the outbox worker; it runs until stop().
    pub fn start(self: &Arc<Self>) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { this.run().await })
    }

    async fn run(self: Arc<Self>) {
        let mut tasks = JoinSet::new();
        while !self.stop.is_cancelled() {
            // Listen before looking: a result committed between the look and the wait must
            // still wake us, or it would wait for the next recheck.
            let changed = self.store.outbox_changed();
            let mut changed = std::pin::pin!(changed);
            let already_changed = poll_once(changed.as_mut());

            let wait_until = match self.fill(&mut tasks).await {
                Ok(Some(at)) => at,
                Ok(None) => Instant::now() + RECHECK,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    Instant::now() + STORE_PAUSE
                }
            };
            if already_changed {
                continue;
            }
            let full = tasks.len() >= CONCURRENCY;
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => break,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => log_panic(joined),
                _ = &mut changed, if !full => {}
                _ = tokio::time::sleep_until(wait_until) => {}
            }
        }
        // Let what is under way finish briefly; the rest stays pending for flush() or the next start.
        let _ = tokio::time::timeout(STOP_GRACE, async {
            while let Some(joined) = tasks.join_next().await {
                log_panic(joined);
            }
        })
        .await;
        tasks.shutdown().await;
    }

    /// Starts deliveries of due entries while there is room; returns when to look again
    /// (None: whenever a delivery ends or an entry is added).
    async fn fill(self: &Arc<Self>, tasks: &mut JoinSet<()>) -> Result<Option<Instant>, DeliveryError> {
        // Deliveries that ended still count in the set until reaped.
        while let Some(joined) = tasks.try_join_next() {
            log_panic(joined);
        }
        if tasks.len() >= CONCURRENCY {
            return Ok(None);
        }
        let store = self.store.clone();
        let now = now_ms();
        let mark = self.in_flight.mark();
        let due = crate::blocking(move || store.due(now, BATCH)).await??;
        for entry in due {
            if tasks.len() >= CONCURRENCY {
                return Ok(None);
            }
            if let Some(claim) = self.in_flight.claim(entry.id, mark) {
                let this = self.clone();
                tasks.spawn(async move {
                    this.attempt_claimed(entry, claim).await;
                });
            }
        }
        let store = self.store.clone();
        let next = crate::blocking(move || store.next_due_at()).await??;
        Ok(match next {
            // Due already, so under way: its delivery's end wakes us.
            Some(at) if at <= now_ms() => None,
            Some(at) => {
                let wait = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                Some(Instant::now() + wait.min(RECHECK))
            }
            None => Some(Instant::now() + RECHECK),
        })
    }

    async fn attempt_claimed(&self, entry: PendingDelivery, claim: Claim) -> Option<AttemptOutcome> {
        let execution_id = entry.execution_id.clone();
        let outcome = match self.attempt(entry).await {
            Ok(outcome) => Some(outcome),
            Err(e) => {
                tracing::error!(%execution_id, error = %e, "could not record a delivery attempt");
                tokio::time::sleep(STORE_PAUSE).await;
                None
            }
        };
        drop(claim);
        outcome
    }

    /// At shutdown: attempts every pending entry once, due or not, until all were tried or
    /// `within` has passed. Entries that fail stay pending for the next start.
    pub async fn flush(&self, within: Duration) -> FlushSummary {
        let mut summary = FlushSummary::default();
        let store = self.store.clone();
        let mark = self.in_flight.mark();
        let pending = match crate::blocking(move || store.due(i64::MAX, FLUSH_LIMIT)).await {
            Ok(Ok(pending)) => pending,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the outbox to flush it");
                return summary;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox to flush it");
                return summary;
            }
        };
        let total = pending.len();
        let run = async {
            let mut attempts = futures::stream::iter(pending)
                .filter_map(|entry| {
                    std::future::ready(self.in_flight.claim(entry.id, mark).map(|claim| (entry, claim)))
                })
                .map(|(entry, claim)| self.attempt_claimed(entry, claim))
                .buffer_unordered(CONCURRENCY);
            while let Some(outcome) = attempts.next().await {
                match outcome {
                    Some(AttemptOutcome::Delivered) => summary.delivered += 1,
                    Some(AttemptOutcome::Retrying) => summary.retrying += 1,
                    Some(AttemptOutcome::Dead) => summary.dead += 1,
                    None => {}
                }
            }
        };
        if tokio::time::timeout(within, run).await.is_err() {
            tracing::warn!(within_ms = within.as_millis() as u64, "outbox flush ran out of time");
        }
        summary.unattempted = total - summary.delivered - summary.retrying - summary.dead;
        tracing::info!(?summary, "outbox flushed");
        summary
    }
}

/// Polls a future once, without a waker to call: registers its interest now.
fn poll_once<F: Future>(future: Pin<&mut F>) -> bool {
    future.poll(&mut Context::from_waker(Waker::noop())).is_ready()
}

fn log_panic<T>(joined: Result<T, tokio::task::JoinError>) {
    if let Err(e) = joined {
        if e.is_panic() {
            tracing::error!(error = %e, "a delivery task panicked");
        }
    }
}
