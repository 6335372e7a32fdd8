//! `GET /`: what this service is and where to go next. Load balancers and NVIDIA's test
//! fixture probe the root, so it answers 200 (without an API token, like `/health`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceIndex {
    #[schema(example = "sandbox-executor")]
    pub name: String,
    pub version: String,
    pub description: String,
    pub links: ServiceLinks,
}

/// Paths of this service, relative to its root.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceLinks {
    #[schema(example = "/health")]
    pub health: String,
    #[schema(example = "/openapi.json")]
    pub openapi: String,
    #[schema(example = "/info")]
    pub info: String,
    #[schema(example = "/execute")]
    pub execute: String,
}

#[utoipa::path(
    get,
    path = "/",
    tag = "meta",
    // Open even when the daemon has an API token: probes carry no credentials.
    security(()),
    responses(
        (status = 200, description = "The service's name, version and links", body = ServiceIndex),
    )
)]
pub async fn index(State(state): State<Arc<AppState>>) -> Json<ServiceIndex> {
    Json(ServiceIndex {
        name: "sandbox-executor".into(),
        version: state.options.version.clone(),
        description: "Runs untrusted Python, JavaScript and Shell in a Linux sandbox.".into(),
        links: ServiceLinks {
            health: "/health".into(),
            openapi: "/openapi.json".into(),
            info: "/info".into(),
            execute: "/execute".into(),
        },
    })
}
