//! A process's output (`GET .../output?from=N`, `GET .../events` as server-sent events) and
//! what a caller does to it (`POST .../stdin`, `.../signal`, `.../resize`). Output is bytes:
//! each chunk's `text` is them as UTF-8 (bytes that are not are replaced by U+FFFD), and a
//! chunk that is not valid UTF-8 also has `data_base64`, its exact bytes.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use executor::boxes::{OutputChunk, OutputEnd, ProcessEvent, ProcessOutput, Stream, TerminalSize};
use executor::ExecuteError;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::super::session_id;
use super::PtySize;
use crate::error::{ApiError, ErrorBody};
use crate::json::{self, JsonBytes};
use crate::routes::stream::json_event;
use crate::state::AppState;
use crate::tenant;

/// A chunk of output.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChunkItem {
    /// `stdout`, `stderr` or `pty` (a terminal's output).
    pub stream: String,
    /// Its first byte's offset among all the bytes the process wrote.
    pub offset: u64,
    /// Its bytes as UTF-8 (invalid sequences replaced by U+FFFD).
    pub text: String,
    /// Its exact bytes, base64, only when they are not valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
}

/// A process's output from an offset on, and its end once it ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutputAnswer {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub pid: i32,
    pub chunks: Vec<ChunkItem>,
    /// The offset to ask from next.
    pub next: u64,
    /// Bytes after `from` no longer kept (the last 1 MiB of a process's output is kept).
    pub dropped: u64,
    /// Whether it still runs.
    pub running: bool,
    /// Its exit code once it ended (128 + the signal when a signal ended it); null while it
    /// runs or when the sandbox ended first.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutputQuery {
    /// The offset to read from (the `next` of the previous read); default 0.
    pub from: Option<u64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct StdinRequest {
    /// Text written to its stdin (or terminal).
    #[serde(default)]
    pub data: String,
    /// Closes its stdin after `data` (the program reads end of file).
    #[serde(default)]
    pub eof: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct SignalRequest {
    /// `SIGTERM`, `SIGKILL`, `SIGINT`, `SIGHUP`, or a number (1 to 64); sent to the process
    /// and what it started.
    #[schema(schema_with = signal_schema, example = "SIGTERM")]
    pub signal: Value,
}

/// A signal's name or number.
fn signal_schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let names =
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP"]));
    let number = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(64));
    utoipa::openapi::Schema::OneOf(OneOfBuilder::new().item(names).item(number).build()).into()
}

/// A call that did what it asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    pub pid: i32,
}

/// The session and pid of a path.
fn path_pid(params: Result<Path<(String, String)>, PathRejection>) -> Result<(String, i32), ApiError> {
    let Path((id, pid)) =
        params.map_err(|e| ApiError::validation(format!("the path is not usable: {}", e.body_text()), ""))?;
    let id = session_id(id)?;
    let pid = pid.parse::<i32>().ok().filter(|p| *p > 0).ok_or(ExecuteError::ProcessNotFound(0))?;
    Ok((id, pid))
}

pub(super) fn chunk(chunk: &OutputChunk) -> ChunkItem {
    let exact = std::str::from_utf8(&chunk.data).is_ok();
    ChunkItem {
        stream: stream_name(chunk.stream).into(),
        offset: chunk.offset,
        text: String::from_utf8_lossy(&chunk.data).into_owned(),
        data_base64: (!exact).then(|| base64::engine::general_purpose::STANDARD.encode(&chunk.data)),
    }
}

fn stream_name(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
        Stream::Pty => "pty",
    }
}

fn exit_of(end: Option<OutputEnd>) -> (Option<i32>, Option<i32>) {
    match end {
        Some(OutputEnd::Exited(status)) => (Some(status.shell_code()), status.signal),
        _ => (None, None),
    }
}

fn answer(pid: i32, output: ProcessOutput) -> OutputAnswer {
    let (exit_code, signal) = exit_of(output.end);
    OutputAnswer {
        status: "success".into(),
        pid,
        chunks: output.chunks.iter().map(chunk).collect(),
        next: output.next,
        dropped: output.dropped,
        running: output.end.is_none(),
        exit_code,
        signal,
    }
}

#[utoipa::path(
    get,
    path = "/session/{id}/processes/{pid}/output",
    operation_id = "read_session_process_output",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("pid" = i32, Path, description = "The process's pid"),
        OutputQuery,
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    responses(
        (status = 200, description = "Its output from `from` on (while it runs, and after it ended for the 32 \
            processes that ended last, until the sandbox ends)", body = OutputAnswer),
        (status = 400, description = "`from` is not a number", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`, or no such process", body = ErrorBody),
    )
)]
pub async fn output(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<OutputQuery>, QueryRejection>,
) -> Result<Json<OutputAnswer>, ApiError> {
    let (id, pid) = path_pid(params)?;
    let Query(query) = query
        .map_err(|e| ApiError::validation(format!("the query is not usable: {}", e.body_text()), "Send ?from=N."))?;
    let tenant_id = tenant::of(&headers, None)?;
    let output = state.service.sessions().process_output(&id, &tenant_id, pid, query.from.unwrap_or(0)).await?;
    Ok(Json(answer(pid, output)))
}

#[utoipa::path(
    get,
    path = "/session/{id}/processes/{pid}/events",
    operation_id = "stream_session_process_events",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("pid" = i32, Path, description = "The process's pid"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    responses(
        (status = 200, description = "Server-sent events from now on: `stdout`, `stderr` and `pty` with a chunk \
            (`text`, and `data_base64` when the bytes are not UTF-8), `dropped` when the reader fell behind, then one \
            `exit` (`exit_code`, `signal`; both null when the sandbox ended first). A process that already ended \
            answers its kept output, then `exit`", content_type = "text/event-stream"),
        (status = 400, description = "The tenant id is invalid", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`, or no such process", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, pid) = path_pid(params)?;
    let tenant_id = tenant::of(&headers, None)?;
    let sessions = state.service.sessions();
    let receiver = match sessions.process_events(&id, &tenant_id, pid).await {
        Ok(receiver) => receiver,
        Err(ExecuteError::ProcessNotFound(_)) => {
            let output = sessions.process_output(&id, &tenant_id, pid, 0).await?;
            let mut events: Vec<Event> = output.chunks.iter().map(chunk_event).collect();
            events.push(exit_event(output.end));
            let events = stream::iter(events.into_iter().map(Ok::<_, Infallible>));
            return Ok(Sse::new(events).into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let events = stream::unfold(Some(receiver), |receiver| async move {
        let mut receiver = receiver?;
        let (event, more) = match receiver.recv().await {
            Ok(ProcessEvent::Output(stream, data)) => (chunk_event(&OutputChunk { stream, offset: 0, data }), true),
            Ok(ProcessEvent::Exited(status)) => (exit_event(Some(OutputEnd::Exited(status))), false),
            Ok(ProcessEvent::BoxEnded) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                (exit_event(None), false)
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                (json_event("dropped", &json!({"chunks": n})), true)
            }
        };
        Some((Ok::<_, Infallible>(event), more.then_some(receiver)))
    });
    Ok(Sse::new(events.boxed()).keep_alive(KeepAlive::default()).into_response())
}

fn chunk_event(c: &OutputChunk) -> Event {
    let item = chunk(c);
    let mut data = json!({"text": item.text});
    if let Some(exact) = item.data_base64 {
        data["data_base64"] = Value::String(exact);
    }
    json_event(&item.stream, &data)
}

fn exit_event(end: Option<OutputEnd>) -> Event {
    let (exit_code, signal) = exit_of(end);
    json_event("exit", &json!({"exit_code": exit_code, "signal": signal}))
}

#[utoipa::path(
    post,
    path = "/session/{id}/processes/{pid}/stdin",
    operation_id = "write_session_process_stdin",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("pid" = i32, Path, description = "The process's pid"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    request_body(content = StdinRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Written (and closed with `eof`)", body = Done),
        (status = 400, description = "The body is invalid", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`, or no such running process", body = ErrorBody),
    )
)]
pub async fn stdin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<Done>, ApiError> {
    let (id, pid) = path_pid(params)?;
    let tenant_id = tenant::of(&headers, None)?;
    let body: StdinRequest = json::decode(json::parse_value(&bytes)?)?;
    let sessions = state.service.sessions();
    if !body.data.is_empty() || !body.eof {
        sessions.process_input(&id, &tenant_id, pid, body.data.as_bytes()).await?;
    }
    if body.eof {
        sessions.close_process_input(&id, &tenant_id, pid).await?;
    }
    Ok(Json(Done { status: "success".into(), pid }))
}

#[utoipa::path(
    post,
    path = "/session/{id}/processes/{pid}/signal",
    operation_id = "signal_session_process",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("pid" = i32, Path, description = "The process's pid"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    request_body(content = SignalRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Sent to the process and what it started", body = Done),
        (status = 400, description = "Not a signal", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`, or no such running process", body = ErrorBody),
    )
)]
pub async fn signal(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<Done>, ApiError> {
    let (id, pid) = path_pid(params)?;
    let tenant_id = tenant::of(&headers, None)?;
    let body: SignalRequest = json::decode(json::parse_value(&bytes)?)?;
    let number = signal_number(&body.signal)?;
    state.service.sessions().signal_process(&id, &tenant_id, pid, number).await?;
    Ok(Json(Done { status: "success".into(), pid }))
}

fn signal_number(signal: &Value) -> Result<i32, ExecuteError> {
    let named = |name: &str| match name.strip_prefix("SIG").unwrap_or(name) {
        "HUP" => Some(1),
        "INT" => Some(2),
        "KILL" => Some(9),
        "TERM" => Some(15),
        _ => None,
    };
    let number = match signal {
        Value::String(name) => named(name),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .filter(|n| (1..=64).contains(n))
            .map(|n| n as i32),
        _ => None,
    };
    number.ok_or_else(|| {
        ExecuteError::invalid("signal", format!("must be SIGTERM, SIGKILL, SIGINT, SIGHUP or 1 to 64, got {signal}"))
    })
}

#[utoipa::path(
    post,
    path = "/session/{id}/processes/{pid}/resize",
    operation_id = "resize_session_process",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("pid" = i32, Path, description = "The process's pid"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    request_body(content = PtySize, content_type = "application/json"),
    responses(
        (status = 200, description = "Its terminal has the new size (it gets SIGWINCH)", body = Done),
        (status = 400, description = "Not a size", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`, or no such running process", body = ErrorBody),
    )
)]
pub async fn resize(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<(String, String)>, PathRejection>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<Done>, ApiError> {
    let (id, pid) = path_pid(params)?;
    let tenant_id = tenant::of(&headers, None)?;
    let size: PtySize = json::decode(json::parse_value(&bytes)?)?;
    if size.cols == 0 || size.rows == 0 {
        return Err(ExecuteError::invalid("cols", "cols and rows must be at least 1").into());
    }
    let size = TerminalSize { cols: size.cols, rows: size.rows };
    state.service.sessions().resize_process(&id, &tenant_id, pid, size).await?;
    Ok(Json(Done { status: "success".into(), pid }))
}
