//! Delivery of results, heartbeats and lifecycle events to the control plane.
//!
//! Results go through the store's durable outbox: the executor commits a result and its
//! outbox entry together, and the [`Deliverer`]'s worker POSTs it to
//! `{base}/executions/{id}/result` until the control plane answers 2xx, retrying with
//! backoff for as long as `max_age`, so a daemon killed at any moment or a control plane down
//! for an hour loses nothing. Heartbeats and container events are best effort.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use store::Store;
use tokio_util::sync::CancellationToken;

mod attempt;
mod backoff;
pub mod body;
mod call;
mod clock;
mod config;
mod fallback;
mod in_flight;
mod lifecycle;
mod metrics;
mod worker;

pub use attempt::AttemptOutcome;
pub use config::ControlPlaneConfig;
pub use lifecycle::RunningExecutions;
pub use metrics::describe_metrics;
pub use worker::FlushSummary;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("control plane configuration: {0}")]
    InvalidConfig(String),
    #[error("control plane HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("control plane rejected the call: {reason}")]
    Rejected { status: u16, reason: String },
    #[error("control plane unreachable: {0}")]
    Unreachable(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("delivery task: {0}")]
    Task(String),
}

/// Talks to the control plane: the outbox worker, heartbeats, container events.
pub struct Deliverer {
    store: Arc<Store>,
    config: ControlPlaneConfig,
    /// `{base_url}{base_path}`.
    base: Url,
    /// One client for every call, so connections are kept and reused.
    client: reqwest::Client,
    stop: CancellationToken,
    in_flight: in_flight::InFlight,
}

impl Deliverer {
    pub fn new(store: Arc<Store>, config: ControlPlaneConfig) -> Result<Arc<Deliverer>, DeliveryError> {
        let config = config.normalized();
        let base = config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            // A redirected POST would become a GET somewhere else; a 3xx is retried instead.
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("sandbox-executor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(DeliveryError::Client)?;
        Ok(Arc::new(Deliverer {
            store,
            config,
            base,
            client,
            stop: CancellationToken::new(),
            in_flight: in_flight::InFlight::default(),
        }))
    }

    /// Ends the outbox worker and the heartbeats. Pending entries stay in the outbox.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    pub fn config(&self) -> &ControlPlaneConfig {
        &self.config
    }
}

/// Runs blocking work (the store's SQLite calls, files) off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, DeliveryError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| DeliveryError::Task(e.to_string()))
}
