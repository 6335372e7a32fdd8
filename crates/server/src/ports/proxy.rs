//! Forwarding one request over a connection to a server in a session: an HTTP/1.1 exchange
//! whose bodies stream both ways, or, when the client asks for an upgrade (WebSocket) and
//! the server agrees, both connections spliced together until either side closes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{self, HeaderMap, HeaderName};
use axum::http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::idle::IdleIo;
use super::limits::ConnectionGuard;

/// Where a request goes: the connection to the server, how long it may idle, and its place
/// under the caps (held until the exchange, or the upgraded connection, is over).
pub struct Upstream {
    pub stream: TcpStream,
    pub idle: Duration,
    pub guard: ConnectionGuard,
}

/// Why the server's answer could not be had.
#[derive(Debug)]
pub enum ProxyError {
    /// The exchange with the server failed (it closed the connection, answered something that
    /// is not HTTP/1.x, or stayed silent past the idle timeout).
    Exchange(hyper::Error),
    /// The server switched protocols although the client asked for no upgrade.
    UnaskedUpgrade,
}

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyError::Exchange(e) => match std::error::Error::source(e) {
                Some(cause) => write!(f, "the server in the sandbox gave no answer: {e}: {cause}"),
                None => write!(f, "the server in the sandbox gave no answer: {e}"),
            },
            ProxyError::UnaskedUpgrade => f.write_str("the server in the sandbox switched protocols unasked"),
        }
    }
}

/// Headers of one hop only (RFC 9110, 7.6.1), never forwarded as they are.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Sends `request` (its URI's path and query as they are) to the server and gives back its
/// answer, the body streaming as the server writes it.
pub async fn forward(mut request: Request<Body>, upstream: Upstream) -> Result<Response<Body>, ProxyError> {
    let upgrade = asks_upgrade(request.headers()).then(|| hyper::upgrade::on(&mut request));
    let outgoing = outgoing(request, upgrade.is_some());
    let Upstream { stream, idle, guard } = upstream;
    let io = TokioIo::new(IdleIo::new(stream, idle));
    let (mut sender, connection) =
        hyper::client::conn::http1::Builder::new().handshake::<_, Body>(io).await.map_err(ProxyError::Exchange)?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "a proxied connection to a session's port ended in error");
        }
    });
    let mut answer = sender.send_request(outgoing).await.map_err(ProxyError::Exchange)?;
    if answer.status() == StatusCode::SWITCHING_PROTOCOLS {
        let client = upgrade.ok_or(ProxyError::UnaskedUpgrade)?;
        let server = hyper::upgrade::on(&mut answer);
        tokio::spawn(splice(client, server, guard));
        let (parts, _) = answer.into_parts();
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    let (mut parts, body) = answer.into_parts();
    drop_hop_by_hop(&mut parts.headers, false);
    Ok(Response::from_parts(parts, Body::new(Held { body, _guard: guard })))
}

/// Whether the request asks to switch protocols (`Connection: upgrade` and `Upgrade: ...`).
fn asks_upgrade(headers: &HeaderMap) -> bool {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    connection_upgrade && headers.contains_key(header::UPGRADE)
}

/// The request as the server gets it: HTTP/1.1 in origin form, hop-by-hop headers dropped
/// (but an upgrade's own), a `Host` kept (or made from the URI of an HTTP/2 request).
fn outgoing(request: Request<Body>, upgrade: bool) -> Request<Body> {
    let (mut parts, body) = request.into_parts();
    if !parts.headers.contains_key(header::HOST) {
        if let Some(value) = parts.uri.authority().and_then(|a| a.as_str().parse().ok()) {
            parts.headers.insert(header::HOST, value);
        }
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
    parts.version = Version::HTTP_11;
    parts.extensions = Default::default();
    drop_hop_by_hop(&mut parts.headers, upgrade);
    if upgrade {
        parts.headers.insert(header::CONNECTION, header::HeaderValue::from_static("upgrade"));
    }
    Request::from_parts(parts, body)
}

/// Removes the hop-by-hop headers and those the `Connection` header names; `Upgrade` too
/// unless the request is an upgrade.
fn drop_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .filter(|name| !(upgrade && name == header::UPGRADE))
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
    if !upgrade {
        headers.remove(header::UPGRADE);
    }
}

/// Copies both upgraded connections into each other until either side closes (or the
/// server's side idles past its timeout), holding the connection's place under the caps.
async fn splice(client: OnUpgrade, server: OnUpgrade, guard: ConnectionGuard) {
    let _guard = guard;
    let (client, server) = match tokio::try_join!(client, server) {
        Ok(both) => both,
        Err(e) => {
            tracing::debug!(error = %e, "a proxied upgrade did not complete");
            return;
        }
    };
    let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
        tracing::debug!(error = %e, "a proxied upgraded connection ended in error");
    }
}

/// The server's answer body, holding the connection's place under the caps to its end.
struct Held {
    body: Incoming,
    _guard: ConnectionGuard,
}

impl hyper::body::Body for Held {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
