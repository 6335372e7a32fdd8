//! E2B's error bodies: `{"code": <status>, "message": "..."}` on the REST routes, and the
//! Connect protocol's `{"code": "not_found", "message": "..."}` on the envd RPCs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use executor::ExecuteError;
use serde_json::json;

/// An error of a REST route of the E2B API, in its own format.
#[derive(Debug)]
pub struct E2bError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for a `Retry-After` header (a refusal that passes with time).
    pub retry_after: Option<u64>,
}

impl E2bError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> E2bError {
        E2bError { status, message: message.into(), retry_after: None }
    }

    pub fn bad_request(message: impl Into<String>) -> E2bError {
        E2bError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> E2bError {
        E2bError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> E2bError {
        E2bError::new(StatusCode::UNAUTHORIZED, message)
    }

    /// What the sandbox plane answers for a sandbox that does not exist (any more): the SDKs
    /// read it as "the sandbox is not running".
    pub fn sandbox_gone(id: &str) -> E2bError {
        E2bError::new(StatusCode::BAD_GATEWAY, format!("The sandbox {id} was not found"))
    }
}

/// The HTTP status E2B's API would give an error of the service.
fn status_of(e: &ExecuteError) -> StatusCode {
    match e {
        ExecuteError::Invalid { .. } => StatusCode::BAD_REQUEST,
        ExecuteError::SessionNotFound(_)
        | ExecuteError::FileNotFound(_)
        | ExecuteError::NotFound(_)
        | ExecuteError::UnknownTemplate(_) => StatusCode::NOT_FOUND,
        ExecuteError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ExecuteError::WorkspaceFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
        ExecuteError::QueueFull { .. } | ExecuteError::SessionLimit(_) | ExecuteError::TransfersFull { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ExecuteError::ShuttingDown | ExecuteError::SessionEnding(_) | ExecuteError::ResourcesExhausted(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        ExecuteError::AlreadyRunning(_) | ExecuteError::IdTaken(_) | ExecuteError::FileConflict(_) => {
            StatusCode::CONFLICT
        }
        ExecuteError::PortClosed { .. } => StatusCode::BAD_GATEWAY,
        ExecuteError::Sandbox { .. } | ExecuteError::TemplateBuild { .. } | ExecuteError::Internal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl From<ExecuteError> for E2bError {
    fn from(e: ExecuteError) -> E2bError {
        let retry_after = match e {
            ExecuteError::QueueFull { retry_after_secs, .. } | ExecuteError::TransfersFull { retry_after_secs, .. } => {
                Some(retry_after_secs)
            }
            _ => None,
        };
        E2bError { retry_after, ..E2bError::new(status_of(&e), e.to_string()) }
    }
}

impl IntoResponse for E2bError {
    fn into_response(self) -> Response {
        let body = json!({ "code": self.status.as_u16(), "message": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        // The SDKs retry some statuses unless told not to; none of ours gets better by retrying
        // at once, except a full daemon (429, 503).
        if !matches!(self.status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
            response.headers_mut().insert("should-retry", HeaderValue::from_static("false"));
        }
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A Connect RPC error: its code names the HTTP status.
#[derive(Debug)]
pub struct ConnectError {
    pub code: &'static str,
    pub message: String,
}

impl ConnectError {
    pub fn new(code: &'static str, message: impl Into<String>) -> ConnectError {
        ConnectError { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> ConnectError {
        ConnectError::new("invalid_argument", message)
    }

    pub fn not_found(message: impl Into<String>) -> ConnectError {
        ConnectError::new("not_found", message)
    }

    pub fn status(&self) -> StatusCode {
        match self.code {
            "invalid_argument" | "failed_precondition" | "out_of_range" => StatusCode::BAD_REQUEST,
            "unauthenticated" => StatusCode::UNAUTHORIZED,
            "permission_denied" => StatusCode::FORBIDDEN,
            "not_found" => StatusCode::NOT_FOUND,
            "already_exists" | "aborted" => StatusCode::CONFLICT,
            "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
            "unimplemented" => StatusCode::NOT_IMPLEMENTED,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "deadline_exceeded" => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        json!({ "code": self.code, "message": self.message })
    }
}

impl From<ExecuteError> for ConnectError {
    fn from(e: ExecuteError) -> ConnectError {
        let code = match status_of(&e) {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::BAD_REQUEST => "invalid_argument",
            StatusCode::CONFLICT => "aborted",
            StatusCode::TOO_MANY_REQUESTS | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::INSUFFICIENT_STORAGE => {
                "resource_exhausted"
            }
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        };
        ConnectError::new(code, e.to_string())
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), self.body().to_string()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}
