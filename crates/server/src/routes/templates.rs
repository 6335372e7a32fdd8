//! `GET /templates` lists the environments runs may ask for; `POST /templates` adds one. A new
//! template is built by its first run (or by `sandbox-executor templates build`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::{TemplateInfo, TemplateSpec};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::json::{self, JsonBytes};
use crate::state::AppState;

/// Every template, built-in and custom.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub templates: Vec<TemplateInfo>,
}

/// The template as created.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateCreated {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub template: TemplateInfo,
}

#[utoipa::path(
    get,
    path = "/templates",
    operation_id = "list_templates",
    tag = "templates",
    responses(
        (status = 200, description = "Every template, with its packages, default limits and whether it is built", body = TemplateList),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
    )
)]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<TemplateList>, ApiError> {
    let service = Arc::clone(&state.service);
    // Whether each is built is read from disk.
    let templates = tokio::task::spawn_blocking(move || service.templates().list())
        .await
        .map_err(|e| ApiError::internal(format!("listing templates failed: {e}")))?;
    Ok(Json(TemplateList { status: "success".into(), templates }))
}

#[utoipa::path(
    post,
    path = "/templates",
    operation_id = "create_template",
    tag = "templates",
    request_body(content = TemplateSpec, content_type = "application/json"),
    responses(
        (status = 201, description = "The template was created and saved; its first run builds it", body = TemplateCreated),
        (status = 400, description = "The definition is invalid: name, language, a package (options, URLs and paths are refused), \
            limits over the server's caps, or `network: true`", body = ErrorBody),
        (status = 401, description = "The API token is missing or wrong", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 409, description = "A template with this name exists (built-in ones cannot be redefined)", body = ErrorBody),
        (status = 415, description = "The body is not declared as JSON", body = ErrorBody),
        (status = 500, description = "The template could not be saved", body = ErrorBody),
    )
)]
pub async fn create(State(state): State<Arc<AppState>>, JsonBytes(bytes): JsonBytes) -> Result<Response, ApiError> {
    let spec: TemplateSpec = json::decode(json::parse_value(&bytes)?)?;
    let service = Arc::clone(&state.service);
    // Saving takes a file lock shared with other daemons on the same directory.
    let created = tokio::task::spawn_blocking(move || service.templates().add(spec))
        .await
        .map_err(|e| ApiError::internal(format!("creating the template failed: {e}")))??;
    tracing::info!(template = %created.name, packages = ?created.packages, "template created");
    let body = TemplateCreated { status: "success".into(), template: created };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
