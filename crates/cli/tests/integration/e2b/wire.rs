//! envd's Process service over plain HTTP, for tests that drive a sandbox's processes
//! directly: starting any argv (pipes or a terminal), reading its event stream as it comes,
//! and the unary calls.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use super::http::plane;
use crate::common::Daemon;

/// An E2B sandbox as the sandbox plane names it: its id and envd access token.
#[derive(Clone)]
pub struct Sandbox {
    pub id: String,
    pub token: String,
}

impl Sandbox {
    pub async fn create(daemon: &Daemon, key: &str) -> Sandbox {
        let (id, token) = super::http::create(daemon, key).await;
        Sandbox { id, token }
    }
}

/// A process's stream of events, read as they come.
pub struct Events {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// Its pid, from the stream's first event.
    pub pid: i64,
}

/// What a process printed (stdout, stderr and its terminal together) and how it ended.
pub struct Ended {
    pub output: String,
    pub exit: Option<i64>,
    /// The stream's end message's error, if it ended with one.
    pub error: Option<Value>,
}

fn frame(message: &Value) -> Vec<u8> {
    let payload = message.to_string().into_bytes();
    let mut body = vec![0u8];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(&payload);
    body
}

/// Starts `argv` in the sandbox (`pty`: a terminal of `(cols, rows)`), and reads its start event.
pub async fn start(daemon: &Daemon, sandbox: &Sandbox, argv: &[&str], pty: Option<(u32, u32)>, stdin: bool) -> Events {
    let mut message = json!({"process": {"cmd": argv[0], "args": &argv[1..]}, "stdin": stdin});
    if let Some((cols, rows)) = pty {
        message["pty"] = json!({"size": {"cols": cols, "rows": rows}});
    }
    let response = plane(daemon, Method::POST, "/process.Process/Start", &sandbox.id, &sandbox.token)
        .header("content-type", "application/connect+json")
        .header("connect-protocol-version", "1")
        .body(frame(&message))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = Events { response, buffer: Vec::new(), pid: 0 };
    let first = events.next(Duration::from_secs(30)).await.expect("the stream's start event");
    events.pid = first["event"]["start"]["pid"].as_i64().unwrap_or_else(|| panic!("not a start event: {first}"));
    events
}

impl Events {
    /// The next message of the stream, or None at its end (or when `within` passes first).
    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.buffer.len() >= 5 {
                let len = u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]) as usize;
                if self.buffer.len() >= 5 + len {
                    let message: Value = serde_json::from_slice(&self.buffer[5..5 + len]).unwrap();
                    let end = self.buffer[0] == 2;
                    self.buffer.drain(..5 + len);
                    return Some(if end { json!({"stream_end": message}) } else { message });
                }
            }
            let chunk = match tokio::time::timeout_at(deadline, self.response.chunk()).await.ok()? {
                Ok(chunk) => chunk?,
                Err(e) => {
                    eprintln!("the stream of {} broke off: {e}", self.pid);
                    return None;
                }
            };
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Reads until the process ends, or `within` passes, or the output has `until` in it.
    pub async fn read(&mut self, within: Duration, until: Option<&str>) -> Ended {
        let deadline = tokio::time::Instant::now() + within;
        let mut ended = Ended { output: String::new(), exit: None, error: None };
        while let Some(message) = self.next(deadline.saturating_duration_since(tokio::time::Instant::now())).await {
            let event = &message["event"];
            for stream in ["stdout", "stderr", "pty"] {
                if let Some(data) = event["data"][stream].as_str() {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
                    ended.output.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            if let Some(end) = event.get("end") {
                ended.exit = Some(end["exitCode"].as_i64().unwrap_or(0));
            }
            if message["stream_end"]["error"].is_object() {
                ended.error = Some(message["stream_end"]["error"].clone());
            }
            if until.is_some_and(|u| ended.output.contains(u)) {
                break;
            }
        }
        ended
    }
}

/// Runs `script` with `bash -c` to its end (at most 60 s): what it printed and its exit code.
pub async fn run(daemon: &Daemon, sandbox: &Sandbox, script: &str) -> Ended {
    let mut events = start(daemon, sandbox, &["/bin/bash", "-c", script], None, false).await;
    events.read(Duration::from_secs(60), None).await
}

/// A unary call of the Process service: the HTTP status and the body.
pub async fn unary(daemon: &Daemon, sandbox: &Sandbox, method: &str, message: &Value) -> (u16, Value) {
    let request = plane(daemon, Method::POST, &format!("/process.Process/{method}"), &sandbox.id, &sandbox.token)
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(30))
        .body(message.to_string());
    let response = request.send().await.unwrap_or_else(|e| panic!("{method}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `input` (raw bytes) for `pid`, as `SendInput` takes it (`pty`: to its terminal).
pub fn input(pid: i64, bytes: &[u8], pty: bool) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    json!({"process": {"pid": pid}, "input": {(if pty { "pty" } else { "stdin" }): data}})
}
