//! What the tools call: the executor's API, as a small trait with two implementations, the
//! daemon's own service in-process (the `/mcp` route) and a daemon over HTTP (the `mcp`
//! subcommand). Both answer exactly what the HTTP API answers.

use std::future::Future;
use std::pin::Pin;

use rmcp::model::Extensions;
use serde_json::Value;

/// A future the backend returns (boxed: the trait is used as `dyn Backend`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One call of the executor's HTTP API, by what it does.
#[derive(Debug, Clone)]
pub enum ApiCall {
    /// `POST /execute` with this JSON body.
    Execute(Value),
    /// `POST /session/create` with this JSON body.
    CreateSession(Value),
    /// `POST /session/execute` with this JSON body.
    SessionExecute(Value),
    /// `POST /session/destroy` with this JSON body.
    DestroySession(Value),
    /// `PUT /session/{session_id}/files/{path}` with these bytes.
    PutFile { session_id: String, path: String, bytes: Vec<u8> },
    /// `GET /session/{session_id}/files/{path}`.
    GetFile { session_id: String, path: String },
    /// `GET /session/{session_id}/files`.
    ListFiles { session_id: String },
}

/// A successful answer: the JSON body, or a file's bytes with their MIME type.
#[derive(Debug, Clone)]
pub enum Answer {
    Json(Value),
    File { bytes: Vec<u8>, mime_type: String },
}

/// Why a call got no answer.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The API refused it: the HTTP status and the error body (`error_code`, `description`,
    /// `error_detail`, `solution`, `request_id`).
    Api { status: u16, body: Value },
    /// The daemon could not be reached, or answered something that is not the API's.
    Unreachable(String),
}

impl Failure {
    /// The error body's fields as one readable message.
    pub fn message(&self) -> String {
        match self {
            Failure::Api { status, body } => {
                let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("").trim().to_owned();
                let parts: Vec<String> = ["description", "error_detail", "solution"]
                    .into_iter()
                    .map(field)
                    .filter(|text| !text.is_empty())
                    .map(|text| if text.ends_with(['.', '!', '?', ')']) { text } else { format!("{text}.") })
                    .collect();
                if parts.is_empty() {
                    format!("the executor answered HTTP {status}: {body}")
                } else {
                    parts.join(" ")
                }
            }
            Failure::Unreachable(why) => why.clone(),
        }
    }
}

/// The executor, as the tools reach it.
pub trait Backend: Send + Sync + 'static {
    /// Makes `call`. `request` holds what the transport knows of the MCP request: over
    /// Streamable HTTP, its `http::request::Parts` (the caller's headers, whose
    /// `X-Tenant-ID` names the tenant); over stdio, nothing.
    fn call<'a>(&'a self, call: ApiCall, request: &'a Extensions) -> BoxFuture<'a, Result<Answer, Failure>>;
}
