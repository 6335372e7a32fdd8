//! HTTP API of the sandbox executor.
//!
//! [`app`] builds the whole API as an axum `Router` (tests call it in-process); [`serve`] runs
//! it on a listener until a shutdown signal.
#![forbid(unsafe_code)]

mod app;
mod auth;
pub mod cors;
pub mod dialect;
mod download;
mod e2b;
pub mod error;
mod json;
mod mcp;
pub mod peers;
pub mod ports;
mod request_id;
mod routes;
mod state;
mod tenant;

pub use app::{app, serve};
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use routes::execute::{
    AcceptedStatus, EncodedFile, ExecuteRequest, ExecutionAccepted, FileContent, FileEncoding, LimitsRequest,
};
pub use routes::openapi::{document_json as openapi_json, ApiDoc};
pub use state::{AppOptions, MetricsSource, OutboxSource};

#[cfg(test)]
mod tests;
