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
    /// `POST /session/{session_id}/processes` with this JSON body.
    StartProcess { session_id: String, body: Value },
    /// `GET /session/{session_id}/processes/{pid}/output?from={from}`.
    ProcessOutput { session_id: String, pid: i64, from: u64 },
}

/// An [`ApiCall`] as an HTTP request of the executor's API.
#[derive(Debug, Clone)]
pub struct HttpCall {
    pub method: &'static str,
    /// The path, its segments percent-encoded.
    pub path: String,
    /// The body and its content type.
    pub body: Option<(&'static str, Vec<u8>)>,
    /// Whether the answer is a file's bytes (else JSON).
    pub is_file: bool,
}

impl ApiCall {
    /// The request that makes this call.
    pub fn into_http(self) -> HttpCall {
        let json = |path: &str, body: Value| HttpCall {
            method: "POST",
            path: path.to_owned(),
            body: Some(("application/json", body.to_string().into_bytes())),
            is_file: false,
        };
        match self {
            ApiCall::Execute(body) => json("/execute", body),
            ApiCall::CreateSession(body) => json("/session/create", body),
            ApiCall::SessionExecute(body) => json("/session/execute", body),
            ApiCall::DestroySession(body) => json("/session/destroy", body),
            ApiCall::PutFile { session_id, path, bytes } => HttpCall {
                method: "PUT",
                path: file_path(&session_id, &path),
                body: Some(("application/octet-stream", bytes)),
                is_file: false,
            },
            ApiCall::GetFile { session_id, path } => {
                HttpCall { method: "GET", path: file_path(&session_id, &path), body: None, is_file: true }
            }
            ApiCall::ListFiles { session_id } => HttpCall {
                method: "GET",
                path: format!("/session/{}/files", encode_segment(&session_id)),
                body: None,
                is_file: false,
            },
            ApiCall::StartProcess { session_id, body } => {
                json(&format!("/session/{}/processes", encode_segment(&session_id)), body)
            }
            ApiCall::ProcessOutput { session_id, pid, from } => HttpCall {
                method: "GET",
                path: format!("/session/{}/processes/{pid}/output?from={from}", encode_segment(&session_id)),
                body: None,
                is_file: false,
            },
        }
    }
}

fn file_path(session_id: &str, path: &str) -> String {
    let path: Vec<String> = path.split('/').map(encode_segment).collect();
    format!("/session/{}/files/{}", encode_segment(session_id), path.join("/"))
}

/// Percent-encodes one path segment: everything but RFC 3986's unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The largest file a [`Backend`] brings back for `download_file`: a tool's result is one
/// JSON message, held whole in memory (a binary file base64-encoded in it), so larger files
/// are for the HTTP API's streamed downloads (`GET /session/{id}/files/{path}`).
pub const MAX_DOWNLOAD_BYTES: u64 = 4 * 1024 * 1024;

/// A successful answer: the JSON body (its value, and its text as the API wrote it, which the
/// value cannot always hold: integers past 64 bits, the handler's key order), or a file's
/// bytes with their MIME type.
#[derive(Debug, Clone)]
pub enum Answer {
    Json { value: Value, text: String },
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
    /// The file asked for is over [`MAX_DOWNLOAD_BYTES`]: its size, when the answer told it.
    FileTooLarge { size: Option<u64> },
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
            Failure::FileTooLarge { size } => {
                let size = size.map_or_else(|| "more than".to_owned(), |size| format!("{size} bytes,"));
                format!(
                    "The file is {size} over the {MAX_DOWNLOAD_BYTES} bytes download_file returns (a tool's result \
                     is one JSON message). Download it with the executor's HTTP API instead: \
                     GET /session/{{session_id}}/files/{{path}} streams files of any size."
                )
            }
        }
    }
}

/// The executor, as the tools reach it.
pub trait Backend: Send + Sync + 'static {
    /// Makes `call`; a file's answer over [`MAX_DOWNLOAD_BYTES`] is not read but refused with
    /// [`Failure::FileTooLarge`]. `request` holds what the transport knows of the MCP request: over
    /// Streamable HTTP, its `http::request::Parts` (the caller's headers, whose
    /// `X-Tenant-ID` names the tenant); over stdio, nothing.
    fn call<'a>(&'a self, call: ApiCall, request: &'a Extensions) -> BoxFuture<'a, Result<Answer, Failure>>;

    /// Where the transport of this MCP request takes results' exact text, when it is the
    /// backend's to tell (over Streamable HTTP, in the HTTP request's extensions).
    fn splices(&self, _request: &Extensions) -> Option<crate::Splices> {
        None
    }
}

impl Answer {
    /// A JSON answer of `bytes`, as the API wrote them.
    pub fn json(bytes: &[u8]) -> Result<Answer, serde_json::Error> {
        let value = serde_json::from_slice(bytes)?;
        Ok(Answer::Json { value, text: String::from_utf8_lossy(bytes).trim().to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_are_encoded_segment_by_segment() {
        assert_eq!(file_path("0123456789ab", "data/in put.csv"), "/session/0123456789ab/files/data/in%20put.csv");
        assert_eq!(file_path("x", "a?b#c/%"), "/session/x/files/a%3Fb%23c/%25");
        assert_eq!(encode_segment("é"), "%C3%A9");
    }

    #[test]
    fn failures_read_as_sentences() {
        let body = serde_json::json!({"description": "No such session.", "error_detail": "Session x not found",
                                      "solution": "Create one."});
        let failure = Failure::Api { status: 404, body };
        assert_eq!(failure.message(), "No such session. Session x not found. Create one.");
    }
}
