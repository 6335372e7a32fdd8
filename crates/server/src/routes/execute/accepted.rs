//! The 202 answer of `POST /execute` with `"async": true`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::routes::executions::status_url;

/// The execution was taken on; its result will be at `status_url`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExecutionAccepted {
    pub execution_id: String,
    pub status: AcceptedStatus,
    /// Where to read the execution's state and, once finished, its result (also the
    /// `Location` header).
    #[schema(example = "/executions/3f2a9c")]
    pub status_url: String,
}

/// An accepted execution is always running (or queued for a turn) when the answer leaves.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcceptedStatus {
    Running,
}

impl ExecutionAccepted {
    pub fn new(execution_id: String) -> Self {
        let status_url = status_url(&execution_id);
        ExecutionAccepted { execution_id, status: AcceptedStatus::Running, status_url }
    }
}

impl IntoResponse for ExecutionAccepted {
    fn into_response(self) -> Response {
        // Ids are validated to a URL-safe alphabet, so this conversion cannot fail in practice;
        // without the header the body still says where to look.
        let location = HeaderValue::from_str(&self.status_url).ok();
        let mut response = (StatusCode::ACCEPTED, Json(self)).into_response();
        if let Some(location) = location {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }
}
