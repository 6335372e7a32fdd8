//! A server listening in a session, reached through the daemon: any request to
//! `/session/{id}/ports/{port}/{rest}` is forwarded, without its prefix, to `port` inside
//! the session (HTTP/1.1, bodies streamed both ways; a WebSocket or any other upgrade is
//! spliced through). Authenticated as the rest of the API (the daemon's token, then the
//! tenant of `X-Tenant-ID`): another tenant's session is not found (404).

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::Uri;
use axum::response::Response;
use executor::ExecuteError;

use super::session_id;
use crate::auth::{ApiToken, API_KEY_HEADER};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::ports::{self, Upstream};
use crate::state::AppState;
use crate::tenant;

#[utoipa::path(
    get,
    path = "/session/{id}/ports/{port}/{rest}",
    operation_id = "session_port",
    tag = "sessions",
    description = "Forwards the request to the server listening on `port` inside the session: any method (GET, \
        POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ...) the same way, with its headers (but the daemon's token and \
        `X-Tenant-ID`) and its body streamed; the answer comes back as the server gives it. An upgrade \
        (`Connection: upgrade`, a WebSocket) is carried both ways once the server accepts it.",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("port" = u16, Path, description = "The port a server listens on inside the session (1 to 65535)"),
        ("rest" = String, Path, description = "The path the server gets (with the query); \
            `/session/{id}/ports/{port}` alone is its `/`"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    responses(
        (status = 200, description = "The server's answer, whatever its status, headers and body (streamed as the \
            server writes it); `101 Switching Protocols` when the server accepts an upgrade (WebSocket), the \
            connection then carrying both ways until either side closes or it idles past \
            `EXECUTOR_PORT_IDLE_SECS`"),
        (status = 400, description = "The port is not 1 to 65535, or the tenant is invalid", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired` (also for another tenant's session)", body = ErrorBody),
        (status = 429, description = "`Executor.TooManyConnections`: the session (or the tenant) has as many proxied \
            connections open as it may (`EXECUTOR_PORT_MAX_CONNECTIONS`, `..._PER_TENANT`)", body = ErrorBody),
        (status = 502, description = "`Executor.PortUnavailable`: nothing listens on the port, or the server \
            broke off its answer", body = ErrorBody),
    )
)]
pub async fn forward(
    State(state): State<Arc<AppState>>,
    OriginalUri(original): OriginalUri,
    request: Request,
) -> Result<Response, ApiError> {
    // `/session/{id}/ports/{port}...`, as routed.
    let mut segments = original.path().split('/').skip(2);
    let (id, port) = match (segments.next(), segments.next(), segments.next()) {
        (Some(id), Some("ports"), Some(port)) => (id.to_string(), port.to_string()),
        _ => return Err(ExecuteError::invalid("port", "the path names no session and port").into()),
    };
    let tenant = tenant::of(request.headers(), None)?;
    let id = session_id(id)?;
    let port = ports::parse_port(&port)
        .ok_or_else(|| ExecuteError::invalid("port", format!("{port:?} is not a port (1 to 65535)")))?;
    let request = for_server(&state, request, &original);
    let guard = state.ports.try_open(&id, &tenant).map_err(|refused| {
        ApiError::new(
            ErrorCode::TooManyConnections,
            "Too many connections to the session's ports are open.",
            refused.to_string(),
            "Close connections you no longer use (WebSockets, streamed answers), or wait for them to end.",
        )
        .with_retry_after(1)
    })?;
    let stream = state.service.session_connect_port(&id, &tenant, port).await?;
    let upstream = Upstream { stream, idle: state.options.ports.idle, guard };
    ports::forward(request, upstream).await.map_err(|e| {
        ApiError::new(
            ErrorCode::PortUnavailable,
            "The server in the session gave no answer.",
            e.to_string(),
            "Check the server in the session (its output, whether it still runs), then send the request again.",
        )
    })
}

/// The request as the server gets it: its path without the `/session/{id}/ports/{port}`
/// prefix, and without the daemon's token and tenant, which are this daemon's business.
fn for_server(state: &AppState, mut request: Request, original: &Uri) -> Request {
    let rest = ports::rest_of_path(original.path_and_query().map_or(original.path(), |p| p.as_str()), 4);
    *request.uri_mut() = rest.parse().unwrap_or_else(|_| Uri::from_static("/"));
    let token = state.options.api_token.as_deref().map(ApiToken::new);
    let headers = request.headers_mut();
    headers.remove(HeaderName::from_static(tenant::TENANT_HEADER));
    if let Some(token) = token {
        let is_token = |value: &str| token.matches(value.strip_prefix("Bearer ").unwrap_or(value).trim());
        for name in [header::AUTHORIZATION, API_KEY_HEADER] {
            if headers.get(&name).and_then(|v| v.to_str().ok()).is_some_and(is_token) {
                headers.remove(&name);
            }
        }
    }
    request
}
