//! `GET /info`: the host, the isolation layers in force, the languages and the limits.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use executor::HostInfo;

use crate::error::ErrorBody;
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/info",
    operation_id = "info",
    tag = "health",
    responses(
        (status = 200, description = "This host and the sandbox in force", body = HostInfo),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 500, description = "The report could not be built", body = ErrorBody),
    )
)]
pub async fn info(State(state): State<Arc<AppState>>) -> Json<HostInfo> {
    Json(state.service.info())
}
