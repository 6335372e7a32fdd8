//! Sessions (seed 003's paths): `POST /session/create`, `POST /session/execute`,
//! `POST /session/destroy`, `GET /sessions`. A session keeps a workspace and one interpreter
//! per language it has used, so that state lives on between calls. Every session belongs to
//! the tenant that created it (`tenant_id` in the body or the `X-Tenant-ID` header, else
//! `default`); to any other tenant it does not exist (404, never 403).

pub mod files;
pub mod ports;
pub mod processes;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::validate::check_scope;
use executor::{ExecuteError, Language, NewSession, SessionCall, SessionInfo, SessionResult, Tap};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::json::{self, JsonBytes};
use crate::routes::stream;
use crate::state::AppState;
use crate::tenant;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct CreateSessionRequest {
    /// The tenant owning the session (or the `X-Tenant-ID` header; default `default`).
    pub tenant_id: Option<String>,
    /// Free text recorded with the session (for example `user:123`), at most 256 characters.
    pub scope: Option<String>,
    /// The environment (`GET /templates`); default `default` (plain Python).
    pub template: Option<String>,
    /// Idle seconds after which the session expires; default 300, at most the server's
    /// `SESSION_MAX_TTL_SECS` (3600 by default).
    #[schema(example = 300)]
    #[serde(default, deserialize_with = "executor::json_shape::whole_number")]
    pub ttl: Option<u64>,
    /// Destinations the session's code may reach through its egress proxy (the syntax of
    /// `POST /execute`'s `egress`); absent or empty: no network. In a session with a policy,
    /// `pip install` installs into the session's own layer (`/workspace/.packages/python`,
    /// on every Python's path in the session) and `npm install` into its workspace: later
    /// cells import them; other sessions never see them; they go with the session.
    #[schema(example = json!(["pypi.org", "files.pythonhosted.org"]))]
    pub egress: Option<Vec<String>>,
}

/// The session as created.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionCreated {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    #[serde(flatten)]
    pub session: SessionInfo,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct SessionExecuteRequest {
    pub session_id: String,
    /// The cell: run in the session's interpreter of its language.
    pub code: String,
    /// `python`, `javascript` or `shell` (or an alias); default: the template's language.
    /// Shell keeps no interpreter: each call is a one-shot run in the session's workspace.
    pub language: Option<String>,
    /// Seconds for this call; default: the template's. A cell that runs longer kills the
    /// interpreter (its state is lost; the next call starts a new one and says so).
    pub timeout: Option<f64>,
    /// Must be the session's tenant (or use the `X-Tenant-ID` header).
    pub tenant_id: Option<String>,
    #[serde(default, deserialize_with = "executor::json_shape::optional_object")]
    pub limits: Option<SessionLimits>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionLimits {
    /// Bytes kept of each of the cell's stdout and stderr.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "executor::json_shape::whole_number")]
    pub max_output_bytes: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct DestroySessionRequest {
    pub session_id: String,
    /// Must be the session's tenant (or use the `X-Tenant-ID` header).
    pub tenant_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDestroyed {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub session_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    /// The caller's tenant's live sessions, oldest first.
    pub sessions: Vec<SessionInfo>,
}

/// A session id as the caller sent it: 404 for anything no session can have.
pub fn session_id(id: String) -> Result<String, ApiError> {
    if crate::peers::is_session_id(&id) {
        Ok(id)
    } else {
        Err(ExecuteError::SessionNotFound(id.chars().take(64).collect()).into())
    }
}

#[utoipa::path(
    post,
    path = "/session/create",
    operation_id = "create_session",
    tag = "sessions",
    request_body(content = CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The session was created (its interpreters start with the first call of each language)", body = SessionCreated),
        (status = 400, description = "A bad ttl, tenant_id, scope or egress policy", body = ErrorBody),
        (status = 404, description = "`Executor.NotFound`: no template has this name (the known ones are listed)", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody),
        (status = 429, description = "`Executor.SessionLimit`: as many sessions are alive as the daemon, or the tenant, may keep",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "The template could not be built, or the workspace created", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, ApiError> {
    let body: CreateSessionRequest = json::decode(json::parse_value(&bytes)?)?;
    let tenant_id = tenant::of(&headers, body.tenant_id)?;
    let scope = body.scope.map(check_scope).transpose()?;
    let template = state.service.templates().get(body.template.as_deref().unwrap_or("default"))?;
    let egress =
        executor::validate::check_egress(&body.egress.unwrap_or_default())?.or_else(|| template.egress.clone());
    let new = NewSession {
        tenant_id,
        scope,
        template,
        ttl_secs: body.ttl,
        lifetime_secs: None,
        home_alias: false,
        egress,
        attributes: Default::default(),
    };
    let session = state.service.create_session(new).await?;
    let created = SessionCreated { status: "success".into(), session };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[utoipa::path(
    post,
    path = "/session/execute",
    operation_id = "execute_in_session",
    tag = "sessions",
    request_body(content = SessionExecuteRequest, content_type = "application/json"),
    params(("Accept" = Option<String>, Header, description = "`text/event-stream` asks for the answer as server-sent \
        events: stdout and stderr chunks as the cell writes them, each result as it is displayed, then `done` with \
        the result")),
    responses(
        (status = 200, description = "The cell ran (its own failure, timeout or the interpreter's death is in `status`, \
            `interpreter_restarted` and `note`); with `Accept: text/event-stream`, as server-sent events ending with \
            `done` (the same result)",
            content(
                (SessionResult = "application/json"),
                (stream::EventStream = "text/event-stream"),
            )),
        (status = 400, description = "The request is invalid", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired` (also for another tenant's session)", body = ErrorBody),
        (status = 413, description = "The code is over the size limit", body = ErrorBody),
        (status = 500, description = "The interpreter's sandbox could not start", body = ErrorBody),
    )
)]
pub async fn execute(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, ApiError> {
    let body: SessionExecuteRequest = json::decode(json::parse_value(&bytes)?)?;
    let tenant_id = tenant::of(&headers, body.tenant_id)?;
    let session_id = session_id(body.session_id)?;
    let language = match body.language.as_deref() {
        Some(name) => Language::parse(name).ok_or_else(|| {
            ExecuteError::invalid("language", format!("unknown language {name:?}; accepted: {}", Language::ACCEPTED))
        })?,
        None => state.service.session_language(&session_id, &tenant_id)?,
    };
    let call = SessionCall {
        session_id,
        tenant_id,
        language,
        code: body.code,
        timeout_secs: body.timeout,
        max_output_bytes: body.limits.and_then(|l| l.max_output_bytes),
        context: None,
    };
    // In a task of its own: a caller hanging up does not leave the interpreter mid-cell.
    let service = Arc::clone(&state.service);
    if stream::wanted(&headers) {
        service.check_session_call(&call)?;
        let (tap, events) = Tap::channel();
        let running = tokio::spawn(async move { service.session_execute_streaming(call, tap).await });
        return Ok(stream::respond(events, async move { stream::body_of(&joined(running.await)?) }));
    }
    let result = tokio::spawn(async move { service.session_execute(call).await });
    Ok(Json(joined(result.await)?).into_response())
}

/// The result of a session call's task.
fn joined(
    outcome: Result<Result<SessionResult, ExecuteError>, tokio::task::JoinError>,
) -> Result<SessionResult, ApiError> {
    Ok(outcome.map_err(|e| ApiError::internal(format!("the session call failed: {e}")))??)
}

#[utoipa::path(
    post,
    path = "/session/destroy",
    operation_id = "destroy_session",
    tag = "sessions",
    request_body(content = DestroySessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The session's interpreters were killed and its workspace removed", body = SessionDestroyed),
        (status = 400, description = "The request is invalid", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired` (also for another tenant's session)", body = ErrorBody),
    )
)]
pub async fn destroy(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<SessionDestroyed>, ApiError> {
    let body: DestroySessionRequest = json::decode(json::parse_value(&bytes)?)?;
    let tenant_id = tenant::of(&headers, body.tenant_id)?;
    let session_id = session_id(body.session_id)?;
    state.service.destroy_session(&session_id, &tenant_id).await?;
    Ok(Json(SessionDestroyed { status: "success".into(), session_id }))
}

#[utoipa::path(
    get,
    path = "/sessions",
    operation_id = "list_sessions",
    tag = "sessions",
    params(("X-Tenant-ID" = Option<String>, Header, description = "The tenant whose sessions to list; default `default`")),
    responses(
        (status = 200, description = "The tenant's live sessions", body = SessionList),
        (status = 400, description = "The tenant id is invalid", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<SessionList>, ApiError> {
    let tenant_id = tenant::of(&headers, None)?;
    Ok(Json(SessionList { status: "success".into(), sessions: state.service.list_sessions(&tenant_id) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn ids_no_session_can_have_are_not_found() {
        assert_eq!(session_id("0123456789ab".into()).unwrap(), "0123456789ab");
        for bad in ["0123456789AB", "0123456789a", "../etc/passwd", "", "0123456789abc"] {
            let err = session_id(bad.into()).unwrap_err();
            assert_eq!(err.code(), ErrorCode::NotFound, "{bad}");
            assert!(err.detail().ends_with("not found or expired"), "{}", err.detail());
        }
    }
}
