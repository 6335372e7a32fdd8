//! The one error type of the API. Every non-2xx response is rendered from it, so every error
//! body has the runtime executor's shape: `error_code`, `description`, `error_detail`,
//! `solution`, `request_id`.

mod from_execute;
mod from_template;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::request_id;

/// The machine-readable kind of an error; each has one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Validation,
    PayloadTooLarge,
    UnsupportedMediaType,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Sandbox,
    TemplateBuild,
    /// The template's own packages could not be installed (not in the registry, or not a
    /// requirement pip or npm can read): the template's fault, not the daemon's.
    TemplatePackages,
    Internal,
    Unhealthy,
    /// `/ready`: no new execution would be taken now.
    NotReady,
    QueueFull,
    ShuttingDown,
    Unauthorized,
    SessionLimit,
    /// The peer daemon that owns what a call names cannot be reached, is silent, or has as
    /// many of this daemon's calls in flight as it may.
    PeerUnavailable,
    /// The peer daemon that owns what a call names answered with more than may be relayed.
    PeerAnswerTooLarge,
    /// The daemon is out of open descriptors for the moment: the request did not run.
    ResourcesExhausted,
    /// Nothing listens on the port of the session a proxied request is for, or the server
    /// there broke off its answer.
    PortUnavailable,
    /// The session (or the tenant) has as many proxied connections open as it may.
    TooManyConnections,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Validation => "Executor.ValidationError",
            ErrorCode::PayloadTooLarge => "Executor.PayloadTooLarge",
            ErrorCode::UnsupportedMediaType => "Executor.UnsupportedMediaType",
            ErrorCode::NotFound => "Executor.NotFound",
            ErrorCode::MethodNotAllowed => "Executor.MethodNotAllowed",
            ErrorCode::Conflict => "Executor.Conflict",
            ErrorCode::Sandbox => "Executor.SandboxError",
            ErrorCode::TemplateBuild => "Executor.TemplateBuildError",
            ErrorCode::TemplatePackages => "Executor.TemplatePackageError",
            ErrorCode::Internal => "Executor.InternalError",
            ErrorCode::Unhealthy => "Executor.Unhealthy",
            ErrorCode::NotReady => "Executor.NotReady",
            ErrorCode::QueueFull => "Executor.QueueFull",
            ErrorCode::ShuttingDown => "Executor.ShuttingDown",
            ErrorCode::Unauthorized => "Executor.Unauthorized",
            ErrorCode::SessionLimit => "Executor.SessionLimit",
            ErrorCode::PeerUnavailable => "Executor.PeerUnavailable",
            ErrorCode::PeerAnswerTooLarge => "Executor.PeerAnswerTooLarge",
            ErrorCode::ResourcesExhausted => "Executor.ResourcesExhausted",
            ErrorCode::PortUnavailable => "Executor.PortUnavailable",
            ErrorCode::TooManyConnections => "Executor.TooManyConnections",
        }
    }

    /// A 5xx the daemon answers by design (back-pressure, an orderly stop): the client is told
    /// to retry, and nothing is broken, so it is no error in the daemon's log.
    pub fn expected(self) -> bool {
        matches!(
            self,
            ErrorCode::QueueFull
                | ErrorCode::ShuttingDown
                | ErrorCode::NotReady
                | ErrorCode::PeerUnavailable
                | ErrorCode::ResourcesExhausted
                | ErrorCode::PortUnavailable
        )
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Validation => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::TemplatePackages => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Sandbox | ErrorCode::TemplateBuild | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unhealthy
            | ErrorCode::NotReady
            | ErrorCode::QueueFull
            | ErrorCode::ShuttingDown
            | ErrorCode::PeerUnavailable
            | ErrorCode::ResourcesExhausted => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::PeerAnswerTooLarge | ErrorCode::PortUnavailable => StatusCode::BAD_GATEWAY,
            ErrorCode::TooManyConnections => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::SessionLimit => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// For example `Executor.ValidationError`.
    pub error_code: String,
    /// What went wrong, in general terms.
    pub description: String,
    /// The specifics: which field, which value, which limit.
    pub error_detail: String,
    /// What the caller can do about it.
    pub solution: String,
    /// The request's `X-Request-ID` (the caller's, or one generated for it).
    pub request_id: String,
}

/// A non-2xx response, rendered as an [`ErrorBody`] plus any extra fields.
#[derive(Debug, Clone)]
pub struct ApiError {
    code: ErrorCode,
    description: String,
    detail: String,
    solution: String,
    /// Fields some contracts expect next to the standard ones (the NVIDIA dialect's
    /// `process_status`, the health report's `status`); the standard fields win on a clash.
    extra: Map<String, Value>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        code: ErrorCode,
        description: impl Into<String>,
        detail: impl Into<String>,
        solution: impl Into<String>,
    ) -> Self {
        ApiError {
            code,
            description: description.into(),
            detail: detail.into(),
            solution: solution.into(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// A 400 about the request's content.
    pub fn validation(detail: impl Into<String>, solution: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Validation, "The request is invalid.", detail, solution)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::new(
            ErrorCode::Internal,
            "The executor failed while handling the request.",
            detail,
            "Retry the request; if it keeps failing, report the request_id with the daemon's log.",
        )
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Asks the caller to wait this many seconds before trying again.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Adds fields to the body; `value` must serialise to a JSON object (others are ignored).
    pub fn with_fields(mut self, value: impl Serialize) -> Self {
        if let Ok(Value::Object(fields)) = serde_json::to_value(value) {
            self.extra.extend(fields);
        }
        self
    }

    fn body(self) -> Value {
        let standard = ErrorBody {
            error_code: self.code.as_str().to_owned(),
            description: self.description,
            error_detail: self.detail,
            solution: self.solution,
            request_id: request_id::current(),
        };
        let mut body = self.extra;
        if let Ok(Value::Object(fields)) = serde_json::to_value(standard) {
            body.extend(fields);
        }
        Value::Object(body)
    }
}

impl ApiError {
    /// The body of the error's answer, logged as its answer is (a streamed answer's end).
    pub fn logged_body(self) -> Value {
        self.log();
        self.body()
    }

    /// The one log line of an error answer (the trace layer logs failures at debug only).
    fn log(&self) {
        if self.code.expected() {
            tracing::warn!(code = self.code.as_str(), detail = %self.detail, "request refused");
        } else if self.code.status().is_server_error() {
            tracing::error!(code = self.code.as_str(), detail = %self.detail, "request failed");
        } else {
            tracing::info!(code = self.code.as_str(), detail = %self.detail, "request refused");
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        self.log();
        let retry_after = self.retry_after;
        let mut response = (status, Json(self.body())).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for ApiError {}
