//! envd's Process service (`/process.Process/*`) over the sandbox's box: every command is a
//! process of the one box (started as asked: `bash -l -c <script>` as the SDKs send it), so
//! servers it leaves running answer the next command, `/tmp` is shared, and stdin, terminals,
//! signals, listing and attaching work on the box's processes. Translation only: the core
//! ([`executor::boxes`]) owns the processes and their events.

mod events;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use executor::boxes::{ProcessInfo, ProcessStart, TerminalSize};
use executor::ExecuteError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::connect;
use super::error::ConnectError;
use super::plane::Plane;
use super::plane::Sandbox;
use crate::state::AppState;

/// The E2B sandbox's home: where a command starts, and what relative paths are under.
const HOME: &str = "/home/user";

#[derive(Debug, Deserialize)]
struct ProcessConfig {
    cmd: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    envs: BTreeMap<String, String>,
    cwd: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Pty {
    size: Size,
}

#[derive(Debug, Deserialize)]
struct Size {
    cols: u16,
    rows: u16,
}

#[derive(Debug, Deserialize)]
struct StartRequest {
    process: ProcessConfig,
    pty: Option<Pty>,
    tag: Option<String>,
    stdin: Option<bool>,
}

/// `POST /process.Process/{method}`.
pub async fn rpc(
    State(state): State<Arc<AppState>>,
    Plane(sandbox): Plane,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let message = match connect::request_message(&headers, &body) {
        Ok(m) => m,
        Err(e) if method == "Start" || method == "Connect" => return connect::failed_stream(e),
        Err(e) => return e.into_response(),
    };
    let call = Call { state, sandbox };
    match method.as_str() {
        "Start" => call.start(&headers, message).await.unwrap_or_else(connect::failed_stream),
        "Connect" => call.attach(&headers, &message).await.unwrap_or_else(connect::failed_stream),
        "List" => unary(call.list().await),
        "SendSignal" => unary(call.signal(&message).await),
        "SendInput" => unary(call.input(&message).await),
        "StreamInput" => unary(call.stream_input(&headers, &body).await),
        "CloseStdin" => unary(call.close_stdin(&message).await),
        "Update" => unary(call.update(&message).await),
        other => {
            ConnectError::new("unimplemented", format!("process.Process/{other} is not supported")).into_response()
        }
    }
}

fn unary(answer: Result<Value, ConnectError>) -> Response {
    match answer {
        Ok(message) => connect::unary(message),
        Err(e) => e.into_response(),
    }
}

/// One call into a sandbox's processes.
struct Call {
    state: Arc<AppState>,
    sandbox: Arc<Sandbox>,
}

impl Call {
    fn sessions(&self) -> &executor::session::Sessions {
        self.state.service.sessions()
    }

    async fn start(&self, headers: &HeaderMap, message: Value) -> Result<Response, ConnectError> {
        let request: StartRequest =
            serde_json::from_value(message).map_err(|e| ConnectError::invalid(format!("StartRequest: {e}")))?;
        let config = request.process;
        let mut env = self.sandbox.env_vars.clone();
        env.extend([("USER".to_string(), "user".to_string()), ("LOGNAME".to_string(), "user".to_string())]);
        let pty = request.pty.map(|p| TerminalSize { cols: p.size.cols.max(1), rows: p.size.rows.max(1) });
        if pty.is_some() {
            env.insert("TERM".into(), "xterm-256color".into());
        }
        env.extend(config.envs.clone());
        let start = ProcessStart {
            argv: std::iter::once(config.cmd.clone()).chain(config.args.clone()).collect(),
            env,
            cwd: Some(box_path(config.cwd.as_deref().unwrap_or(HOME))),
            stdin: request.stdin.unwrap_or(true),
            pty,
            tag: request.tag,
            channel_fd: None,
        };
        let started = self.sessions().start_process(&self.sandbox.id, &self.sandbox.tenant, start).await;
        let started = started.map_err(start_error)?;
        Ok(events::relay(self, started.pid, started.events, headers))
    }

    async fn attach(&self, headers: &HeaderMap, message: &Value) -> Result<Response, ConnectError> {
        let pid = self.selected(message).await?;
        let events = self.sessions().process_events(&self.sandbox.id, &self.sandbox.tenant, pid).await?;
        Ok(events::relay(self, pid, events, headers))
    }

    async fn processes(&self) -> Result<Vec<ProcessInfo>, ConnectError> {
        Ok(self.sessions().processes(&self.sandbox.id, &self.sandbox.tenant).await?)
    }

    async fn list(&self) -> Result<Value, ConnectError> {
        let processes: Vec<Value> = self.processes().await?.iter().map(shown).collect();
        Ok(json!({ "processes": processes }))
    }

    /// The pid a `ProcessSelector` names among the running processes.
    async fn selected(&self, message: &Value) -> Result<i32, ConnectError> {
        let selector = &message["process"];
        let pid = match (&selector["pid"], &selector["tag"]) {
            (Value::Number(n), _) => n.as_i64(),
            (Value::String(s), _) if !s.is_empty() => s.parse::<i64>().ok(),
            (_, Value::String(tag)) => {
                let found = self.processes().await?.into_iter().find(|p| p.tag.as_deref() == Some(tag.as_str()));
                return found
                    .map(|p| p.pid)
                    .ok_or_else(|| ConnectError::not_found(format!("no process with tag {tag}")));
            }
            _ => return Err(ConnectError::invalid("process: a pid or a tag is required")),
        };
        pid.and_then(|p| i32::try_from(p).ok()).ok_or_else(|| ConnectError::invalid("process: the pid is not a number"))
    }

    async fn signal(&self, message: &Value) -> Result<Value, ConnectError> {
        let pid = self.selected(message).await?;
        let signal = match &message["signal"] {
            Value::String(name) if name == "SIGNAL_SIGTERM" => 15,
            Value::Number(n) if n.as_i64() == Some(15) => 15,
            _ => 9,
        };
        self.sessions().signal_process(&self.sandbox.id, &self.sandbox.tenant, pid, signal).await?;
        Ok(json!({}))
    }

    async fn input(&self, message: &Value) -> Result<Value, ConnectError> {
        let pid = self.selected(message).await?;
        self.write_input(pid, &message["input"]).await?;
        Ok(json!({}))
    }

    async fn write_input(&self, pid: i32, input: &Value) -> Result<(), ConnectError> {
        let encoded = input["stdin"].as_str().or_else(|| input["pty"].as_str()).unwrap_or_default();
        let data = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| ConnectError::invalid(format!("input: not base64: {e}")))?;
        Ok(self.sessions().process_input(&self.sandbox.id, &self.sandbox.tenant, pid, &data).await?)
    }

    /// A client stream: a start message naming the process, then its input, in order.
    async fn stream_input(&self, headers: &HeaderMap, body: &Bytes) -> Result<Value, ConnectError> {
        let messages = connect::request_messages(headers, body)?;
        let mut pid = None;
        for message in messages {
            if let Some(start) = message.get("start") {
                let named = self.selected(start).await?;
                // It must name a running process of this box, even when no input follows
                // (no input is empty input: nothing is written).
                self.sessions().process_input(&self.sandbox.id, &self.sandbox.tenant, named, &[]).await?;
                pid = Some(named);
            } else if let Some(data) = message.get("data") {
                let pid = pid.ok_or_else(|| ConnectError::invalid("input came before the process was named"))?;
                self.write_input(pid, &data["input"]).await?;
            }
        }
        Ok(json!({}))
    }

    async fn close_stdin(&self, message: &Value) -> Result<Value, ConnectError> {
        let pid = self.selected(message).await?;
        self.sessions().close_process_input(&self.sandbox.id, &self.sandbox.tenant, pid).await?;
        Ok(json!({}))
    }

    async fn update(&self, message: &Value) -> Result<Value, ConnectError> {
        let pid = self.selected(message).await?;
        let Some(size) = message["pty"]["size"].as_object() else { return Ok(json!({})) };
        let dimension = |name: &str| size.get(name).and_then(Value::as_u64).unwrap_or(1).clamp(1, 10_000) as u16;
        let size = TerminalSize { cols: dimension("cols"), rows: dimension("rows") };
        self.sessions().resize_process(&self.sandbox.id, &self.sandbox.tenant, pid, size).await?;
        Ok(json!({}))
    }
}

/// A process as `List` shows it.
fn shown(info: &ProcessInfo) -> Value {
    let mut config = json!({
        "cmd": info.argv.first().cloned().unwrap_or_default(),
        "args": info.argv.get(1..).unwrap_or_default(),
        "envs": info.env,
        "cwd": info.cwd,
    });
    if let Some(envs) = config["envs"].as_object_mut() {
        envs.retain(|name, _| !matches!(name.as_str(), "USER" | "LOGNAME" | "TERM"));
    }
    let mut process = json!({ "pid": info.pid, "config": config });
    if let Some(tag) = &info.tag {
        process["tag"] = json!(tag);
    }
    process
}

/// A path of the box for an E2B path: relative ones (and `~`) are under the home.
fn box_path(path: &str) -> String {
    let path = path.trim();
    if let Some(rest) = path.strip_prefix("~/") {
        return format!("{HOME}/{rest}");
    }
    match path {
        "" | "~" => HOME.into(),
        absolute if absolute.starts_with('/') => absolute.into(),
        relative => format!("{HOME}/{relative}"),
    }
}

/// A process that could not start: the agent's reason is the caller's (a missing directory,
/// a missing program).
fn start_error(e: ExecuteError) -> ConnectError {
    match e {
        ExecuteError::Invalid { message, .. } => ConnectError::invalid(message),
        other => ConnectError::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_under_the_home() {
        assert_eq!(box_path("/tmp"), "/tmp");
        assert_eq!(box_path("d/e"), "/home/user/d/e");
        assert_eq!(box_path("~/x"), "/home/user/x");
        assert_eq!(box_path(""), "/home/user");
    }
}
