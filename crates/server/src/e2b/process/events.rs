//! A process's events as envd's stream of `ProcessEvent`s: its start, its output as it comes,
//! keepalives in silences, its end; broken off when the box itself goes, so that the SDKs
//! find out the sandbox is gone.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine;
use executor::boxes::{ExitStatus, ProcessEvent, Stream};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::super::connect::{self, Item};
use super::super::error::ConnectError;
use super::Call;

/// Keepalives of a stream when the client asks for no interval (seconds).
const DEFAULT_KEEPALIVE: u64 = 50;

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The stream of `pid`'s events. With the client's `connect-timeout-ms`, a process started by
/// this call is killed when it passes (as envd does), and the stream ends with
/// `deadline_exceeded`; an attached client's stream just ends.
pub(super) fn relay(call: &Call, pid: i32, events: broadcast::Receiver<ProcessEvent>, headers: &HeaderMap) -> Response {
    let timeout = header_number(headers, "connect-timeout-ms").filter(|ms| *ms > 0).map(Duration::from_millis);
    let every = header_number(headers, "keepalive-ping-interval").filter(|s| *s > 0).unwrap_or(DEFAULT_KEEPALIVE);
    let (tx, rx) = mpsc::channel(64);
    let _ = tx.try_send(Item::Message(json!({ "event": { "start": { "pid": pid } } })));
    let state = std::sync::Arc::clone(&call.state);
    let (id, tenant) = (call.sandbox.id.clone(), call.sandbox.tenant.clone());
    tokio::spawn(async move {
        let ended = forward(events, &tx, Duration::from_secs(every), timeout).await;
        if let Some(item) = ended {
            if matches!(item, Item::End(Some(ref e)) if e.code == "deadline_exceeded") {
                let _ = state.service.sessions().signal_process(&id, &tenant, pid, 9).await;
            }
            let _ = tx.send(item).await;
        }
    });
    connect::stream(rx)
}

/// Passes events on until the process ends (its end's items), the box goes, the deadline
/// passes, or the client leaves (`None`).
async fn forward(
    mut events: broadcast::Receiver<ProcessEvent>,
    tx: &mpsc::Sender<Item>,
    every: Duration,
    timeout: Option<Duration>,
) -> Option<Item> {
    let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::MAX / 4));
    tokio::pin!(deadline);
    loop {
        let item = tokio::select! {
            event = events.recv() => match event {
                Ok(ProcessEvent::Output(stream, bytes)) => data(stream, &bytes),
                Ok(ProcessEvent::Exited(status)) => {
                    tx.send(Item::Message(end(status))).await.ok()?;
                    return Some(Item::End(None));
                }
                Ok(ProcessEvent::BoxEnded) | Err(broadcast::error::RecvError::Closed) => {
                    return Some(Item::Abort("the sandbox ended"));
                }
                // A client that reads slower than the process writes misses what was dropped.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
            },
            _ = tokio::time::sleep(every) => Item::Message(json!({ "event": { "keepalive": {} } })),
            _ = &mut deadline => {
                let secs = timeout.map_or(0.0, |t| t.as_secs_f64());
                let message = format!("the command did not finish within {secs} s and was killed");
                return Some(Item::End(Some(ConnectError::new("deadline_exceeded", message))));
            }
        };
        tx.send(item).await.ok()?;
    }
}

fn data(stream: Stream, bytes: &[u8]) -> Item {
    let name = match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
        Stream::Pty => "pty",
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Item::Message(json!({ "event": { "data": { name: b64 } } }))
}

/// envd's end event: Go's `ProcessState` in words ("exit status 1", "signal: killed").
fn end(status: ExitStatus) -> Value {
    let (code, exited, words) = match (status.code, status.signal) {
        (Some(code), _) => (code, true, format!("exit status {code}")),
        (None, signal) => (-1, false, format!("signal: {}", signal_name(signal.unwrap_or(0)))),
    };
    let mut end = json!({ "exitCode": code, "exited": exited, "status": words });
    if code != 0 {
        end["error"] = json!(words);
    }
    json!({ "event": { "end": end } })
}

fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        6 => "aborted",
        9 => "killed",
        11 => "segmentation fault",
        13 => "broken pipe",
        15 => "terminated",
        other => return format!("signal {other}"),
    };
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_read_as_envd_words_them() {
        let exited = end(ExitStatus { code: Some(1), signal: None });
        assert_eq!(
            exited["event"]["end"],
            json!({"exitCode": 1, "exited": true, "status": "exit status 1", "error": "exit status 1"})
        );
        let killed = end(ExitStatus { code: None, signal: Some(9) });
        assert_eq!(killed["event"]["end"]["status"], "signal: killed");
        assert_eq!(killed["event"]["end"]["exitCode"], -1);
        let ok = end(ExitStatus { code: Some(0), signal: None });
        assert!(ok["event"]["end"].get("error").is_none());
    }
}
