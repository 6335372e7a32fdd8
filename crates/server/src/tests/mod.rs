//! In-process HTTP tests. Most need no code to run, and use a service that cannot start
//! sandboxes; `runs` uses one whose sandboxes are the executor's fake launcher's
//! ([`executor::test_support`]).

mod auth;
mod errors;
mod execute;
mod executions;
mod health;
mod mcp;
mod metrics;
mod ports;
mod ready;
mod runs;
mod templates;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use executor::test_support::{config_under, FakeLauncher, MemoryRecorder};
use executor::{ExecutionService, LimitPolicy};
use serde_json::Value;
use tower::ServiceExt;

use crate::app::assemble;
use crate::state::AppState;
use crate::{routes, AppOptions};

/// A service over a temporary directory, kept alive as long as the returned guard.
///
/// Its launcher does not exist, so the service's start-up self-test fails and it reports
/// itself unhealthy: nothing here may depend on code running.
async fn service() -> (Arc<ExecutionService>, tempfile::TempDir) {
    service_with(executor::ServiceOptions::default()).await
}

async fn service_with(options: executor::ServiceOptions) -> (Arc<ExecutionService>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let service = ExecutionService::new(config_under(dir.path()), options).await.expect("service");
    (service, dir)
}

struct TestApp {
    router: Router,
    _dir: tempfile::TempDir,
}

async fn test_app_with(options: AppOptions, extra: Router<Arc<AppState>>) -> TestApp {
    let (service, dir) = service().await;
    TestApp { router: assemble(routes::router().merge(extra), service, options), _dir: dir }
}

async fn test_app() -> TestApp {
    test_app_with(AppOptions::default(), Router::new()).await
}

/// The API over a service whose sandboxes are `FakeLauncher`'s and whose executions are
/// recorded in memory: it passes its self-test, so it is healthy and runs code.
async fn running_app(options: AppOptions) -> (TestApp, Arc<FakeLauncher>) {
    let launcher = Arc::new(FakeLauncher::default());
    let service_options = executor::ServiceOptions {
        launcher: Some(launcher.clone()),
        recorder: Some(Arc::new(MemoryRecorder::default())),
        ..Default::default()
    };
    let (service, dir) = service_with(service_options).await;
    (TestApp { router: assemble(routes::router(), service, options), _dir: dir }, launcher)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl TestApp {
    async fn send(&self, request: Request<Body>) -> Reply {
        let (status, headers, bytes) = self.send_raw(request).await;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not a JSON body ({status}): {}", String::from_utf8_lossy(&bytes)));
        Reply { status, headers, body }
    }

    /// For answers that are not JSON (the Prometheus text).
    async fn send_raw(&self, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        (status, headers, bytes.to_vec())
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap()).await
    }

    async fn post_json(&self, path: &str, body: impl Into<String>) -> Reply {
        let request =
            Request::post(path).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.into())).unwrap();
        self.send(request).await
    }
}

/// Asserts the standard error body and returns its `error_detail`.
#[track_caller]
fn assert_error(reply: &Reply, status: StatusCode, code: &str) -> String {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.body["error_code"], code, "body: {}", reply.body);
    for field in ["description", "error_detail", "solution", "request_id"] {
        let text = reply.body[field].as_str().unwrap_or_default();
        assert!(!text.is_empty(), "{field} missing in {}", reply.body);
    }
    let header_id = reply.headers.get("x-request-id").expect("X-Request-ID header");
    assert_eq!(reply.body["request_id"], header_id.to_str().unwrap());
    reply.body["error_detail"].as_str().unwrap().to_owned()
}
