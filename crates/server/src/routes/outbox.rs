//! `GET /outbox`: the delivery outbox as operators need to see it: how many results are
//! pending, delivered and dead, and why the dead ones were given up on.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde_json::Value;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/outbox",
    operation_id = "outbox",
    tag = "health",
    responses(
        (status = 200, description = "`pending`, `delivered` and `dead` counts of the whole outbox, and the \
            newest dead letters of the caller's tenant (`X-Tenant-ID`): `execution_id`, `reason`, `attempts`, \
            `dead_at_ms`", body = Object),
        (status = 400, description = "The tenant id is malformed", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 404, description = "No control plane is configured, so nothing is delivered", body = ErrorBody),
    )
)]
pub async fn outbox(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let tenant = crate::tenant::of(&headers, None)?;
    match &state.options.outbox {
        Some(source) => Ok(Json((source.0)(&tenant))),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            "This executor delivers no results.",
            "no control plane is configured",
            "Set CONTROL_PLANE_URL to deliver results to a control plane.",
        )),
    }
}
