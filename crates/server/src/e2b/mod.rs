//! Compatibility with the E2B SDKs (`e2b`, `e2b-code-interpreter`, `@e2b/code-interpreter`),
//! configured with `E2B_API_URL=<daemon>/e2b` and `E2B_SANDBOX_URL=<daemon>/e2b/sandbox`.
//!
//! An E2B sandbox is one session of the service: one workspace, shown to the code as
//! `/home/user`, shared by files, commands and code contexts; it lives until its end time
//! (`timeout`, moved by `set_timeout`) or until it is killed. Errors are in E2B's own formats
//! (see `docs/e2b.md`), and every route accepts unknown JSON fields; cross-origin calls only
//! from the origins the daemon is configured to allow, as for the rest of the API.

mod connect;
mod control;
mod entry;
mod error;
mod files;
mod filesystem;
mod interpreter;
mod list;
mod metrics;
mod network;
mod plane;
mod ports;
mod process;
mod results;
mod signature;
mod watch;

use std::sync::Arc;

use axum::http::{Method, StatusCode, Uri};
use axum::routing::{any, delete, get, post};
use axum::Router;

pub use ports::by_host;

use crate::state::AppState;
use error::E2bError;

/// The envd version the SDKs are told: it decides which features they use (section 3.5 of
/// the protocol notes in docs/e2b.md).
pub const ENVD_VERSION: &str = "0.6.4";

/// The routes under `/e2b`: the control plane, and the sandbox plane under `/e2b/sandbox`.
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sandboxes", post(control::create).get(list::list))
        .route("/v2/sandboxes", post(control::create).get(list::list))
        .route("/sandboxes/{id}", get(control::info).delete(control::kill))
        .route("/sandboxes/{id}/timeout", post(control::set_timeout))
        .route("/sandboxes/{id}/metrics", get(metrics::metrics))
        .route("/sandboxes/{id}/connect", post(control::connect))
        .route("/v2/sandboxes/{id}/connect", post(control::connect))
        .route("/ports/{id}/{port}", any(ports::by_path))
        .route("/ports/{id}/{port}/", any(ports::by_path))
        .route("/ports/{id}/{port}/{*path}", any(ports::by_path))
        .route("/sandbox/health", get(plane::health))
        .route("/sandbox/files", get(files::download).post(files::upload))
        .route("/sandbox/process.Process/{method}", post(process::rpc))
        .route("/sandbox/filesystem.Filesystem/{method}", post(filesystem::rpc))
        .route("/sandbox/execute", post(interpreter::execute))
        .route("/sandbox/contexts", get(interpreter::list_contexts).post(interpreter::create_context))
        .route("/sandbox/contexts/{id}", delete(interpreter::delete_context))
        .route("/sandbox/contexts/{id}/restart", post(interpreter::restart_context))
        .fallback(not_implemented)
        .method_not_allowed_fallback(method_not_allowed)
}

/// `/files` at the daemon's root: the SDKs' `download_url` and `upload_url` are the origin of
/// `E2B_SANDBOX_URL` with `/files` (its path dropped), signed with the sandbox's access token.
pub(crate) fn signed_files() -> axum::routing::MethodRouter<Arc<AppState>> {
    get(files::download).post(files::upload)
}

async fn not_implemented(method: Method, uri: Uri) -> E2bError {
    E2bError::new(StatusCode::NOT_IMPLEMENTED, format!("{method} {} is not supported by this daemon", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> E2bError {
    E2bError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed on {}", uri.path()))
}
