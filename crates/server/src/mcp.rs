//! `/mcp`: the MCP tools over the Streamable HTTP transport (rmcp's), served statelessly on
//! the API's own listener behind the same token check. Each tool call goes through the very
//! handler of the matching HTTP route, in-process, with the caller's `X-Tenant-ID`: the same
//! validation, limits, isolation and tenancy, and the same answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use mcp_tools::rmcp::model::Extensions;
use mcp_tools::rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use mcp_tools::rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use mcp_tools::{Answer, ApiCall, Backend, BoxFuture, Failure, SandboxTools};
use serde_json::Value;

use crate::json::JsonBytes;
use crate::request_id::{self, RequestId};
use crate::routes::execute;
use crate::routes::sessions::{self, files};
use crate::state::AppState;
use crate::tenant::TENANT_HEADER;

/// The tower service mounted at `/mcp`.
pub(crate) fn service(state: Arc<AppState>) -> StreamableHttpService<SandboxTools, NeverSessionManager> {
    let max_body_bytes = state.options.max_body_bytes;
    let backend: Arc<dyn Backend> = Arc::new(InProcess { state });
    // Stateless, answered as plain JSON: nothing of a client is kept between requests, so any
    // daemon (or a restarted one) takes any call. The Host check guards token-less local
    // servers against DNS rebinding; this API is reached under any name (as every other route
    // is) and guarded by its token.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts()
        .with_max_request_body_bytes(max_body_bytes);
    StreamableHttpService::new(
        move || Ok(SandboxTools::new(Arc::clone(&backend))),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The daemon's own routes, called in-process.
struct InProcess {
    state: Arc<AppState>,
}

impl Backend for InProcess {
    fn call<'a>(&'a self, call: ApiCall, request: &'a Extensions) -> BoxFuture<'a, Result<Answer, Failure>> {
        Box::pin(async move {
            let parts = request.get::<Parts>().ok_or_else(|| {
                Failure::Unreachable("the MCP call came without its HTTP request; no tenant can be told".into())
            })?;
            let id = parts.extensions.get::<RequestId>().map_or_else(request_id::generate, |id| id.0.clone());
            let is_file = matches!(call, ApiCall::GetFile { .. });
            let response = request_id::scope(id, self.route(call, caller_headers(&parts.headers))).await;
            answer(response, is_file).await
        })
    }
}

impl InProcess {
    async fn route(&self, call: ApiCall, headers: HeaderMap) -> Response {
        let state = || State(Arc::clone(&self.state));
        let json = |body: Value| JsonBytes(Bytes::from(body.to_string()));
        match call {
            ApiCall::Execute(body) => execute::execute(state(), headers, json(body)).await.into_response(),
            ApiCall::CreateSession(body) => sessions::create(state(), headers, json(body)).await.into_response(),
            ApiCall::SessionExecute(body) => sessions::execute(state(), headers, json(body)).await.into_response(),
            ApiCall::DestroySession(body) => sessions::destroy(state(), headers, json(body)).await.into_response(),
            ApiCall::PutFile { session_id, path, bytes } => {
                let body = files::RawBody(Bytes::from(bytes));
                files::put(state(), headers, Ok(Path((session_id, path))), body).await.into_response()
            }
            ApiCall::GetFile { session_id, path } => {
                files::get(state(), headers, Ok(Path((session_id, path)))).await.into_response()
            }
            ApiCall::ListFiles { session_id } => {
                files::list(state(), headers, Ok(Path(session_id))).await.into_response()
            }
        }
    }
}

/// Of the MCP request's headers, those the routes read: the tenant.
fn caller_headers(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for value in headers.get_all(TENANT_HEADER) {
        kept.append(TENANT_HEADER, value.clone());
    }
    kept
}

/// A route's response as the tools take it: a file's bytes as they are (JSON files too).
async fn answer(response: Response, is_file: bool) -> Result<Answer, Failure> {
    let status = response.status();
    let mime_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| Failure::Unreachable(format!("the route's answer could not be read: {e}")))?;
    if !status.is_success() {
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        return Err(Failure::Api { status: status.as_u16(), body });
    }
    if is_file {
        return Ok(Answer::File { bytes: bytes.to_vec(), mime_type });
    }
    serde_json::from_slice(&bytes)
        .map(Answer::Json)
        .map_err(|e| Failure::Unreachable(format!("the route answered JSON that does not parse: {e}")))
}
