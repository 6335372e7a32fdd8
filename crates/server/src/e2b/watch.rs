//! envd's directory watches (`files.watch_dir`): `WatchDir`, a server stream of the events,
//! and its unary forms `CreateWatcher`, `GetWatcherEvents` and `RemoveWatcher`. The watch
//! itself is the core's (the session's workspace, its caps, its end with the session); this
//! only translates.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::Response;
use executor::{WatchEvent, WatchEventKind, WatchSpec};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::connect::{self, Item};
use super::entry::entry_info;
use super::error::ConnectError;
use super::plane::workspace_path;
use super::plane::Sandbox;
use crate::state::AppState;

/// Keepalives of a watch stream when the client asks for no interval (seconds).
const DEFAULT_KEEPALIVE: u64 = 50;

fn event_type(kind: WatchEventKind) -> &'static str {
    match kind {
        WatchEventKind::Create => "EVENT_TYPE_CREATE",
        WatchEventKind::Write => "EVENT_TYPE_WRITE",
        WatchEventKind::Remove => "EVENT_TYPE_REMOVE",
        WatchEventKind::Rename => "EVENT_TYPE_RENAME",
        WatchEventKind::Chmod => "EVENT_TYPE_CHMOD",
    }
}

fn event(e: &WatchEvent) -> Value {
    let mut event = json!({ "name": e.name, "type": event_type(e.kind) });
    if let Some(entry) = &e.entry {
        event["entry"] = entry_info(entry);
    }
    event
}

/// What a request watches. `allowNetworkMounts` changes nothing: the workspace is never on
/// a network filesystem.
fn target(message: &Value) -> Result<WatchSpec, ConnectError> {
    let path = message["path"].as_str().ok_or_else(|| ConnectError::invalid("path is required"))?;
    let rel = workspace_path(path).map_err(|m| ConnectError::new("permission_denied", m))?;
    Ok(WatchSpec {
        path: rel,
        recursive: message["recursive"].as_bool().unwrap_or(false),
        include_entry: message["includeEntry"].as_bool().unwrap_or(false),
    })
}

/// `WatchDir`: a start message, then each event as it comes and a keepalive after each
/// interval of silence, until the client goes or the sandbox ends.
pub fn stream(state: &AppState, sandbox: &Sandbox, headers: &HeaderMap, message: &Value) -> Response {
    // A missing directory is `not_found`, a file `invalid_argument`, as envd answers.
    let watch =
        target(message).and_then(|spec| Ok(state.service.watch_session_dir(&sandbox.id, &sandbox.tenant, &spec)?));
    let mut watch = match watch {
        Ok(watch) => watch,
        Err(e) => return connect::failed_stream(e),
    };
    let keepalive = headers
        .get("keepalive-ping-interval")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_KEEPALIVE);
    let (tx, rx) = mpsc::channel(64);
    let _ = tx.try_send(Item::Message(json!({ "start": {} })));
    tokio::spawn(async move {
        loop {
            let item = tokio::select! {
                _ = tx.closed() => return,
                next = watch.events.recv() => match next {
                    Some(e) => Item::Message(json!({ "filesystem": event(&e) })),
                    // The watch ended with its sandbox.
                    None => Item::End(None),
                },
                _ = tokio::time::sleep(Duration::from_secs(keepalive)) => Item::Message(json!({ "keepalive": {} })),
            };
            let last = matches!(item, Item::End(_));
            if tx.send(item).await.is_err() || last {
                return;
            }
        }
    });
    connect::stream(rx)
}

/// The unary calls: `CreateWatcher`, `GetWatcherEvents`, `RemoveWatcher`.
pub async fn unary(
    state: &Arc<AppState>,
    sandbox: &Sandbox,
    method: &str,
    message: &Value,
) -> Result<Value, ConnectError> {
    let service = &state.service;
    let (id, tenant) = (sandbox.id.as_str(), sandbox.tenant.as_str());
    let watcher = || message["watcherId"].as_str().ok_or_else(|| ConnectError::invalid("watcherId is required"));
    let unknown = |w: &str| ConnectError::new("not_found", format!("watcher with id {w} not found"));
    match method {
        "CreateWatcher" => {
            let watcher = service.create_session_watcher(id, tenant, &target(message)?)?;
            Ok(json!({ "watcherId": watcher }))
        }
        "GetWatcherEvents" => {
            let w = watcher()?;
            let events = service.session_watcher_events(id, tenant, w).await?.ok_or_else(|| unknown(w))?;
            Ok(json!({ "events": events.iter().map(event).collect::<Vec<_>>() }))
        }
        _ => {
            let w = watcher()?;
            match service.remove_session_watcher(id, tenant, w)? {
                true => Ok(json!({})),
                false => Err(unknown(w)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_envd_writes_them() {
        let e = WatchEvent { name: "d/a.txt".into(), kind: WatchEventKind::Rename, entry: None };
        assert_eq!(event(&e), json!({ "name": "d/a.txt", "type": "EVENT_TYPE_RENAME" }));
        let spec = target(&json!({ "path": "/home/user/d", "recursive": true, "includeEntry": true })).unwrap();
        assert_eq!((spec.path.as_str(), spec.recursive, spec.include_entry), ("d", true, true));
        assert!(target(&json!({ "path": "/etc" })).is_err());
    }
}
