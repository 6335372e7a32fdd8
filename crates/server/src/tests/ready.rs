//! `GET /ready`: 200 while a new execution would be taken, 503 `Executor.NotReady` with the
//! reason otherwise (no sandbox on this host, shutting down, the queue full).

use axum::http::StatusCode;
use serde_json::json;

use super::runs::json_request;
use super::*;

/// A healthy service that runs one execution at a time and queues one more.
async fn small_app() -> (TestApp, Arc<ExecutionService>) {
    let service_options = executor::ServiceOptions {
        launcher: Some(Arc::new(FakeLauncher::default())),
        recorder: Some(Arc::new(MemoryRecorder::default())),
        max_running: 1,
        max_queued: 1,
        ..Default::default()
    };
    let (service, dir) = service_with(service_options).await;
    let router =
        assemble(routes::router(), service.clone(), AppOptions { nvidia_template: None, ..Default::default() });
    (TestApp { router, _dir: dir }, service)
}

async fn submit_blocking(app: &TestApp, id: &str) {
    let body = json!({"execution_id": id, "language": "shell", "code": "block", "async": true});
    let reply = app.send(json_request("/execute", body, &[])).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

#[tokio::test]
async fn a_service_with_room_is_ready() {
    let (app, _service) = small_app().await;
    let reply = app.get("/ready").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["ready"], true);
    assert_eq!(reply.body["max_queued"], 1);
    assert!(reply.body.get("reason").is_none(), "{}", reply.body);
}

#[tokio::test]
async fn a_full_queue_is_not_ready_until_it_has_room() {
    let (app, service) = small_app().await;
    submit_blocking(&app, "first").await;
    let reply = app.get("/ready").await;
    assert_eq!(reply.status, StatusCode::OK, "one running and room to queue: {}", reply.body);
    submit_blocking(&app, "second").await;
    let reply = app.get("/ready").await;
    let detail = assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "Executor.NotReady");
    assert!(detail.contains("the most this daemon takes"), "{detail}");
    assert_eq!((reply.body["ready"].clone(), reply.body["active_executions"].clone()), (json!(false), json!(2)));
    // Shut down, the blocked runs are killed and their places free, but nothing new is taken.
    service.shutdown(std::time::Duration::ZERO).await;
    let reply = app.get("/ready").await;
    let detail = assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "Executor.NotReady");
    assert!(detail.contains("shutting down"), "{detail}");
    assert_eq!(reply.body["active_executions"], 0, "{}", reply.body);
}

#[tokio::test]
async fn a_service_that_stopped_accepting_is_not_ready_but_still_healthy() {
    let (app, service) = small_app().await;
    service.stop_accepting();
    let reply = app.get("/ready").await;
    let detail = assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "Executor.NotReady");
    assert!(detail.contains("shutting down"), "{detail}");
    assert_eq!(app.get("/health").await.status, StatusCode::OK, "liveness stays up while draining");
}

#[tokio::test]
async fn a_host_that_cannot_sandbox_is_not_ready() {
    let app = test_app().await;
    let reply = app.get("/ready").await;
    let detail = assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "Executor.NotReady");
    assert!(!detail.is_empty());
}
