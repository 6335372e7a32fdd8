//! `/mcp`: the MCP tools over the Streamable HTTP transport (rmcp's), served statelessly on
//! the API's own listener behind the same token check. Each tool call is a request of the
//! matching HTTP route, dispatched in-process through the API's own routes (with the forwarding
//! to the peer that owns a session) with the caller's tenant and credentials: the same
//! validation, limits, isolation and tenancy, and the same answer.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{middleware, Router};
use futures::StreamExt;
use mcp_tools::rmcp::model::Extensions;
use mcp_tools::rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use mcp_tools::rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use mcp_tools::{Answer, ApiCall, Backend, BoxFuture, Failure, SandboxTools, Splices, MAX_DOWNLOAD_BYTES};
use serde_json::Value;
use tower::ServiceExt;

use crate::request_id::{self, RequestId};

/// What is mounted at `/mcp`: rmcp's service, whose refusals of a request (plain text) are
/// answered as JSON-RPC errors. `api`: the routes the tools call, with their state.
pub(crate) fn router(api: Router, max_body_bytes: usize) -> Router {
    Router::new()
        .fallback_service(service(api, max_body_bytes))
        .layer(middleware::map_response(as_jsonrpc_error))
        .layer(middleware::from_fn(exact_results))
}

/// Gives each request its [`Splices`], and writes the exact text of the results its tools
/// noted into its answer (a JSON body: the service answers a call in JSON once its result is
/// there; an answer streamed as events, whose results come later, goes out as it is).
async fn exact_results(mut request: Request, next: Next) -> Response {
    let splices = Splices::default();
    request.extensions_mut().insert(splices.clone());
    let response = next.run(request).await;
    if splices.is_empty() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let message = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "an MCP answer could not be read to write its results exactly");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(splices.apply(message)))
}

/// rmcp answers a request it cannot take (a body that is not JSON-RPC, a wrong content type or
/// `Accept`, a GET) with plain text. As the Streamable HTTP transport allows, the body becomes
/// a JSON-RPC error without an id, and a body that does not parse is a 400 (not rmcp's 415).
async fn as_jsonrpc_error(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_else(|_| status.to_string());
    let unparsed = text.starts_with("fail to deserialize");
    let (code, status) = match (unparsed, text.contains("unrecognized JSON-RPC")) {
        (true, false) => (-32700, StatusCode::BAD_REQUEST),
        (true, true) => (-32600, StatusCode::BAD_REQUEST),
        (false, _) => (-32600, status),
    };
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": text}});
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// The tower service of rmcp's Streamable HTTP transport.
fn service(api: Router, max_body_bytes: usize) -> StreamableHttpService<SandboxTools, NeverSessionManager> {
    let backend: Arc<dyn Backend> = Arc::new(InProcess { api });
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
    // The tools and their schemas are made once; each request gets a copy.
    let tools = SandboxTools::new(backend);
    StreamableHttpService::new(move || Ok(tools.clone()), Arc::new(NeverSessionManager::default()), config)
}

/// The API's routes, called in-process.
struct InProcess {
    api: Router,
}

/// What of the MCP request goes along to the route: whose call it is, and its id.
const CALLER_HEADERS: [&str; 4] = ["x-tenant-id", "authorization", "x-api-key", "x-request-id"];

impl Backend for InProcess {
    fn splices(&self, request: &Extensions) -> Option<Splices> {
        request.get::<Parts>()?.extensions.get::<Splices>().cloned()
    }

    fn call<'a>(&'a self, call: ApiCall, request: &'a Extensions) -> BoxFuture<'a, Result<Answer, Failure>> {
        Box::pin(async move {
            let parts = request.get::<Parts>().ok_or_else(|| {
                Failure::Unreachable("the MCP call came without its HTTP request; no tenant can be told".into())
            })?;
            let id = parts.extensions.get::<RequestId>().map_or_else(request_id::generate, |id| id.0.clone());
            let call = call.into_http();
            let is_file = call.is_file;
            let mut builder = Request::builder().method(call.method).uri(&call.path);
            for name in CALLER_HEADERS {
                for value in parts.headers.get_all(name) {
                    builder = builder.header(name, value.clone());
                }
            }
            let body = match call.body {
                Some((content_type, bytes)) => {
                    builder = builder.header(header::CONTENT_TYPE, content_type);
                    Body::from(bytes)
                }
                None => Body::empty(),
            };
            let route = builder.body(body).map_err(|e| Failure::Unreachable(format!("the call is no request: {e}")))?;
            let response = request_id::scope(id, self.api.clone().oneshot(route)).await;
            answer(response.unwrap_or_else(|never| match never {}), is_file).await
        })
    }
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
    if is_file && status.is_success() {
        return file(response, mime_type).await;
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| Failure::Unreachable(format!("the route's answer could not be read: {e}")))?;
    if !status.is_success() {
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        return Err(Failure::Api { status: status.as_u16(), body });
    }
    Answer::json(&bytes).map_err(|e| Failure::Unreachable(format!("the route answered JSON that does not parse: {e}")))
}

/// A file's bytes, at most [`MAX_DOWNLOAD_BYTES`] of them: a larger file (by its length, or
/// by what comes of a relayed stream without one) is refused before it is read.
async fn file(response: Response, mime_type: String) -> Result<Answer, Failure> {
    let length = response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(size) = length.filter(|&size| size > MAX_DOWNLOAD_BYTES) {
        return Err(Failure::FileTooLarge { size: Some(size) });
    }
    let mut body = response.into_body().into_data_stream();
    let mut bytes = Vec::with_capacity(length.unwrap_or(0) as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Failure::Unreachable(format!("the file's bytes broke off: {e}")))?;
        if (bytes.len() + chunk.len()) as u64 > MAX_DOWNLOAD_BYTES {
            return Err(Failure::FileTooLarge { size: None });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Answer::File { bytes, mime_type })
}
