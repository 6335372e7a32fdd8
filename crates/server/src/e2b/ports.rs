//! E2B's `get_host(port)`: a request for `{port}-{sandbox id}.<domain>` (the operator's
//! wildcard domain, `EXECUTOR_E2B_DOMAIN`), or for `/e2b/ports/{sandbox id}/{port}/...` from a
//! client without that DNS, reaches the server listening on that port in the sandbox,
//! through the daemon's proxy (`crate::ports`). The envd port (49983) of a host name is the
//! sandbox plane itself. Errors are those of E2B's edge: JSON with the sandbox id, the
//! message and the status.

use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use executor::{ExecuteError, SessionHandle};
use serde_json::{json, Value};

use super::error::E2bError;
use super::plane::SANDBOX_ID_HEADER;
use crate::ports::{self, Upstream};
use crate::state::AppState;

/// The header carrying a sandbox's traffic token, for a sandbox whose traffic is not public.
pub const TRAFFIC_TOKEN_HEADER: &str = "e2b-traffic-access-token";
/// The port envd listens on in an E2B sandbox: here, the sandbox plane under `/e2b/sandbox`.
const ENVD_PORT: u16 = 49983;

/// Takes, before any route, a request whose host names a sandbox's port under the operator's
/// domain; any other goes on to the routes.
pub async fn by_host(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(domain) = state.options.ports.domain.as_deref() else { return next.run(request).await };
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| request.uri().host());
    let Some((port, id)) = host.and_then(|host| ports::host_target(host, domain)) else {
        return next.run(request).await;
    };
    if port == ENVD_PORT {
        return next.run(to_plane(request, &id)).await;
    }
    proxy(&state, &id, port, request).await
}

/// A request for the envd port, as a call of the sandbox plane.
fn to_plane(mut request: Request, id: &str) -> Request {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let plane = format!("/e2b/sandbox{}", if path == "/" { "" } else { path });
    *request.uri_mut() = plane.parse().unwrap_or_else(|_| Uri::from_static("/e2b/sandbox"));
    match HeaderValue::from_str(id) {
        Ok(id) => request.headers_mut().insert(SANDBOX_ID_HEADER, id),
        Err(_) => request.headers_mut().remove(SANDBOX_ID_HEADER),
    };
    request
}

/// `/e2b/ports/{id}/{port}` and `/e2b/ports/{id}/{port}/{*path}`: the path form, forwarded
/// without its prefix.
pub async fn by_path(
    State(state): State<Arc<AppState>>,
    OriginalUri(original): OriginalUri,
    Path(params): Path<Vec<(String, String)>>,
    mut request: Request,
) -> Response {
    let (id, port) = match params.as_slice() {
        [(_, id), (_, port), ..] => (id.as_str(), port.as_str()),
        _ => return E2bError::bad_request("the path names no sandbox and port").into_response(),
    };
    let Some(port) = ports::parse_port(port) else {
        return E2bError::bad_request(format!("{port:?} is not a port (1 to 65535)")).into_response();
    };
    let rest = ports::rest_of_path(original.path_and_query().map_or(original.path(), |p| p.as_str()), 4);
    *request.uri_mut() = rest.parse().unwrap_or_else(|_| Uri::from_static("/"));
    proxy(&state, id, port, request).await
}

/// Forwards `request` to `port` of the sandbox `id`, once its traffic token (if it wants
/// one) is checked and the caps leave room.
async fn proxy(state: &AppState, id: &str, port: u16, mut request: Request) -> Response {
    let id = &id.chars().take(64).collect::<String>();
    let Some(sandbox) = state.service.sessions_with_tokens(Some(id)).pop() else {
        return edge(StatusCode::BAD_GATEWAY, id, not_found());
    };
    if let Err(message) = check_traffic(&sandbox, &request) {
        return edge(StatusCode::FORBIDDEN, sandbox.id(), json!({ "message": message }));
    }
    // The token is for this daemon; the server in the sandbox has no use for it.
    request.headers_mut().remove(TRAFFIC_TOKEN_HEADER);
    let guard = match state.ports.try_open(sandbox.id(), sandbox.tenant()) {
        Ok(guard) => guard,
        Err(refused) => {
            let message =
                format!("The sandbox has too many concurrent incoming connections (limit: {})", refused.limit());
            let fields = json!({ "message": message, "connectionLimit": refused.limit() });
            return edge(StatusCode::TOO_MANY_REQUESTS, id, fields);
        }
    };
    let stream = match state.service.session_connect_port(sandbox.id(), sandbox.tenant(), port).await {
        Ok(stream) => stream,
        Err(ExecuteError::PortUnavailable(_)) => {
            let fields = json!({ "message": "The sandbox is running but port is not open", "port": port });
            return edge(StatusCode::BAD_GATEWAY, id, fields);
        }
        Err(ExecuteError::SessionNotFound(_)) => return edge(StatusCode::BAD_GATEWAY, id, not_found()),
        Err(e) => {
            let message = e.to_string();
            return edge(E2bError::from(e).status, id, json!({ "message": message }));
        }
    };
    let upstream = Upstream { stream, idle: state.options.ports.idle, guard };
    match ports::forward(request, upstream).await {
        Ok(answer) => answer,
        Err(e) => edge(StatusCode::BAD_GATEWAY, id, json!({ "message": e.to_string(), "port": port })),
    }
}

/// Refuses a request to a sandbox whose traffic is not public unless it carries the
/// sandbox's traffic token (403 with this message when missing or wrong, as E2B's edge).
fn check_traffic(sandbox: &SessionHandle, request: &Request) -> Result<(), String> {
    if !sandbox.ports_need_token() {
        return Ok(());
    }
    let presented = request.headers().get(TRAFFIC_TOKEN_HEADER).map(|v| v.to_str().unwrap_or(""));
    let message = match presented {
        None => {
            format!("Sandbox is secured with traffic access token. Token header '{TRAFFIC_TOKEN_HEADER}' is missing")
        }
        Some(token) if sandbox.tokens().is_some_and(|t| t.accepts_traffic(token)) => return Ok(()),
        Some(_) => format!(
            "Sandbox is secured with traffic access token. Provided token in header '{TRAFFIC_TOKEN_HEADER}' is invalid"
        ),
    };
    Err(message)
}

fn not_found() -> Value {
    json!({ "message": "The sandbox was not found" })
}

/// An error of E2B's edge: `{"sandboxId", "message", "code", ...}` with the status.
fn edge(status: StatusCode, id: &str, fields: Value) -> Response {
    let mut body = json!({ "sandboxId": id, "code": status.as_u16() });
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    (status, axum::Json(body)).into_response()
}
