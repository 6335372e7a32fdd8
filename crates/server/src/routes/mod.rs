//! One module per resource, and the answers for paths and methods we do not serve.

pub mod execute;
pub mod executions;
pub mod health;
pub mod info;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod root;
pub mod sessions;
pub mod stream;
pub mod templates;

use std::sync::Arc;

use axum::http::{Method, Uri};
use axum::routing::{any, get, post};
use axum::Router;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(root::index))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/info", get(info::info))
        .route("/execute", post(execute::execute))
        .route("/executions/{id}", get(executions::execution))
        .route("/metrics", get(metrics::metrics))
        .route("/outbox", get(outbox::outbox))
        .route("/templates", get(templates::list).post(templates::create))
        .route("/session/create", post(sessions::create))
        .route("/session/execute", post(sessions::execute))
        .route("/session/destroy", post(sessions::destroy))
        .route("/sessions", get(sessions::list))
        .route("/session/{id}/files", get(sessions::files::list).post(sessions::files::post))
        .route("/session/{id}/files/{*path}", get(sessions::files::get).put(sessions::files::put))
        .route("/session/{id}/ports/{port}", any(sessions::ports::forward))
        .route("/session/{id}/ports/{port}/", any(sessions::ports::forward))
        .route("/session/{id}/ports/{port}/{*rest}", any(sessions::ports::forward))
        .route("/session/{id}/processes", get(sessions::processes::list).post(sessions::processes::start))
        .route("/session/{id}/processes/{pid}/output", get(sessions::processes::io::output))
        .route("/session/{id}/processes/{pid}/events", get(sessions::processes::io::events))
        .route("/session/{id}/processes/{pid}/stdin", post(sessions::processes::io::stdin))
        .route("/session/{id}/processes/{pid}/signal", post(sessions::processes::io::signal))
        .route("/session/{id}/processes/{pid}/resize", post(sessions::processes::io::resize))
        .route("/openapi.json", get(openapi::openapi_json))
        .nest("/e2b", crate::e2b::router())
        .route("/files", crate::e2b::signed_files())
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "There is no such endpoint.",
        format!("{method} {} does not exist", uri.path()),
        "Use POST /execute, GET /executions/{id}, GET or POST /templates, POST /session/create, \
         POST /session/execute, POST /session/destroy, GET /sessions, /session/{id}/files, /session/{id}/processes, GET /health, \
         GET /ready, GET /info, GET /metrics, GET /openapi.json, POST /mcp (MCP, Streamable HTTP) or GET / (the \
         service's name, version and links).",
    )
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "The endpoint does not accept this method.",
        format!("{method} is not allowed on {}", uri.path()),
        "Use a method listed in the response's Allow header.",
    )
}
