//! The code interpreter's port (`/execute`, `/contexts`): cells run in the sandbox's
//! session interpreters, Python and JavaScript, and their output streams back as
//! newline-delimited JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::{CodeContext as Context, ExecuteError, Language, LiveEvent, SessionCall, SessionResult, Tap};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::plane::{workspace_path, Plane, Sandbox};
use crate::state::AppState;

/// A keepalive line goes out when nothing else was written for this long.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// A cell's limit: the Python client's own default timeout.
const CELL_TIMEOUT_SECS: f64 = 300.0;

/// This port's errors are plain text, as the reference server's.
pub struct TextError(StatusCode, String);

impl IntoResponse for TextError {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn text(status: StatusCode, message: impl Into<String>) -> TextError {
    TextError(status, message.into())
}

#[derive(Debug, Deserialize)]
struct ExecuteBody {
    code: String,
    context_id: Option<String>,
    language: Option<String>,
    #[serde(default)]
    env_vars: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct ContextBody {
    language: Option<String>,
    cwd: Option<String>,
}

/// E2B's language names: `js` and `ts` run in the JavaScript context, none is Python.
fn language(name: Option<&str>) -> Result<Language, TextError> {
    let name = name.map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty());
    match name.as_deref() {
        None | Some("python") | Some("python3") => Ok(Language::Python),
        Some("javascript" | "js" | "typescript" | "ts" | "node") => Ok(Language::Javascript),
        Some(other) => Err(text(StatusCode::BAD_REQUEST, format!("language {other:?} is not supported"))),
    }
}

fn context_json(context: &Context) -> Value {
    json!({ "id": context.id, "language": context.language.name(), "cwd": context.cwd })
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, TextError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(bytes)
        .map_err(|e| text(StatusCode::BAD_REQUEST, format!("the request body is invalid: {e}")))
}

/// `POST /contexts`: each context is an interpreter of the sandbox's session, counted against
/// its cap (429 past it).
pub async fn create_context(
    State(state): State<Arc<AppState>>,
    Plane(sandbox): Plane,
    body: Bytes,
) -> Result<Json<Value>, TextError> {
    let body: ContextBody = parse(&body)?;
    let language = language(body.language.as_deref())?;
    let cwd = body.cwd.unwrap_or_else(|| "/home/user".into());
    workspace_path(&cwd).map_err(|m| text(StatusCode::BAD_REQUEST, m))?;
    let context = sandbox.add_context(language, cwd);
    if let Err(e) = state.service.open_session_context(&sandbox.id, &sandbox.tenant, &context.id, language) {
        sandbox.remove_context(&context.id);
        return Err(match e {
            ExecuteError::SessionLimit(why) => text(StatusCode::TOO_MANY_REQUESTS, why),
            ExecuteError::SessionNotFound(_) => {
                text(StatusCode::NOT_FOUND, format!("sandbox {} not found", sandbox.id))
            }
            e => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        });
    }
    Ok(Json(context_json(&context)))
}

/// `GET /contexts`.
pub async fn list_contexts(Plane(sandbox): Plane) -> Json<Vec<Value>> {
    Json(sandbox.list_contexts().iter().map(context_json).collect())
}

/// `DELETE /contexts/{id}`: the context and its interpreter end.
pub async fn delete_context(
    State(state): State<Arc<AppState>>,
    Plane(sandbox): Plane,
    Path(id): Path<String>,
) -> Result<StatusCode, TextError> {
    let context = sandbox.context(&id).ok_or_else(|| text(StatusCode::NOT_FOUND, format!("context {id} not found")))?;
    sandbox.remove_context(&id);
    if let Some(name) = context.interpreter() {
        let ended = state.service.drop_session_context(&sandbox.id, &sandbox.tenant, name, context.language).await;
        ended.map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /contexts/{id}/restart`: the context's interpreter starts afresh.
pub async fn restart_context(
    State(state): State<Arc<AppState>>,
    Plane(sandbox): Plane,
    Path(id): Path<String>,
) -> Result<StatusCode, TextError> {
    let context = sandbox.context(&id).ok_or_else(|| text(StatusCode::NOT_FOUND, format!("context {id} not found")))?;
    let service = &state.service;
    match service
        .restart_session_interpreter(&sandbox.id, &sandbox.tenant, context.language, context.interpreter())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// `POST /execute`: runs the cell and streams its output.
pub async fn execute(
    State(state): State<Arc<AppState>>,
    Plane(sandbox): Plane,
    body: Bytes,
) -> Result<Response, TextError> {
    let body: ExecuteBody = parse(&body)?;
    let context = match (&body.context_id, &body.language) {
        (Some(_), Some(_)) => return Err(text(StatusCode::BAD_REQUEST, "give context_id or language, not both")),
        (Some(id), None) => {
            sandbox.context(id).ok_or_else(|| text(StatusCode::NOT_FOUND, format!("context {id} not found")))?
        }
        (None, name) => sandbox.default_context(language(name.as_deref())?),
    };
    if body.code.trim().is_empty() {
        return Ok(ndjson_lines(vec![json!({"type": "end_of_execution"})]));
    }
    let count = sandbox.count_execution(&context.id);
    let mut vars = sandbox.env_vars.clone();
    vars.extend(body.env_vars.unwrap_or_default());
    let code = with_env(&context, &body.code, &vars);
    let timeout = CELL_TIMEOUT_SECS.min(state.service.limits().max_timeout_secs);
    let call = SessionCall {
        session_id: sandbox.id.clone(),
        tenant_id: sandbox.tenant.clone(),
        language: context.language,
        code,
        timeout_secs: Some(timeout),
        max_output_bytes: None,
        context: context.interpreter().map(str::to_owned),
    };
    let (tx, rx) = mpsc::channel::<Value>(16);
    let _ = tx.try_send(json!({ "type": "number_of_executions", "execution_count": count }));
    tokio::spawn(run(state, sandbox, call, tx));
    Ok(ndjson(rx))
}

/// The cell, preceded by what sets the environment variables it runs with and, in a context
/// of its own, its working directory.
fn with_env(context: &Context, code: &str, vars: &BTreeMap<String, String>) -> String {
    let mut prelude = String::new();
    let python = context.language == Language::Python;
    if !vars.is_empty() {
        let vars = serde_json::to_string(vars).unwrap_or_else(|_| "{}".into());
        prelude += &match python {
            true => format!("__import__('os').environ.update({vars}); "),
            false => format!("Object.assign(process.env, {vars}); "),
        };
    }
    if context.interpreter().is_some() && context.cwd != "/home/user" {
        let cwd = serde_json::to_string(&context.cwd).unwrap_or_default();
        prelude += &match python {
            true => format!("__import__('os').chdir({cwd}); "),
            false => format!("process.chdir({cwd}); "),
        };
    }
    match prelude.is_empty() {
        true => code.to_string(),
        false => format!("{prelude}\n{code}"),
    }
}

/// What of a cell was already sent as it came.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    stdout: usize,
    stderr: usize,
    results: usize,
}

fn live_line(event: LiveEvent, sent: &mut Sent) -> Value {
    match event {
        LiveEvent::Stdout(text) => {
            sent.stdout += text.len();
            json!({ "type": "stdout", "text": text, "timestamp": now() })
        }
        LiveEvent::Stderr(text) => {
            sent.stderr += text.len();
            json!({ "type": "stderr", "text": text, "timestamp": now() })
        }
        LiveEvent::Result(result) => {
            sent.results += 1;
            super::results::line(&result.data, result.is_main_result)
        }
    }
}

async fn run(state: Arc<AppState>, sandbox: Arc<Sandbox>, call: SessionCall, tx: mpsc::Sender<Value>) {
    let (tap, mut events) = Tap::channel();
    // The cell runs to its end whether or not the client stays.
    let mut cell = tokio::spawn({
        let service = Arc::clone(&state.service);
        async move { service.session_execute_streaming(call, tap).await }
    });
    let mut sent = Sent::default();
    let outcome = loop {
        let line = tokio::select! {
            joined = &mut cell => break joined.unwrap_or_else(|e| Err(ExecuteError::Internal(e.to_string()))),
            Some(event) = events.recv() => live_line(event, &mut sent),
            _ = tokio::time::sleep(KEEPALIVE) => json!({ "type": "keepalive" }),
        };
        let _ = tx.send(line).await;
    };
    let mut lines: Vec<Value> =
        std::iter::from_fn(|| events.try_recv().ok()).map(|e| live_line(e, &mut sent)).collect();
    lines.extend(match outcome {
        Ok(result) => lines_of(&result, sent),
        Err(ExecuteError::SessionNotFound(_)) => {
            vec![error_line("SandboxError", &format!("The sandbox {} was not found", sandbox.id))]
        }
        Err(e) => vec![error_line(e.kind(), &e.to_string())],
    });
    for line in lines.into_iter().chain([json!({ "type": "end_of_execution" })]) {
        if tx.send(line).await.is_err() {
            return;
        }
    }
}

fn error_line(name: &str, value: &str) -> Value {
    json!({ "type": "error", "name": name, "value": value, "traceback": format!("{name}: {value}") })
}

fn now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// The lines of a finished cell not sent as they came: its output, its results, its error.
fn lines_of(result: &SessionResult, sent: Sent) -> Vec<Value> {
    let mut lines = Vec::new();
    let run = &result.result;
    for (kind, text, sent) in [("stdout", &run.stdout, sent.stdout), ("stderr", &run.stderr, sent.stderr)] {
        match text.get(sent..) {
            Some(rest) if !rest.is_empty() => lines.push(json!({ "type": kind, "text": rest, "timestamp": now() })),
            _ => {}
        }
    }
    lines.extend(super::results::of(result).into_iter().skip(sent.results));
    if let Some(error) = &run.error {
        let traceback = if error.traceback.is_empty() {
            format!("{}: {}", error.kind, error.message)
        } else {
            error.traceback.clone()
        };
        lines.push(json!({ "type": "error", "name": error.kind, "value": error.message, "traceback": traceback }));
    }
    lines
}

fn ndjson_response(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    response
}

fn ndjson_lines(lines: Vec<Value>) -> Response {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    ndjson_response(Body::from(text))
}

/// One JSON object a line, each sent as soon as it exists.
fn ndjson(rx: mpsc::Receiver<Value>) -> Response {
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(format!("{line}\n"))), rx))
    });
    ndjson_response(Body::from_stream(lines))
}
