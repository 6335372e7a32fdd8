//! `GET /metrics`: Prometheus text for scrapers, or the runtime executor's JSON shape
//! (`{"status": "success", "metrics": {...}}`) for callers that ask for JSON.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::ServiceStats;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::{AppState, MetricsSource};

/// The Prometheus text exposition format, version 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

#[derive(Debug, Deserialize)]
pub struct MetricsQuery {
    /// `json`, or `prometheus` (`text`); overrides the Accept header.
    format: Option<String>,
}

/// The JSON form.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsBody {
    /// Always `success`.
    pub status: String,
    /// The service's counters, plus whatever fields the daemon adds (outbox counters and
    /// the like).
    #[schema(value_type = ServiceStats)]
    pub metrics: Map<String, Value>,
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    params(("format" = Option<String>, Query, description = "`json` or `prometheus`; overrides the Accept header")),
    responses(
        (status = 200, description = "Prometheus text by default; JSON with `Accept: application/json` or `?format=json` \
            (the service's counters plus the daemon's extra fields)",
            content(
                (String = "text/plain; version=0.0.4"),
                (MetricsBody = "application/json"),
            )),
        (status = 400, description = "Unknown `format`", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
    )
)]
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<MetricsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let format = query.map_err(|err| bad_format(err.body_text()))?.0.format;
    let as_json = match format.as_deref() {
        Some("json") => true,
        Some("prometheus" | "text") => false,
        Some(other) => return Err(bad_format(format!("unknown format {other:?}"))),
        None => accepts_json(&headers),
    };
    let stats = state.service.stats();
    let source = state.options.metrics.as_ref();
    if let Some(refresh) = source.and_then(|s| s.refresh.as_ref()) {
        refresh();
    }
    if as_json {
        return Ok(Json(json_body(stats, source)).into_response());
    }
    let text = prometheus_text(stats, source.and_then(|s| s.prometheus.as_ref()));
    Ok(([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], text).into_response())
}

fn bad_format(detail: impl Into<String>) -> ApiError {
    ApiError::validation(detail, "Use ?format=json or ?format=prometheus, or leave it out and use the Accept header.")
}

/// True when the Accept header lists `application/json` (and does not refuse it with q=0).
/// Prometheus scrapers never list it, so they keep getting text.
fn accepts_json(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let is_json = parts.next().is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
        let refused = parts.any(|p| {
            let q = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="));
            q.and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0)
        });
        is_json && !refused
    })
}

fn json_body(stats: ServiceStats, source: Option<&MetricsSource>) -> MetricsBody {
    let mut metrics = match source.and_then(|s| s.extra_json.as_ref()).map(|extra| extra()) {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    // The service's own counters win a name clash: they are what this endpoint promises.
    if let Ok(Value::Object(fields)) = serde_json::to_value(stats) {
        metrics.extend(fields);
    }
    MetricsBody { status: "success".to_owned(), metrics }
}

/// The handle's rendering, then the executor's load as gauges written here, so the text is
/// never empty even before the first execution or without a recorder installed. A gauge the
/// handle already exports is not written twice (Prometheus refuses duplicate families).
fn prometheus_text(stats: ServiceStats, handle: Option<&PrometheusHandle>) -> String {
    let mut text = handle.map(PrometheusHandle::render).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let gauges = [
        ("sandbox_active_executions", "Executions running now.", stats.active_executions),
        ("sandbox_queued_executions", "Executions waiting for a turn.", stats.queued_executions),
        ("sandbox_active_sessions", "Sessions alive now.", stats.sessions.active_sessions),
        ("sandbox_max_sessions", "Sessions the daemon keeps alive at most.", stats.sessions.max_sessions),
    ];
    for (name, help, value) in gauges {
        if exports(&text, name) {
            continue;
        }
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n");
    }
    text
}

/// Whether the exposition `text` already has samples or a type line for metric `name`.
fn exports(text: &str, name: &str) -> bool {
    text.lines().any(|line| {
        let sample = line.strip_prefix(name).is_some_and(|rest| rest.starts_with([' ', '{']));
        let typed =
            line.strip_prefix("# TYPE ").and_then(|rest| rest.strip_prefix(name)).is_some_and(|r| r.starts_with(' '));
        sample || typed
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn json_is_chosen_only_when_asked_for() {
        assert!(accepts_json(&accept("application/json")));
        assert!(accepts_json(&accept("text/html, Application/JSON;q=0.9")));
        assert!(!accepts_json(&accept("application/json;q=0")));
        assert!(!accepts_json(&accept("application/json; q=0.0")));
        assert!(!accepts_json(&accept("*/*")));
        assert!(!accepts_json(&accept("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")));
        assert!(!accepts_json(&HeaderMap::new()));
    }

    #[test]
    fn gauges_are_not_duplicated() {
        let rendered = "# TYPE sandbox_active_executions gauge\nsandbox_active_executions 3\n";
        assert!(exports(rendered, "sandbox_active_executions"));
        assert!(!exports(rendered, "sandbox_active"));
        assert!(!exports(rendered, "sandbox_queued_executions"));
        assert!(exports("sandbox_queued_executions{x=\"y\"} 1", "sandbox_queued_executions"));
    }

    #[test]
    fn text_without_a_handle_has_the_gauges() {
        let stats = ServiceStats { active_executions: 2, queued_executions: 1, ..ServiceStats::default() };
        let text = prometheus_text(stats, None);
        assert!(text.contains("# TYPE sandbox_active_executions gauge\nsandbox_active_executions 2\n"), "{text}");
        assert!(text.contains("sandbox_queued_executions 1\n"), "{text}");
    }
}
