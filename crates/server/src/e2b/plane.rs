//! The sandbox plane (`E2B_SANDBOX_URL`): which sandbox a request is for (`E2b-Sandbox-Id`),
//! and whether it may use it (`X-Access-Token` or `E2B-Traffic-Access-Token`, issued to the
//! sandbox's creator). The port header (`E2b-Sandbox-Port`) needs no routing: every path but
//! `/health` belongs to one port only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use executor::SessionHandle;

use super::error::E2bError;
use crate::state::AppState;

pub const SANDBOX_ID_HEADER: &str = "e2b-sandbox-id";
const TOKEN_HEADERS: [&str; 2] = ["x-access-token", "e2b-traffic-access-token"];

/// An E2B sandbox as one sandbox-plane request sees it: its session (the core's: its
/// attributes, code contexts; its processes are its box's, in the core).
pub struct Sandbox {
    pub id: String,
    pub tenant: String,
    /// The variables it was created with (a command's or cell's own win).
    pub env_vars: BTreeMap<String, String>,
    session: SessionHandle,
}

impl std::ops::Deref for Sandbox {
    type Target = SessionHandle;

    fn deref(&self) -> &SessionHandle {
        &self.session
    }
}

/// The sandbox a sandbox-plane request is for, its access token checked.
pub struct Plane(pub Arc<Sandbox>);

impl FromRequestParts<Arc<AppState>> for Plane {
    type Rejection = E2bError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, E2bError> {
        let id = parts
            .headers
            .get(SANDBOX_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| E2bError::bad_request("the E2b-Sandbox-Id header is missing (set E2B_SANDBOX_URL)"))?;
        let presented: Vec<&str> = TOKEN_HEADERS
            .iter()
            .flat_map(|name| parts.headers.get_all(*name))
            .filter_map(|v| v.to_str().ok())
            .collect();
        if presented.is_empty() {
            return Err(E2bError::new(StatusCode::UNAUTHORIZED, "the request carries no X-Access-Token header"));
        }
        // A wrong token gets the same answer as an unknown sandbox: ids do not leak.
        let gone = || E2bError::sandbox_gone(&id.chars().take(64).collect::<String>());
        let session = state.service.session_for_token(id, &presented).ok_or_else(gone)?;
        Ok(Plane(Sandbox::of(session)))
    }
}

impl Sandbox {
    pub fn of(session: SessionHandle) -> Arc<Sandbox> {
        Arc::new(Sandbox {
            id: session.id().to_string(),
            tenant: session.tenant().to_string(),
            env_vars: session.attributes().env_vars.clone(),
            session,
        })
    }
}

/// The sandbox of a `/files` call: by its access token like every sandbox call, or, for a
/// call that carries no token but a `signature`, the sandbox whose token signed the URL
/// (the one its `E2b-Sandbox-Id` names, if any; else whichever live sandbox did: the URLs the
/// SDKs make name no sandbox when `E2B_SANDBOX_URL` is set). A wrong or expired signature is
/// E2B's 401.
pub struct FilePlane(pub Arc<Sandbox>);

impl FromRequestParts<Arc<AppState>> for FilePlane {
    type Rejection = E2bError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, E2bError> {
        let has_token = TOKEN_HEADERS.iter().any(|name| parts.headers.contains_key(*name));
        let query: std::collections::BTreeMap<String, String> =
            axum::extract::Query::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
        if has_token || !query.contains_key("signature") {
            return Plane::from_request_parts(parts, state).await.map(|Plane(sandbox)| FilePlane(sandbox));
        }
        let operation = if parts.method == axum::http::Method::POST { "write" } else { "read" };
        let named = parts.headers.get(SANDBOX_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::trim);
        let candidates = state.service.sessions_with_tokens(named).into_iter().map(Sandbox::of).collect();
        super::signature::signer(candidates, envd_token, &query, operation).map(FilePlane)
    }
}

/// The token that signs a sandbox's file URLs.
fn envd_token(sandbox: &Arc<Sandbox>) -> &str {
    sandbox.tokens().map(|t| t.envd.as_str()).unwrap_or_default()
}

/// `GET /health` of either port: 204 while the sandbox lives.
pub async fn health(Plane(_): Plane) -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The path inside the sandbox's workspace of an E2B path: absolute under `/home/user` (or
/// `/workspace`, its other name), or relative to the home. Anything else is outside the
/// sandbox's own files.
pub fn workspace_path(path: &str) -> Result<String, String> {
    let path = path.trim();
    let rel = if let Some(rest) = path.strip_prefix("~/") {
        rest
    } else if path.starts_with('/') {
        ["/home/user", "/workspace"]
            .iter()
            .find_map(|root| match path.strip_prefix(root) {
                Some("") => Some(""),
                Some(rest) if rest.starts_with('/') => Some(rest.trim_start_matches('/')),
                _ => None,
            })
            .ok_or_else(|| format!("{path}: only paths under /home/user are served"))?
    } else {
        path
    };
    Ok(rel.trim_end_matches('/').to_string())
}

/// The absolute path E2B shows for a workspace path.
pub fn shown_path(rel: &str) -> String {
    if rel.is_empty() {
        "/home/user".into()
    } else {
        format!("/home/user/{rel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_into_the_workspace() {
        assert_eq!(workspace_path("/home/user/a.txt").unwrap(), "a.txt");
        assert_eq!(workspace_path("/home/user").unwrap(), "");
        assert_eq!(workspace_path("/workspace/d/b").unwrap(), "d/b");
        assert_eq!(workspace_path("a/b/").unwrap(), "a/b");
        assert_eq!(workspace_path("~/x").unwrap(), "x");
        assert!(workspace_path("/etc/passwd").is_err());
        assert!(workspace_path("/home/username").is_err());
        assert_eq!(shown_path("a.txt"), "/home/user/a.txt");
    }
}
