//! `GET /metrics` in its two forms.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use metrics_exporter_prometheus::PrometheusBuilder;
use serde_json::json;

use super::*;
use crate::MetricsSource;

async fn scrape(app: &TestApp, request: Request<Body>) -> String {
    let (status, headers, bytes) = app.send_raw(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; version=0.0.4");
    String::from_utf8(bytes).expect("UTF-8 text")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn text_has_the_load_gauges_without_a_recorder() {
    let app = test_app().await;
    let text = scrape(&app, get("/metrics")).await;
    assert!(text.contains("# TYPE sandbox_active_executions gauge\nsandbox_active_executions 0\n"), "{text}");
    assert!(text.contains("# TYPE sandbox_queued_executions gauge\nsandbox_queued_executions 0\n"), "{text}");
    let scraper = Request::get("/metrics")
        .header(header::ACCEPT, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        .body(Body::empty())
        .unwrap();
    assert!(scrape(&app, scraper).await.contains("sandbox_active_executions 0"));
}

#[tokio::test]
async fn text_starts_with_the_recorders_output() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, || {
        ::metrics::counter!("sandbox_executions_total", "language" => "python", "status" => "success").increment(3);
    });
    let source = MetricsSource { prometheus: Some(handle), ..Default::default() };
    let app = test_app_with(AppOptions { metrics: Some(source), ..AppOptions::default() }, Router::new()).await;
    let text = scrape(&app, get("/metrics?format=prometheus")).await;
    assert!(text.contains("sandbox_executions_total{language=\"python\",status=\"success\"} 3\n"), "{text}");
    assert!(text.contains("sandbox_active_executions 0\n"), "{text}");
}

#[tokio::test]
async fn json_has_the_service_counters_and_the_extra_fields() {
    let extra = Arc::new(|| json!({"outbox_pending": 2, "executions_total": 999}));
    let source = MetricsSource { extra_json: Some(extra), ..Default::default() };
    let app = test_app_with(AppOptions { metrics: Some(source), ..AppOptions::default() }, Router::new()).await;
    let by_header = Request::get("/metrics").header(header::ACCEPT, "application/json").body(Body::empty()).unwrap();
    for request in [by_header, get("/metrics?format=json")] {
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["status"], "success");
        let metrics = &reply.body["metrics"];
        assert_eq!(metrics["outbox_pending"], 2);
        // The service's own counter wins over an extra field of the same name.
        assert_eq!(metrics["executions_total"], 0);
        for field in ["executions_succeeded", "executions_failed", "active_executions", "queued_executions"] {
            assert_eq!(metrics[field], 0, "{field} in {metrics}");
        }
        assert!(metrics["max_running"].as_u64().unwrap() >= 1, "{metrics}");
        assert_eq!(metrics["max_queued"], 64);
    }
}

#[tokio::test]
async fn json_without_a_source_has_the_service_counters() {
    let app = test_app().await;
    let reply = app.send(get("/metrics?format=json")).await;
    assert_eq!(reply.body["metrics"]["active_executions"], 0, "{}", reply.body);
}

#[tokio::test]
async fn an_unknown_format_is_400() {
    let app = test_app().await;
    let reply = app.send(get("/metrics?format=xml")).await;
    let detail = assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
    assert_eq!(detail, "unknown format \"xml\"");
}
