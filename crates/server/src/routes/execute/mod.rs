//! `POST /execute`: validates the body, runs it through the execution service, returns the
//! result. A program that fails is still a 200 with a failed status; errors are the caller's
//! request (4xx) or the host (5xx). With `"async": true` the answer is a 202 as soon as the
//! execution is taken on, and the result is read later at `GET /executions/{id}`.

mod accepted;
mod body;

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::validate::build_request;
use executor::{ExecuteError, ExecutionResult, Tap};
use serde_json::Value;

pub use accepted::{AcceptedStatus, ExecutionAccepted};
pub use body::{EncodedFile, ExecuteRequest, FileContent, FileEncoding, LimitsRequest};

use crate::dialect::{self, DialectErrorBody, DialectFields};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::json::{self, JsonBytes};
use crate::routes::stream;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/execute",
    operation_id = "execute",
    tag = "execution",
    request_body(content = ExecuteRequest, content_type = "application/json"),
    params(("Accept" = Option<String>, Header, description = "`text/event-stream` asks for the answer as server-sent \
        events: stdout and stderr chunks as the code writes them, then `done` with the result (not for the NVIDIA \
        dialect's `generated_code`, nor with `async`)")),
    responses(
        (status = 200, description = "The code ran (its own failure, timeout or kill is in `status`); with `Accept: \
            text/event-stream`, as server-sent events ending with `done` (the same result)",
            content(
                (ExecutionResult = "application/json"),
                (stream::EventStream = "text/event-stream"),
            )),
        (status = 202, description = "With `\"async\": true`: the execution was taken on; its result will be at `status_url`",
            body = ExecutionAccepted,
            headers(("Location" = String, description = "`/executions/{id}`, the same as `status_url`"))),
        (status = 400, description = "The request is invalid (with `process_status`, `stdout`, `stderr` for a `generated_code` request)", body = DialectErrorBody),
        (status = 404, description = "`Executor.NotFound`: no template has this name (the known ones are listed)", body = DialectErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 409, description = "`Executor.Conflict`: an execution with this id is still running, or the id is \
            another tenant's (ids are unique across tenants)", body = ErrorBody),
        (status = 413, description = "The body, the code or the files are over a size limit", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 500, description = "The sandbox could not start, the template's environment could not be built \
            (`Executor.TemplateBuildError`, with the end of the build log), or the executor failed (also: `async` on a \
            daemon without an execution store)", body = ErrorBody),
        (status = 503, description = "`Executor.QueueFull`: as many executions are running and waiting as the daemon takes; \
            `Executor.ShuttingDown`; or `Executor.ResourcesExhausted`: the daemon is out of open descriptors for the \
            moment", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before sending the request again"))),
    )
)]
pub async fn execute(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, ApiError> {
    let value = json::parse_value(&bytes).map_err(|err| for_dialect(err, dialect::mentions_dialect(&bytes)))?;
    let is_dialect = dialect::is_dialect(&value);
    run(&state, &headers, value).await.map_err(|err| for_dialect(err, is_dialect))
}

async fn run(state: &AppState, headers: &HeaderMap, body: Value) -> Result<Response, ApiError> {
    let mut body: ExecuteRequest = json::decode(body)?;
    let dialect_request = body.is_dialect();
    body.tenant_id = Some(crate::tenant::of(headers, body.tenant_id.take())?);
    let run_async = body.run_async;
    let templates = state.service.templates();
    let mut draft = body.into_draft(&state.options, |name| Ok(templates.get(name)?))?;
    // Among peers, an id the daemon makes names it, so that any peer can find the record.
    if let (None, Some(peers)) = (&draft.execution_id, &state.options.peers) {
        draft.execution_id = Some(peers.owned_id(&format!("exec_{}", uuid::Uuid::new_v4().simple())));
    }
    let request = build_request(draft, state.service.limits())?;
    tracing::info!(
        execution_id = %request.execution_id,
        language = request.language.name(),
        template = request.template.as_ref().map(|t| t.name.as_str()),
        timeout_ms = request.timeout_ms,
        tenant_id = %request.tenant_id,
        run_async,
        "executing"
    );
    if run_async {
        let id = state.service.submit(request).map_err(not_submitted)?;
        return Ok(ExecutionAccepted::new(id).into_response());
    }
    // The NVIDIA dialect answers as it always has.
    if stream::wanted(headers) && !dialect_request {
        let (tap, events) = Tap::channel();
        let running = state.service.start_streaming(request, tap)?;
        return Ok(stream::respond(events, async move { stream::body_of(&running.await?) }));
    }
    // The service runs the request in a task of its own, so a caller hanging up (which drops
    // this handler) does not cancel a run halfway through.
    let mut result: ExecutionResult = state.service.execute(request).await?;
    if dialect_request {
        dialect::shape_result(&mut result);
    }
    Ok(Json(result).into_response())
}

/// The service's internal refusals of an asynchronous run are about the execution store (none
/// configured, or it failed to record the start): the caller can still wait for the result.
fn not_submitted(err: ExecuteError) -> ApiError {
    match err {
        ExecuteError::Internal(detail) => ApiError::new(
            ErrorCode::Internal,
            "The execution could not be started asynchronously.",
            detail,
            "Send the request without \"async\" (or with \"async\": false) to get the result in the \
             response. Asynchronous runs need the daemon's execution store: check its configuration \
             and the daemon's log.",
        ),
        other => other.into(),
    }
}

/// NVIDIA's client reads `process_status` and `stderr` from every answer, errors included.
fn for_dialect(err: ApiError, is_dialect: bool) -> ApiError {
    if !is_dialect {
        return err;
    }
    let reason = err.detail().to_owned();
    err.with_fields(DialectFields::error(reason))
}
