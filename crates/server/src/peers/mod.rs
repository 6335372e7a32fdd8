//! Daemons that share the load behind one Service. Each knows its own name (in Kubernetes,
//! its pod's) and how to reach a peer by name (a URL template, such as the headless
//! Service's DNS name); no membership of its own. The ids a daemon hands out (sessions,
//! executions it names) start with its name, and a call for an id another daemon owns is
//! forwarded there with the caller's token and tenant, which the owner checks as for any
//! call. A peer that cannot be reached, stays silent, or has as many calls from this daemon
//! as it may, answers 503 `Executor.PeerUnavailable` naming it, with `Retry-After`
//! ([`relay`] owns those limits). A streamed answer (server-sent events) is relayed as it
//! comes.

mod in_flight;
mod relay;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use executor::ExecuteError;

use crate::error::ApiError;
pub use relay::PeerLimits;

/// Marks a forwarded call: its receiver serves it itself, whatever the id says.
const FORWARDED_BY: &str = "x-executor-forwarded-by";
/// How long a peer may take to accept the connection before it is unavailable.
const CONNECT_WAIT: Duration = Duration::from_secs(2);
/// What of the caller's request goes along.
const REQUEST_HEADERS: [&str; 6] =
    ["authorization", "x-api-key", "x-tenant-id", "content-type", "accept", "x-request-id"];

#[derive(Debug)]
pub struct Peers {
    /// This daemon's name: a DNS label.
    pub node: String,
    /// A peer's base URL, with `{node}` where its name goes.
    url_template: String,
    client: reqwest::Client,
    limits: PeerLimits,
    in_flight: in_flight::InFlight,
}

/// Why the peers' configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    #[error("the node name {0:?} is not a DNS label (a-z, 0-9, '-', at most 63)")]
    Node(String),
    #[error("the peer URL {0:?} must be an http(s) URL with {{node}} in it")]
    Url(String),
    #[error("the peer timeouts must be at least 1 s")]
    Timeouts,
    #[error("the calls in flight to a peer and its answers' size must be at least 1")]
    Caps,
    #[error("peer client: {0}")]
    Client(reqwest::Error),
}

impl Peers {
    /// `node` must be a DNS label (lower case), and `url_template` an http(s) URL with `{node}`.
    pub fn new(node: &str, url_template: &str, limits: PeerLimits) -> Result<Peers, PeersError> {
        if !is_label(node) {
            return Err(PeersError::Node(node.to_owned()));
        }
        let scheme = url_template.starts_with("http://") || url_template.starts_with("https://");
        if !scheme || !url_template.contains("{node}") {
            return Err(PeersError::Url(url_template.to_owned()));
        }
        if limits.answer_wait.is_zero() || limits.stream_idle.is_zero() {
            return Err(PeersError::Timeouts);
        }
        if limits.max_in_flight == 0 || limits.max_answer_bytes == 0 {
            return Err(PeersError::Caps);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_WAIT)
            .tcp_nodelay(true)
            // A peer whose host vanished (no reset ever comes) is found out by the kernel; a
            // frozen one still acknowledges, which is what the health probe is for.
            .tcp_keepalive(limits.answer_wait)
            .tcp_keepalive_interval(limits.answer_wait)
            .tcp_keepalive_retries(3)
            .build()
            .map_err(PeersError::Client)?;
        let url_template = url_template.trim_end_matches('/').to_owned();
        Ok(Peers { node: node.to_owned(), url_template, client, limits, in_flight: Default::default() })
    }

    /// An id this daemon hands out: its name, a dot, then the id as a lone daemon makes it.
    pub fn owned_id(&self, local: &str) -> String {
        format!("{}.{local}", self.node)
    }

    fn url_of(&self, node: &str) -> String {
        self.url_template.replace("{node}", node)
    }
}

/// The daemon that owns `id`, if it is an id a daemon handed out: `<node>.<12 hex>` (a
/// session) or `<node>.exec_<32 hex>` (an execution). Any other id is nobody's in particular.
fn owner_of(id: &str) -> Option<&str> {
    let (node, local) = id.split_once('.')?;
    let generated = hex(local, 12) || local.strip_prefix("exec_").is_some_and(|rest| hex(rest, 32));
    (is_label(node) && generated).then_some(node)
}

/// Whether a session can have `id`: 12 lower-case hex digits, after its daemon's name and a
/// dot among peers.
pub fn is_session_id(id: &str) -> bool {
    match id.split_once('.') {
        Some((node, local)) => is_label(node) && hex(local, 12),
        None => hex(id, 12),
    }
}

fn hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_label(name: &str) -> bool {
    let inner = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    (1..=63).contains(&name.len()) && name.bytes().all(inner) && !name.starts_with('-') && !name.ends_with('-')
}

/// What a call names: a session or an execution, by id.
enum Named {
    Session(String),
    Execution(String),
}

impl Named {
    fn id(&self) -> &str {
        match self {
            Named::Session(id) | Named::Execution(id) => id,
        }
    }

    /// The answer for an id no peer can own (no URL can be made of its name).
    fn unknown(&self) -> Response {
        let error = match self {
            Named::Session(id) => ExecuteError::SessionNotFound(id.clone()),
            Named::Execution(id) => ExecuteError::NotFound(id.clone()),
        };
        ApiError::from(error).into_response()
    }
}

/// What the forwarding layer needs: the peers, and how much of a body it may read.
#[derive(Clone)]
pub struct Forwarding {
    pub peers: Option<Arc<Peers>>,
    pub max_body_bytes: usize,
}

/// Serves the call here, or forwards it to the daemon that owns what it names.
pub async fn forward(State(state): State<Forwarding>, request: Request, next: Next) -> Response {
    let Some(peers) = state.peers.clone() else { return next.run(request).await };
    if request.headers().contains_key(FORWARDED_BY) {
        return next.run(request).await;
    }
    if let Some(named) = named_in_path(request.uri().path()) {
        let Some(owner) = owner_of(named.id()).filter(|owner| *owner != peers.node).map(str::to_owned) else {
            return next.run(request).await;
        };
        let (parts, body) = request.into_parts();
        return match to_bytes(body, state.max_body_bytes).await {
            Ok(bytes) => relay(&peers, &owner, Request::from_parts(parts, Body::empty()), bytes, &named).await,
            Err(_) => too_large(state.max_body_bytes),
        };
    }
    if !names_a_session_in_body(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => return too_large(state.max_body_bytes),
    };
    let session = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("session_id").and_then(|s| s.as_str()).map(str::to_owned));
    let named = session.map(Named::Session);
    match named.as_ref().and_then(|n| owner_of(n.id())).filter(|owner| *owner != peers.node) {
        Some(owner) => {
            let owner = owner.to_owned();
            let named = named.expect("an owner comes from a name");
            relay(&peers, &owner, Request::from_parts(parts, Body::empty()), bytes, &named).await
        }
        None => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    }
}

/// A body over the limit (or one that broke off), as the routes' own extractors answer it.
fn too_large(limit: usize) -> Response {
    ApiError::new(
        crate::error::ErrorCode::PayloadTooLarge,
        "The request body is over the size limit.",
        format!("the body is over the limit of {limit} bytes, or it broke off"),
        format!("Send at most {limit} bytes."),
    )
    .into_response()
}

/// `/executions/{id}`, `/session/{id}/files...` and `/session/{id}/processes...`.
fn named_in_path(path: &str) -> Option<Named> {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("executions"), Some(id), _) => Some(Named::Execution(id.to_owned())),
        (Some("session"), Some(id), Some("files" | "processes")) => Some(Named::Session(id.to_owned())),
        _ => None,
    }
}

/// The routes whose JSON body may name a session: runs in one, and its calls and end.
fn names_a_session_in_body(method: &Method, path: &str) -> bool {
    method == Method::POST && matches!(path, "/execute" | "/session/execute" | "/session/destroy")
}

/// The tenant a call names, as the routes read it (`X-Tenant-ID`, else the JSON body's
/// `tenant_id`, else the default one), for its share of the calls to a peer; the owner
/// checks it.
fn tenant_named(headers: &axum::http::HeaderMap, body: &Bytes) -> String {
    let header = headers.get(crate::tenant::TENANT_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let in_body = || {
        let body = serde_json::from_slice::<serde_json::Value>(body).ok()?;
        body.get("tenant_id")?.as_str().map(str::to_owned)
    };
    header.or_else(in_body).unwrap_or_else(|| executor::DEFAULT_TENANT.to_owned())
}

/// Sends the call to `owner` and its answer back.
async fn relay(peers: &Peers, owner: &str, request: Request, body: Bytes, named: &Named) -> Response {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let base = peers.url_of(owner);
    let url = format!("{base}{path}");
    let mut call = peers.client.request(request.method().clone(), &url).header(FORWARDED_BY, &peers.node);
    for name in REQUEST_HEADERS {
        if let Some(value) = request.headers().get(name) {
            call = call.header(name, value);
        }
    }
    tracing::debug!(%url, owner, id = named.id(), "forwarding the call to the daemon that owns it");
    let to = relay::Owner {
        node: owner,
        base,
        client: &peers.client,
        limits: &peers.limits,
        in_flight: &peers.in_flight,
        tenant: &tenant_named(request.headers(), &body),
    };
    // A file download (a session's `/files/{path}`) goes on as it comes.
    let download = request.method() == Method::GET
        && matches!(named, Named::Session(_))
        && request.uri().path().contains("/files/");
    match relay::relay(&to, call.body(body), download).await {
        Some(answer) => answer,
        None => named.unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_a_daemon_handed_out_have_an_owner() {
        assert_eq!(owner_of("pod-1.0123456789ab"), Some("pod-1"));
        assert_eq!(owner_of("8081.exec_0123456789abcdef0123456789abcdef"), Some("8081"));
        for nobody in
            ["0123456789ab", "run.1", "Pod.0123456789ab", "a.0123456789AB", "evil.com.0123456789ab", "-a.0123456789ab"]
        {
            assert_eq!(owner_of(nobody), None, "{nobody}");
        }
    }

    #[test]
    fn a_peer_url_needs_its_node_and_a_scheme() {
        let new = |node, url| Peers::new(node, url, PeerLimits::default());
        assert!(new("pod-0", "http://{node}.headless:8080").is_ok());
        assert!(new("Pod_0", "http://{node}:8080").is_err());
        assert!(new("pod-0", "http://peer:8080").is_err());
        assert!(new("pod-0", "ftp://{node}").is_err());
        let stuck = PeerLimits { answer_wait: Duration::ZERO, ..PeerLimits::default() };
        assert!(Peers::new("pod-0", "http://{node}:8080", stuck).is_err());
        let peers = new("pod-0", "http://{node}.h:8080/").unwrap();
        assert_eq!((peers.url_of("pod-2"), peers.owned_id("x")), ("http://pod-2.h:8080".into(), "pod-0.x".into()));
    }
}
