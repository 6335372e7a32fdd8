//! Processes of a session's box (its long-lived sandbox, started with its first process):
//! `POST /session/{id}/processes` starts one (or runs one to its end with `wait`),
//! `GET /session/{id}/processes` lists the running ones; [`io`] reads their output and
//! feeds, signals and resizes them. The tenant is the `X-Tenant-ID` header (default
//! `default`); another tenant's session is not found (404), and so are its processes.

pub mod io;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::boxes::{ProcessInfo, ProcessStart, TerminalSize};
use executor::ProcessRun;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::session_id;
use crate::error::{ApiError, ErrorBody};
use crate::json::{self, JsonBytes};
use crate::state::AppState;
use crate::tenant;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct StartProcessRequest {
    /// A Bash line, run as `bash -c <command>` (give this or `argv`).
    #[schema(example = "python3 -m http.server 8000")]
    pub command: Option<String>,
    /// The program (looked up on `PATH`) and its arguments (give this or `command`).
    pub argv: Option<Vec<String>>,
    /// Variables added to the session's environment (checked as `/execute`'s `env_vars`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// An absolute directory in the sandbox; default the workspace.
    pub cwd: Option<String>,
    /// Whether stdin is a pipe fed by `POST .../stdin` (else it is empty).
    #[serde(default)]
    pub stdin: bool,
    /// Runs on a terminal of this size (its output is the `pty` stream).
    pub pty: Option<PtySize>,
    /// A name to find it by in the list.
    pub tag: Option<String>,
    /// Runs it to its end and answers its output and exit (bounded by `timeout`).
    #[serde(default)]
    pub wait: bool,
    /// With `wait`: seconds it may run before it (and what it started) is killed; default the
    /// server's default timeout. Checked, and unused, without `wait`.
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PtySize {
    #[schema(example = 80, minimum = 1, maximum = 10000)]
    #[serde(deserialize_with = "terminal_dimension")]
    pub cols: u16,
    #[schema(example = 24, minimum = 1, maximum = 10000)]
    #[serde(deserialize_with = "terminal_dimension")]
    pub rows: u16,
}

/// A terminal's columns or rows: a whole number from 1 to 10000 (`80.0` is 80, as JSON has it).
fn terminal_dimension<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() == 0.0 && (1.0..=10000.0).contains(&n) {
        Ok(n as u16)
    } else {
        Err(serde::de::Error::custom(format!("must be a whole number from 1 to 10000, got {n}")))
    }
}

/// A process started; with `wait`, also how it ran.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessStarted {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    /// Its pid in the sandbox.
    pub pid: i32,
    /// With `wait`: its stdout (or terminal output), at most 1 MiB, as UTF-8 (bytes that are
    /// not are replaced by U+FFFD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// With `wait`: its stderr, like `stdout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// With `wait`: its exit code (128 + the signal when a signal ended it); null when the
    /// sandbox ended first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<Option<i32>>,
    /// With `wait`: the signal that ended it, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Option<i32>>,
    /// With `wait`: it ran past `timeout` and was killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    /// With `wait`: output was cut (over 1 MiB of a stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
}

/// A running process.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessItem {
    pub pid: i32,
    pub argv: Vec<String>,
    pub cwd: String,
    pub tag: Option<String>,
    /// Whether it runs on a terminal.
    pub pty: bool,
    /// RFC 3339.
    pub started_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessList {
    /// Always `success`.
    #[schema(example = "success")]
    pub status: String,
    /// The processes running now, by pid.
    pub processes: Vec<ProcessItem>,
}

/// The session id of a path, checked.
pub(super) fn path_session(params: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) =
        params.map_err(|e| ApiError::validation(format!("the path is not usable: {}", e.body_text()), ""))?;
    session_id(id)
}

impl StartProcessRequest {
    fn into_start(self) -> Result<(ProcessStart, bool, Option<f64>), ApiError> {
        let argv = match (self.command, self.argv) {
            (Some(command), None) => vec!["bash".into(), "-c".into(), command],
            (None, Some(argv)) => argv,
            _ => {
                return Err(
                    executor::ExecuteError::invalid("command", "give either `command` (a Bash line) or `argv`").into()
                )
            }
        };
        let pty = self.pty.map(|p| TerminalSize { cols: p.cols, rows: p.rows });
        let start = ProcessStart {
            argv,
            env: self.env,
            cwd: self.cwd,
            stdin: self.stdin,
            pty,
            tag: self.tag,
            channel_fd: None,
        };
        Ok((start, self.wait, self.timeout))
    }
}

#[utoipa::path(
    post,
    path = "/session/{id}/processes",
    operation_id = "start_session_process",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    request_body(content = StartProcessRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Started (with `wait`: and ended, or killed past its timeout)", body = ProcessStarted),
        (status = 400, description = "Neither or both of `command` and `argv`, a bad variable, a relative `cwd`, \
            a program that cannot start, or as many processes as a sandbox may run", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`", body = ErrorBody),
        (status = 413, description = "The command is over the code size limit", body = ErrorBody),
    )
)]
pub async fn start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<String>, PathRejection>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Response, ApiError> {
    let id = path_session(params)?;
    let tenant_id = tenant::of(&headers, None)?;
    let body: StartProcessRequest = json::decode(json::parse_value(&bytes)?)?;
    let (start, wait, timeout) = body.into_start()?;
    executor::validate::check_process_start(&start, state.service.limits())?;
    executor::validate::check_timeout(timeout, state.service.limits())?;
    let answer = if wait {
        // In a task of its own: a caller hanging up does not leave the process unbounded.
        let service = Arc::clone(&state.service);
        let run = tokio::spawn(async move { service.sessions().run_process(&id, &tenant_id, start, timeout).await });
        let run = run.await.map_err(|e| ApiError::internal(format!("the process's task failed: {e}")))??;
        ran(run)
    } else {
        let started = state.service.sessions().start_process(&id, &tenant_id, start).await?;
        ProcessStarted { pid: started.pid, ..ProcessStarted::default() }
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

fn ran(run: ProcessRun) -> ProcessStarted {
    let text = |bytes: &[u8]| Some(String::from_utf8_lossy(bytes).into_owned());
    ProcessStarted {
        status: "success".into(),
        pid: run.pid,
        stdout: text(&run.stdout),
        stderr: text(&run.stderr),
        exit_code: Some(run.exit.map(|e| e.shell_code())),
        signal: Some(run.exit.and_then(|e| e.signal)),
        timed_out: Some(run.timed_out),
        truncated: Some(run.truncated),
    }
}

impl Default for ProcessStarted {
    fn default() -> Self {
        ProcessStarted {
            status: "success".into(),
            pid: 0,
            stdout: None,
            stderr: None,
            exit_code: None,
            signal: None,
            timed_out: None,
            truncated: None,
        }
    }
}

#[utoipa::path(
    get,
    path = "/session/{id}/processes",
    operation_id = "list_session_processes",
    tag = "sessions",
    params(
        ("id" = String, Path, description = "The session's id"),
        ("X-Tenant-ID" = Option<String>, Header, description = "The session's tenant; default `default`"),
    ),
    responses(
        (status = 200, description = "The processes running in the session's sandbox", body = ProcessList),
        (status = 400, description = "The tenant id is invalid", body = ErrorBody),
        (status = 404, description = "`Session X not found or expired`", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Path<String>, PathRejection>,
) -> Result<Json<ProcessList>, ApiError> {
    let id = path_session(params)?;
    let tenant_id = tenant::of(&headers, None)?;
    let running = state.service.sessions().processes(&id, &tenant_id).await?;
    Ok(Json(ProcessList { status: "success".into(), processes: running.into_iter().map(item).collect() }))
}

fn item(info: ProcessInfo) -> ProcessItem {
    ProcessItem {
        pid: info.pid,
        argv: info.argv,
        cwd: info.cwd,
        tag: info.tag,
        pty: info.pty,
        started_at: humantime::format_rfc3339_millis(info.started_at).to_string(),
    }
}
