//! `POST /execute`: validates the body, runs it through the execution service, returns the
//! result. A program that fails is still a 200 with a failed status; errors are the caller's
//! request (4xx) or the host (5xx).

mod body;

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use executor::validate::build_request;
use executor::ExecutionResult;
use serde_json::Value;

pub use body::{EncodedFile, ExecuteRequest, FileContent, FileEncoding, LimitsRequest};

use crate::app::AppState;
use crate::dialect::{self, DialectErrorBody, DialectFields};
use crate::error::{ApiError, ErrorBody};
use crate::json::{self, JsonBytes};

#[utoipa::path(
    post,
    path = "/execute",
    tag = "execution",
    request_body(content = ExecuteRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The code ran (its own failure, timeout or kill is in `status`)", body = ExecutionResult),
        (status = 400, description = "The request is invalid (with `process_status`, `stdout`, `stderr` for a `generated_code` request)", body = DialectErrorBody),
        (status = 409, description = "An execution with this id is still running", body = ErrorBody),
        (status = 413, description = "The body, the code or the files are over a size limit", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 500, description = "The sandbox could not start, or the executor failed", body = ErrorBody),
    )
)]
pub async fn execute(
    State(state): State<Arc<AppState>>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<ExecutionResult>, ApiError> {
    let value = json::parse_value(&bytes).map_err(|err| for_dialect(err, dialect::mentions_dialect(&bytes)))?;
    let is_dialect = dialect::is_dialect(&value);
    run(&state, value).await.map(Json).map_err(|err| for_dialect(err, is_dialect))
}

async fn run(state: &AppState, body: Value) -> Result<ExecutionResult, ApiError> {
    let body: ExecuteRequest = json::decode(body)?;
    let draft = body.into_draft(&state.options)?;
    let request = build_request(draft, state.service.limits())?;
    tracing::info!(
        execution_id = %request.execution_id,
        language = request.language.name(),
        timeout_ms = request.timeout_ms,
        "executing"
    );
    // The service runs the request in a task of its own, so a caller hanging up (which drops
    // this handler) does not cancel a run halfway through.
    Ok(state.service.execute(request).await?)
}

/// NVIDIA's client reads `process_status` and `stderr` from every answer, errors included.
fn for_dialect(err: ApiError, is_dialect: bool) -> ApiError {
    if !is_dialect {
        return err;
    }
    let reason = err.detail().to_owned();
    err.with_fields(DialectFields::error(reason))
}
