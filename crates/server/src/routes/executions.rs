//! `GET /executions/{id}`: what is known of an execution, above all one started with
//! `"async": true`: still running, or finished with its result.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use executor::validate::check_id;
use executor::ExecutionRecord;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Where the record of execution `id` is read; `id` must already be valid.
pub fn status_url(id: &str) -> String {
    format!("/executions/{id}")
}

#[utoipa::path(
    get,
    path = "/executions/{id}",
    operation_id = "get_execution",
    tag = "execution",
    params(
        ("id" = String, Path, description = "The execution's id: 1 to 128 characters of A-Z a-z 0-9 . _ -"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The tenant the execution was run for (default: `default`); another tenant's execution is not found"),
    ),
    responses(
        (status = 200, description = "The execution: `running`, or `finished` with its `result`", body = ExecutionRecord),
        (status = 400, description = "The id cannot be an execution id", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 404, description = "No such execution (never run, or its record has expired)", body = ErrorBody),
        (status = 500, description = "The execution store could not be read", body = ErrorBody),
    )
)]
pub async fn execution(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ExecutionRecord>, ApiError> {
    // Axum's own rejection (an id that is not UTF-8 once percent-decoded) is plain text.
    let Path(id) = id.map_err(|err| bad_id(err.body_text()))?;
    // Checked here so that junk never reaches the store's query, nor its logs.
    let id = check_id("id", id).map_err(|e| bad_id(e.to_string()))?;
    let tenant = crate::tenant::of(&headers, None)?;
    Ok(Json(state.service.lookup(&id, &tenant)?))
}

fn bad_id(detail: impl Into<String>) -> ApiError {
    ApiError::validation(
        detail,
        "Use the execution_id that POST /execute returned: 1 to 128 characters of A-Z a-z 0-9 . _ -.",
    )
}
