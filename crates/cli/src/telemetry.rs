//! Logs and metrics of the daemon.

use anyhow::anyhow;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Accepts the seed's level names (INFO, WARNING) as well as tracing's. JSON lines carry the
/// fields of every enclosing span (the request id, the execution id).
pub fn init_logging(level: &str, format: &str) -> anyhow::Result<()> {
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" | "fatal" => "error".to_string(),
        other => other.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .map_err(|e| anyhow!("LOG_LEVEL {level:?} is not a level (trace, debug, info, warn, error): {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        "json" => builder.json().flatten_event(true).with_current_span(true).with_span_list(true).init(),
        "text" => builder.init(),
        other => return Err(anyhow!("LOG_FORMAT {other:?} is neither json nor text")),
    }
    Ok(())
}

/// Installs the Prometheus recorder behind the `metrics` facade; `GET /metrics` renders it.
pub fn install_metrics() -> Option<PrometheusHandle> {
    const SECONDS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0];
    let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS).ok()?;
    match builder.install_recorder() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "metrics are not recorded");
            None
        }
    }
}
