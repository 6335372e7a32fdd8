//! Heartbeats for running executions and the container's ready and exited events.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::body::{exited_body, heartbeat_body, ready_body, EXIT_REASONS};
use crate::call::Verdict;
use crate::clock::now_ms;
use crate::config::endpoint;
use crate::{Deliverer, DeliveryError};

/// The running executions to beat for: their ids and how long each has been running.
pub type RunningExecutions = Arc<dyn Fn() -> Vec<(String, Duration)> + Send + Sync>;

/// Attempts of a lifecycle event: a blip should not lose it, a dead control plane must not
/// hold up startup or shutdown.
const LIFECYCLE_ATTEMPTS: u32 = 3;

impl Deliverer {
    /// Every heartbeat interval, POSTs a heartbeat for each execution `running` returns.
    /// A failed beat is not retried: the next one is its retry. Runs until stop().
    pub fn start_heartbeats(self: &Arc<Self>, running: RunningExecutions) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let interval = this.config.heartbeat_interval;
            // A beat that outlives the interval would only delay the next one.
            let timeout = interval.min(this.config.request_timeout);
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = this.stop.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                let now = now_ms();
                let beats = running().into_iter().map(|(id, elapsed)| this.beat(id, elapsed, now, timeout));
                tokio::select! {
                    _ = this.stop.cancelled() => break,
                    _ = futures::future::join_all(beats) => {}
                }
            }
        })
    }

    async fn beat(&self, execution_id: String, elapsed: Duration, now: i64, timeout: Duration) {
        let url = endpoint(&self.base, &["executions", &execution_id, "heartbeat"]);
        let verdict = self.post("heartbeat", url, &heartbeat_body(now, elapsed), None, Some(timeout)).await;
        let outcome = match verdict {
            Verdict::Delivered { .. } => "delivered",
            Verdict::Retry { reason, .. } | Verdict::Reject { reason, .. } => {
                tracing::debug!(%execution_id, %reason, "heartbeat not delivered");
                "retry"
            }
        };
        metrics::counter!("sandbox_callbacks_total", "kind" => "heartbeat", "outcome" => outcome).increment(1);
    }

    /// `POST /containers/ready`, with a couple of quick retries. The caller runs it in the
    /// background: the daemon serves whether or not the control plane hears of it.
    pub async fn report_ready(&self) -> Result<(), DeliveryError> {
        let body = ready_body(&self.config, now_ms());
        self.report_lifecycle("ready", body).await
    }

    /// `POST /containers/exited` with the daemon's true exit code and reason (`normal`,
    /// `sigterm`, `sigkill`, `oom_killed` or `error`). The caller bounds it with a timeout.
    pub async fn report_exited(&self, exit_code: i32, exit_reason: &str) -> Result<(), DeliveryError> {
        if !EXIT_REASONS.contains(&exit_reason) {
            tracing::warn!(exit_reason, "exit reason outside the contract's list; sent as is");
        }
        let body = exited_body(&self.config, exit_code, exit_reason, now_ms());
        self.report_lifecycle("exited", body).await
    }

    async fn report_lifecycle(&self, event: &'static str, body: Value) -> Result<(), DeliveryError> {
        let url = endpoint(&self.base, &["containers", event]);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let verdict = self.post(event, url.clone(), &body, None, None).await;
            let (outcome, result) = match verdict {
                Verdict::Delivered { .. } => ("delivered", Some(Ok(()))),
                Verdict::Reject { status, reason } => ("dead", Some(Err(DeliveryError::Rejected { status, reason }))),
                Verdict::Retry { reason, .. } if attempt >= LIFECYCLE_ATTEMPTS => {
                    ("dead", Some(Err(DeliveryError::Unreachable(reason))))
                }
                Verdict::Retry { reason, .. } => {
                    tracing::debug!(event, attempt, %reason, "container event not delivered; retrying");
                    ("retry", None)
                }
            };
            metrics::counter!("sandbox_callbacks_total", "kind" => event, "outcome" => outcome).increment(1);
            match result {
                Some(Ok(())) => {
                    tracing::info!(event, "container event delivered");
                    return Ok(());
                }
                Some(Err(e)) => {
                    tracing::warn!(event, error = %e, "container event not delivered");
                    return Err(e);
                }
                None => tokio::time::sleep(self.config.backoff_initial * 2u32.pow(attempt - 1)).await,
            }
        }
    }
}
