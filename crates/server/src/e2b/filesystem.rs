//! envd's Filesystem service (`/filesystem.Filesystem/*`): `Stat`, `ListDir`, `MakeDir`,
//! `Move` and `Remove` (and the watches of `watch.rs`) on the sandbox's workspace (`/home/user`), through its safe file
//! access: a symlink is shown as one, never followed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::connect;
use super::entry::entry_info;
use super::error::ConnectError;
use super::plane::{shown_path, workspace_path, Plane};
use super::watch;
use crate::state::AppState;

/// The workspace path of the message's field `field`.
fn path_of(message: &Value, field: &str) -> Result<String, ConnectError> {
    let path = message[field].as_str().ok_or_else(|| ConnectError::invalid(format!("{field} is required")))?;
    workspace_path(path).map_err(|m| ConnectError::new("permission_denied", m))
}

/// `POST /filesystem.Filesystem/{method}`.
pub async fn rpc(
    State(state): State<Arc<AppState>>,
    Plane(sandbox): Plane,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = match connect::request_message(&headers, &body) {
        Ok(message) if method == "WatchDir" => return watch::stream(&state, &sandbox, &headers, &message),
        Ok(message) if matches!(method.as_str(), "CreateWatcher" | "GetWatcherEvents" | "RemoveWatcher") => {
            watch::unary(&state, &sandbox, &method, &message).await
        }
        Ok(message) => call(&state, &sandbox.id, &sandbox.tenant, &method, &message).await,
        Err(e) if method == "WatchDir" => return connect::failed_stream(e),
        Err(e) => Err(e),
    };
    match answer {
        Ok(message) => connect::unary(message),
        Err(e) => e.into_response(),
    }
}

/// One call of the service on the sandbox's workspace (the work runs off the async workers,
/// in the core).
async fn call(state: &AppState, id: &str, tenant: &str, method: &str, message: &Value) -> Result<Value, ConnectError> {
    let service = &state.service;
    match method {
        "Stat" => {
            let entry = service.session_stat(id, tenant, &path_of(message, "path")?).await?;
            Ok(json!({ "entry": entry_info(&entry) }))
        }
        "ListDir" => {
            let depth = message["depth"].as_u64().unwrap_or(1).clamp(1, 64) as u32;
            let entries = service.session_list_dir(id, tenant, &path_of(message, "path")?, depth).await?;
            Ok(json!({ "entries": entries.iter().map(entry_info).collect::<Vec<_>>() }))
        }
        "MakeDir" => {
            let path = path_of(message, "path")?;
            if !service.session_make_dir(id, tenant, &path).await? {
                return Err(ConnectError::new("already_exists", format!("{} already exists", shown_path(&path))));
            }
            Ok(json!({ "entry": entry_info(&service.session_stat(id, tenant, &path).await?) }))
        }
        "Move" => {
            let (from, to) = (path_of(message, "source")?, path_of(message, "destination")?);
            service.session_move(id, tenant, &from, &to).await?;
            Ok(json!({ "entry": entry_info(&service.session_stat(id, tenant, &to).await?) }))
        }
        "Remove" => {
            let path = path_of(message, "path")?;
            if path.is_empty() {
                return Err(ConnectError::new("permission_denied", "the home directory cannot be removed"));
            }
            // A path that is not there is removed already: envd answers it as done.
            match service.session_remove(id, tenant, &path).await {
                Ok(()) | Err(executor::ExecuteError::FileNotFound(_)) => Ok(json!({})),
                Err(e) => Err(e.into()),
            }
        }
        other => Err(ConnectError::new("unimplemented", format!("filesystem.Filesystem/{other} is not supported"))),
    }
}
