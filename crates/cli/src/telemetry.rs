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

/// Histogram buckets of every `_seconds` family: from a millisecond to the longest timeout a
/// run may ask for (an hour).
const SECONDS: [f64; 19] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0,
    3600.0,
];

/// Installs the Prometheus recorder behind the `metrics` facade; `GET /metrics` renders it.
/// Every family is described (its HELP line) and its series exist from the start.
pub fn install_metrics() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new().set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS).ok()?;
    let handle = match builder.install_recorder() {
        Ok(handle) => handle,
        Err(e) => {
            tracing::warn!(error = %e, "metrics are not recorded");
            return None;
        }
    };
    executor::describe_metrics();
    delivery::describe_metrics();
    describe_daemon_metrics();
    Some(handle)
}

/// The daemon's own families: its build, and the outbox gauges set at each scrape.
fn describe_daemon_metrics() {
    metrics::describe_gauge!("sandbox_executor_build_info", "Always 1; the labels say which build of the daemon runs.");
    metrics::gauge!("sandbox_executor_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let outbox = [
        ("sandbox_outbox_pending", "Results waiting for delivery to the control plane."),
        ("sandbox_outbox_delivered", "Delivered results still kept in the store."),
        ("sandbox_outbox_dead", "Results the control plane refused or never took, kept for inspection."),
    ];
    for (name, help) in outbox {
        metrics::describe_gauge!(name, help);
        metrics::gauge!(name).set(0.0);
    }
}
