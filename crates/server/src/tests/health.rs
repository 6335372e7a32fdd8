use axum::http::StatusCode;

use super::*;

/// The test service cannot start sandboxes (see `service()`), so it is unhealthy: the 503 body
/// carries the health fields and the error fields together.
#[tokio::test]
async fn unhealthy_health_has_both_bodies() {
    let options = AppOptions { version: "9.9.9".into(), ..AppOptions::default() };
    let app = test_app_with(options, Router::new()).await;
    let reply = app.get("/health").await;
    let detail = assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "Executor.Unhealthy");
    assert_eq!(reply.body["status"], "unhealthy");
    assert_eq!(reply.body["reason"], detail);
    assert_eq!(reply.body["version"], "9.9.9");
    assert!(reply.body["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(reply.body["active_executions"], 0);
}

#[tokio::test]
async fn info_reports_the_limits() {
    let app = test_app().await;
    let reply = app.get("/info").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let max_timeout = LimitPolicy::default().max_timeout_secs;
    assert_eq!(reply.body["limits"]["max_timeout_secs"].as_f64(), Some(max_timeout));
}
