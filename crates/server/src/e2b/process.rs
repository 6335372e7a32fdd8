//! envd's Process service (`/process.Process/*`): `commands.run` and friends. A command runs
//! with Bash in its own sandbox over the sandbox's workspace (so it sees the same files as
//! the code contexts), with the sandbox's environment variables, `HOME=/home/user` and its
//! working directory there; its output and exit status come back as a Connect stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use executor::{ExecuteError, ExecutionResult, ExecutionStatus, LiveEvent, SessionCommand, Tap};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::connect::{self, Item};
use super::error::ConnectError;
use super::plane::{workspace_path, Plane, Sandbox};
use crate::state::AppState;

/// Keepalives of a stream when the client asks for no interval (seconds).
const DEFAULT_KEEPALIVE: u64 = 50;

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
struct StartRequest {
    process: ProcessConfig,
    tag: Option<String>,
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
    match method.as_str() {
        "Start" => match start(state, sandbox, &headers, message) {
            Ok(response) => response,
            Err(e) => connect::failed_stream(e),
        },
        "Connect" => {
            connect::failed_stream(selected(&sandbox, &message).err().unwrap_or_else(|| {
                ConnectError::new("unimplemented", "attaching to a running command is not supported")
            }))
        }
        "List" => connect::unary(list(&sandbox)),
        "SendSignal" => match selected(&sandbox, &message) {
            // Any signal ends the command: it runs in a sandbox of its own, killed whole.
            Ok(pid) if sandbox.kill(pid) => connect::unary(json!({})),
            Ok(_) => ConnectError::not_found("no such process").into_response(),
            Err(e) => e.into_response(),
        },
        "SendInput" | "CloseStdin" | "StreamInput" | "Update" => match selected(&sandbox, &message) {
            Ok(pid) => ConnectError::new(
                "unimplemented",
                format!("{method} is not supported: commands take no input (process {pid}; SendSignal ends it)"),
            )
            .into_response(),
            Err(e) => e.into_response(),
        },
        other => {
            ConnectError::new("unimplemented", format!("process.Process/{other} is not supported")).into_response()
        }
    }
}

fn list(sandbox: &Sandbox) -> Value {
    let processes: Vec<Value> =
        sandbox.running().into_iter().map(|(pid, config)| json!({ "pid": pid, "config": config })).collect();
    json!({ "processes": processes })
}

/// The pid a `ProcessSelector` names among the running commands.
fn selected(sandbox: &Sandbox, message: &Value) -> Result<u32, ConnectError> {
    let selector = &message["process"];
    let running = sandbox.running();
    let found = match (&selector["pid"], &selector["tag"]) {
        (Value::Number(n), _) => running.iter().find(|(pid, _)| n.as_u64() == Some(u64::from(*pid))),
        (Value::String(s), _) => running.iter().find(|(pid, _)| s.parse::<u32>().ok() == Some(*pid)),
        (_, Value::String(tag)) => running.iter().find(|(_, c)| c["tag"].as_str() == Some(tag)),
        _ => return Err(ConnectError::invalid("process: a pid or a tag is required")),
    };
    found.map(|(pid, _)| *pid).ok_or_else(|| ConnectError::not_found("no such process"))
}

/// The Bash script of a process configuration: `bash -l -c <script>` (as the SDKs send it)
/// is the script itself; anything else is quoted into one.
fn script_of(config: &ProcessConfig) -> Result<String, ConnectError> {
    let shell = matches!(config.cmd.as_str(), "/bin/bash" | "bash" | "/bin/sh" | "sh" | "/usr/bin/bash");
    let command = match config.args.as_slice() {
        [flag, script] | [_, flag, script] if shell && flag == "-c" => script.clone(),
        _ => std::iter::once(&config.cmd).chain(&config.args).map(|a| quote(a)).collect::<Vec<_>>().join(" "),
    };
    let cwd = match &config.cwd {
        Some(cwd) => workspace_path(cwd).map_err(|m| ConnectError::new("permission_denied", m))?,
        None => String::new(),
    };
    Ok(format!("cd {} || exit 1\n{command}", quote(&format!("/home/user/{cwd}"))))
}

fn quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn start(
    state: Arc<AppState>,
    sandbox: Arc<Sandbox>,
    headers: &HeaderMap,
    message: Value,
) -> Result<Response, ConnectError> {
    let request: StartRequest =
        serde_json::from_value(message.clone()).map_err(|e| ConnectError::invalid(format!("StartRequest: {e}")))?;
    let command = script_of(&request.process)?;
    let mut env_vars = sandbox.env_vars.clone();
    env_vars.extend(request.process.envs.clone());
    env_vars.insert("HOME".into(), "/home/user".into());
    env_vars.insert("USER".into(), "user".into());
    let timeout_secs = header_number(headers, "connect-timeout-ms").filter(|ms| *ms > 0).map(|ms| ms as f64 / 1000.0);
    let keepalive = header_number(headers, "keepalive-ping-interval").filter(|s| *s > 0).unwrap_or(DEFAULT_KEEPALIVE);
    let (tap, events) = Tap::channel();
    let kill = tokio_util::sync::CancellationToken::new();
    let call = SessionCommand {
        session_id: sandbox.id.clone(),
        tenant_id: sandbox.tenant.clone(),
        command,
        env_vars,
        timeout_secs,
        tap: Some(tap),
        kill: Some(kill.clone()),
    };
    let pid = sandbox.new_pid();
    let mut config = message["process"].clone();
    if let Some(tag) = request.tag {
        config["tag"] = json!(tag);
    }
    sandbox.started(pid, config, kill);
    let (tx, rx) = mpsc::channel(16);
    let _ = tx.try_send(Item::Message(json!({ "event": { "start": { "pid": pid } } })));
    // In a task of its own: the command runs to its end whether or not the client stays.
    tokio::spawn(async move {
        let run = tokio::spawn({
            let service = Arc::clone(&state.service);
            async move { service.session_command(call).await }
        });
        let (outcome, sent) = relay(run, events, &tx, Duration::from_secs(keepalive)).await;
        sandbox.ended(pid);
        for item in finish(outcome, timeout_secs, sent) {
            if tx.send(item).await.is_err() {
                break;
            }
        }
    });
    Ok(connect::stream(rx))
}

/// Bytes of stdout and stderr already sent as the command wrote them.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    stdout: usize,
    stderr: usize,
}

fn data(name: &str, text: &str) -> Item {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    Item::Message(json!({ "event": { "data": { name: b64 } } }))
}

/// Sends the command's output as it comes, and a keepalive after each `every` of silence,
/// until it ends.
async fn relay(
    mut run: tokio::task::JoinHandle<Result<ExecutionResult, ExecuteError>>,
    mut events: mpsc::UnboundedReceiver<LiveEvent>,
    tx: &mpsc::Sender<Item>,
    every: Duration,
) -> (Result<ExecutionResult, ExecuteError>, Sent) {
    let mut sent = Sent::default();
    let outcome = loop {
        let item = tokio::select! {
            joined = &mut run => {
                break joined.unwrap_or_else(|e| Err(ExecuteError::Internal(format!("the command failed: {e}"))));
            }
            Some(event) = events.recv() => match event {
                LiveEvent::Stdout(text) => { sent.stdout += text.len(); data("stdout", &text) }
                LiveEvent::Stderr(text) => { sent.stderr += text.len(); data("stderr", &text) }
                LiveEvent::Result(_) => continue,
            },
            _ = tokio::time::sleep(every) => Item::Message(json!({ "event": { "keepalive": {} } })),
        };
        let _ = tx.send(item).await;
    };
    while let Ok(event) = events.try_recv() {
        let item = match event {
            LiveEvent::Stdout(text) => {
                sent.stdout += text.len();
                data("stdout", &text)
            }
            LiveEvent::Stderr(text) => {
                sent.stderr += text.len();
                data("stderr", &text)
            }
            LiveEvent::Result(_) => continue,
        };
        let _ = tx.send(item).await;
    }
    (outcome, sent)
}

/// The stream's last messages for how the command ended.
fn finish(outcome: Result<ExecutionResult, ExecuteError>, timeout_secs: Option<f64>, sent: Sent) -> Vec<Item> {
    let result = match outcome {
        Ok(result) => result,
        Err(ExecuteError::SessionNotFound(id)) => {
            return vec![Item::End(Some(ConnectError::new("unavailable", format!("The sandbox {id} was not found"))))]
        }
        Err(e) => return vec![Item::End(Some(ConnectError::from(e)))],
    };
    if result.status == ExecutionStatus::Timeout {
        let secs = timeout_secs.map_or_else(|| "its timeout".to_string(), |s| format!("{s} s"));
        let message = format!("the command did not finish within {secs} and was killed");
        return vec![Item::End(Some(ConnectError::new("deadline_exceeded", message)))];
    }
    let mut items = Vec::new();
    // What was not sent as it came (all of it when the run streams nothing).
    for (name, text, sent) in [("stdout", &result.stdout, sent.stdout), ("stderr", &result.stderr, sent.stderr)] {
        match text.get(sent..) {
            Some(rest) if !rest.is_empty() => items.push(data(name, rest)),
            _ => {}
        }
    }
    let killed = result.status == ExecutionStatus::Killed;
    let status = if killed { "signal: killed".to_string() } else { format!("exit status {}", result.exit_code) };
    let mut end = json!({ "exitCode": result.exit_code, "exited": !killed, "status": status });
    if result.exit_code != 0 || killed {
        end["error"] = json!(status);
    }
    items.push(Item::Message(json!({ "event": { "end": end } })));
    items.push(Item::End(None));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cmd: &str, args: &[&str], cwd: Option<&str>) -> ProcessConfig {
        ProcessConfig {
            cmd: cmd.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            envs: BTreeMap::new(),
            cwd: cwd.map(String::from),
        }
    }

    #[test]
    fn scripts_run_in_the_home_or_the_asked_directory() {
        let script = script_of(&config("/bin/bash", &["-l", "-c", "echo hi"], None)).unwrap();
        assert_eq!(script, "cd '/home/user/' || exit 1\necho hi");
        let script = script_of(&config("ls", &["-l", "it's"], Some("/home/user/d"))).unwrap();
        assert_eq!(script, "cd '/home/user/d' || exit 1\n'ls' '-l' 'it'\\''s'");
        assert_eq!(script_of(&config("ls", &[], Some("/etc"))).unwrap_err().code, "permission_denied");
    }
}
