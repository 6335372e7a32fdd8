//! E2B's control plane (`E2B_API_URL`): create, list, inspect, connect to, time and kill
//! sandboxes. The API key (`X-API-KEY`) is checked against the daemon's API token when one is
//! configured, and names the caller's tenant: another key's sandboxes do not exist for it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use executor::{NewSession, SessionAttributes, SessionHandle};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::error::E2bError;
use super::network::{self, NetworkBody};
use super::ENVD_VERSION;
use crate::state::AppState;

/// A sandbox's lifetime when the caller gives none (seconds).
const DEFAULT_TIMEOUT: u64 = 300;
/// The longest lifetime a sandbox may ask for (seconds): E2B's own cap.
const MAX_TIMEOUT: u64 = 24 * 3600;

/// The body of `POST /sandboxes` and `POST /v2/sandboxes`; fields this daemon does not use
/// are accepted and ignored unless ignoring them would change what the caller gets.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    #[serde(rename = "templateID")]
    template_id: String,
    timeout: Option<u64>,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    env_vars: Option<BTreeMap<String, String>>,
    #[serde(default)]
    auto_pause: Option<bool>,
    #[serde(default, rename = "allow_internet_access", alias = "allowInternetAccess")]
    allow_internet_access: Option<bool>,
    #[serde(default)]
    network: Option<NetworkBody>,
    #[serde(default)]
    volume_mounts: Option<Vec<Value>>,
    #[serde(default)]
    mcp: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct TimeoutBody {
    timeout: Option<u64>,
}

/// The caller's tenant, from its API key (checked against the daemon's token if it has one).
pub(super) fn caller(state: &AppState, headers: &HeaderMap) -> Result<String, E2bError> {
    let key = headers
        .get("x-api-key")
        .map(|v| v.to_str().map(str::trim))
        .transpose()
        .map_err(|_| E2bError::unauthorized("the X-API-KEY header is not visible ASCII"))?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| E2bError::unauthorized("the request carries no X-API-KEY header (set E2B_API_KEY)"))?;
    if let Some(token) = state.options.api_token.as_deref() {
        if !crate::auth::ApiToken::new(token).matches(key) {
            return Err(E2bError::unauthorized("the API key does not match the daemon's API token"));
        }
    }
    Ok(tenant_of_key(key))
}

/// The tenant an E2B API key stands for: keys are never stored, only this digest of them.
fn tenant_of_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("e2b-{hex}")
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, E2bError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| E2bError::bad_request(format!("the request body is invalid: {e}")))
}

/// Our template for an E2B template id.
fn template_for(state: &AppState, id: &str) -> Result<executor::Template, E2bError> {
    let ours = match id {
        "base" => "default",
        "code-interpreter-v1" | "code-interpreter" => "python-data",
        other => other,
    };
    state.service.templates().get(ours).map_err(|_| E2bError::not_found(format!("template '{id}' not found")))
}

fn check_create(body: &CreateBody) -> Result<u64, E2bError> {
    let timeout = body.timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout == 0 || timeout > MAX_TIMEOUT {
        return Err(E2bError::bad_request(format!("timeout must be between 1 and {MAX_TIMEOUT} seconds")));
    }
    if body.auto_pause == Some(true) {
        return Err(E2bError::bad_request("autoPause is not supported: sandboxes are killed at their end"));
    }
    if body.volume_mounts.as_ref().is_some_and(|v| !v.is_empty()) || body.mcp.as_ref().is_some_and(|m| !m.is_null()) {
        return Err(E2bError::bad_request("volumeMounts and mcp are not supported"));
    }
    for name in body.env_vars.iter().flat_map(|vars| vars.keys()) {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(E2bError::bad_request(format!("envVars: {name:?} is not a valid variable name")));
        }
    }
    Ok(timeout)
}

/// `POST /sandboxes` and `POST /v2/sandboxes`.
pub async fn create(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Result<Response, E2bError> {
    let tenant = caller(&state, &headers)?;
    let body: CreateBody = parse(&body)?;
    let timeout = check_create(&body)?;
    let template = template_for(&state, &body.template_id)?;
    let egress = network::policy(template.egress.as_ref(), body.allow_internet_access, body.network.as_ref())?;
    let public = body.network.as_ref().and_then(|n| n.allow_public_traffic).unwrap_or(true);
    let new = NewSession {
        tenant_id: tenant.clone(),
        scope: Some(format!("e2b:{}", body.template_id.chars().take(200).collect::<String>())),
        template,
        // The sandbox ends at its timeout however idle (bounded by the operator's lifetime
        // cap): the session owns that end, for every API at once.
        ttl_secs: None,
        lifetime_secs: Some(timeout),
        home_alias: true,
        egress,
        attributes: SessionAttributes {
            template_label: Some(body.template_id),
            metadata: body.metadata.unwrap_or_default(),
            env_vars: body.env_vars.unwrap_or_default(),
            access_tokens: true,
            private_ports: !public,
        },
    };
    let created_session = state.service.create_session(new).await?;
    let sandbox = state
        .service
        .session_handle(&created_session.session_id, &tenant)
        .map_err(|_| gone(&created_session.session_id))?;
    let end = ends_at(&state, &sandbox)?;
    Ok((StatusCode::CREATED, Json(created(&state, &sandbox, end))).into_response())
}

/// When the sandbox's session ends; 404 once it has ended, however it ended.
fn ends_at(state: &AppState, sandbox: &SessionHandle) -> Result<SystemTime, E2bError> {
    state.service.session_ends_at(sandbox.id(), sandbox.tenant()).map_err(|_| gone(sandbox.id()))
}

fn gone(id: &str) -> E2bError {
    E2bError::not_found(format!("sandbox \"{id}\" not found"))
}

fn created(state: &AppState, sandbox: &SessionHandle, end: SystemTime) -> Value {
    let tokens = sandbox.tokens();
    json!({
        "templateID": sandbox.template_label(),
        "sandboxID": sandbox.id(),
        "clientID": "sandbox-executor",
        "envdVersion": ENVD_VERSION,
        "envdAccessToken": tokens.map(|t| t.envd.as_str()),
        "trafficAccessToken": tokens.map(|t| t.traffic.as_str()),
        "domain": state.options.ports.domain,
        "alias": null,
        "endAt": rfc3339(end),
    })
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// A sandbox as the list and its detail show it.
pub(super) fn listed(state: &AppState, sandbox: &SessionHandle, end: SystemTime) -> Value {
    let limits = state.service.limits();
    json!({
        "templateID": sandbox.template_label(),
        "sandboxID": sandbox.id(),
        "clientID": "sandbox-executor",
        "startedAt": rfc3339(sandbox.created()),
        "endAt": rfc3339(end),
        "envdVersion": ENVD_VERSION,
        "cpuCount": 1,
        "memoryMB": limits.default_memory_mb,
        "diskSizeMB": limits.workspace_bytes / (1024 * 1024),
        "state": "running",
        "metadata": sandbox.attributes().metadata,
    })
}

/// The caller's live sandbox `id` and when it ends.
pub(super) fn mine(state: &AppState, headers: &HeaderMap, id: &str) -> Result<(SessionHandle, SystemTime), E2bError> {
    let tenant = caller(state, headers)?;
    let sandbox = state.service.session_handle(id, &tenant).map_err(|_| gone(id))?;
    let end = ends_at(state, &sandbox)?;
    Ok((sandbox, end))
}

/// `GET /sandboxes/{id}`.
pub async fn info(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, E2bError> {
    let (sandbox, end) = mine(&state, &headers, &id)?;
    let mut detail = listed(&state, &sandbox, end);
    detail["envdAccessToken"] = json!(sandbox.tokens().map(|t| t.envd.as_str()));
    detail["allowInternetAccess"] = json!(sandbox.has_network());
    detail["network"] = network::shown(&sandbox);
    detail["domain"] = json!(state.options.ports.domain);
    Ok(Json(detail))
}

/// `DELETE /sandboxes/{id}`: 204, or 404 when the caller has no such sandbox.
pub async fn kill(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, E2bError> {
    let tenant = caller(&state, &headers)?;
    // A sandbox whose session already ended was not there to kill.
    state.service.destroy_session(&id, &tenant).await.map_err(|_| gone(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/timeout`: the sandbox now ends `timeout` seconds from now (at most
/// at the operator's lifetime cap).
pub async fn set_timeout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, E2bError> {
    let (sandbox, _) = mine(&state, &headers, &id)?;
    let body: TimeoutBody = parse(&body)?;
    let timeout = body.timeout.ok_or_else(|| E2bError::bad_request("timeout is required"))?;
    if timeout == 0 || timeout > MAX_TIMEOUT {
        return Err(E2bError::bad_request(format!("timeout must be between 1 and {MAX_TIMEOUT} seconds")));
    }
    let ended = state.service.end_session_in(sandbox.id(), sandbox.tenant(), Duration::from_secs(timeout));
    ended.map_err(|_| gone(&id))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sandboxes/{id}/connect` and `POST /v2/sandboxes/{id}/connect`: 200 with the
/// create answer; a `timeout` moves the end later (never sooner).
pub async fn connect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, E2bError> {
    let (sandbox, mut end) = mine(&state, &headers, &id)?;
    let body: TimeoutBody = parse(&body)?;
    if let Some(timeout) = body.timeout {
        if timeout == 0 || timeout > MAX_TIMEOUT {
            return Err(E2bError::bad_request(format!("timeout must be between 1 and {MAX_TIMEOUT} seconds")));
        }
        if SystemTime::now() + Duration::from_secs(timeout) > end {
            let later = state.service.end_session_in(sandbox.id(), sandbox.tenant(), Duration::from_secs(timeout));
            end = later.map_err(|_| gone(&id))?;
        }
    }
    Ok(Json(created(&state, &sandbox, end)))
}
