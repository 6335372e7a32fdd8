//! What every handler reaches: the service, the API's options and what the daemon plugs in.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use executor::ExecutionService;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::Value;

/// What every handler can reach.
pub struct AppState {
    pub service: Arc<ExecutionService>,
    pub options: AppOptions,
    /// The OpenAPI document, rendered once.
    pub openapi_json: Bytes,
    /// The connections proxied to sessions' ports now, under their caps.
    pub ports: Arc<crate::ports::Connections>,
}

/// How the API behaves, apart from the service behind it.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Largest request body accepted; larger ones get a 413.
    pub max_body_bytes: usize,
    /// Reported by `GET /health`.
    pub version: String,
    /// The persistent workspace shared by NVIDIA-dialect requests that name no session
    /// (that sandbox's callers expect files to survive from one request to the next).
    pub nvidia_workspace: String,
    /// The template of NVIDIA-dialect requests that name none (their callers expect numpy,
    /// pandas and plotly); `None` or empty: the system interpreter.
    pub nvidia_template: Option<String>,
    /// When the daemon started, for `uptime_seconds`.
    pub started_at: Instant,
    /// When set, every endpoint but `GET /health` requires this token, as
    /// `Authorization: Bearer <token>` or `X-API-Key: <token>`. An empty token matches
    /// nothing (it locks the API; it does not open it).
    pub api_token: Option<String>,
    /// What `GET /metrics` reports besides the service's own counters.
    pub metrics: Option<MetricsSource>,
    /// What `GET /outbox` reports: the delivery outbox's counts and dead letters.
    pub outbox: Option<OutboxSource>,
    /// The daemons this one shares the load with; `None`: it serves alone.
    pub peers: Option<Arc<crate::peers::Peers>>,
    /// The web origins whose pages may call the API from a browser (CORS); none by default.
    pub cors_origins: Vec<axum::http::HeaderValue>,
    /// The proxy to servers listening in sessions: the E2B domain, caps and idle timeout.
    pub ports: crate::ports::PortOptions,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            max_body_bytes: 16 * 1024 * 1024,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            nvidia_workspace: "nvidia-default".to_owned(),
            nvidia_template: Some("python-data".to_owned()),
            started_at: Instant::now(),
            api_token: None,
            metrics: None,
            outbox: None,
            peers: None,
            cors_origins: Vec::new(),
            ports: crate::ports::PortOptions::default(),
        }
    }
}

/// What the daemon adds to `GET /metrics` beyond the service's counters.
#[derive(Clone, Default)]
pub struct MetricsSource {
    /// The installed Prometheus recorder's handle; its output heads the text form.
    pub prometheus: Option<PrometheusHandle>,
    /// Called on each JSON request; the fields of the object it returns (outbox counters and
    /// the like) join the service's. Anything but an object is ignored.
    pub extra_json: Option<Arc<dyn Fn() -> Value + Send + Sync>>,
    /// Called before each report, so gauges the daemon keeps (the outbox's) are current.
    pub refresh: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for MetricsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSource")
            .field("prometheus", &self.prometheus.is_some())
            .field("extra_json", &self.extra_json.is_some())
            .field("refresh", &self.refresh.is_some())
            .finish()
    }
}

/// Produces the outbox report for a tenant (the daemon reads it from its store): counts of
/// the whole outbox, and the dead letters of that tenant's executions only.
#[derive(Clone)]
pub struct OutboxSource(pub Arc<dyn Fn(&str) -> Value + Send + Sync>);

impl std::fmt::Debug for OutboxSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboxSource")
    }
}
