//! One forwarded call on its way to the peer that owns what it names, and its answer on the
//! way back, within limits: a place among the calls in flight to that peer, an answer that
//! comes in time (or a peer that still answers a health probe while a long call runs), a
//! plain answer read up to a size cap, and a streamed answer relayed event by event that
//! ends with a `done` event carrying an error if the peer dies or goes silent.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, BoxStream, Stream, StreamExt};

use super::in_flight::{Full, InFlight, Permit};
use crate::error::{ApiError, ErrorCode};

/// What of the owner's answer does not come back (the connection's own).
const HOP_HEADERS: [&str; 4] = ["connection", "transfer-encoding", "content-length", "keep-alive"];

/// How long forwarded calls may take and how many there may be.
#[derive(Debug, Clone)]
pub struct PeerLimits {
    /// How long a peer may be silent: a forwarded call's answer (its headers, then each chunk
    /// of a plain body) must come within it, or, while a long call runs, the peer's answer to
    /// a health probe; a peer that answers neither is unavailable.
    pub answer_wait: Duration,
    /// How long a streamed answer may go without a byte (the owner sends a keep-alive comment
    /// every 15 s).
    pub stream_idle: Duration,
    /// Forwarded calls in flight to one peer at once (streamed answers until their end); one
    /// tenant may have a quarter of them.
    pub max_in_flight: usize,
    /// The largest plain answer relayed.
    pub max_answer_bytes: usize,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            answer_wait: Duration::from_secs(10),
            stream_idle: Duration::from_secs(45),
            max_in_flight: 64,
            max_answer_bytes: 256 * 1024 * 1024,
        }
    }
}

/// The peer a call goes to.
pub(super) struct Owner<'a> {
    /// Its name, as the ids it hands out carry it.
    pub node: &'a str,
    /// Its base URL.
    pub base: String,
    pub client: &'a reqwest::Client,
    pub limits: &'a PeerLimits,
    pub in_flight: &'a InFlight,
    /// The caller's tenant, as the call names it (the owner checks it).
    pub tenant: &'a str,
}

/// Sends `call` to `owner` and relays its answer; `None` when no peer can have that name
/// (no URL can be made of it). A `download`'s successful answer (a file's bytes) is passed on
/// as it comes, never held whole.
pub(super) async fn relay(owner: &Owner<'_>, call: reqwest::RequestBuilder, download: bool) -> Option<Response> {
    let max = owner.limits.max_in_flight;
    let permit = match owner.in_flight.try_enter(owner.node, owner.tenant, max) {
        Ok(permit) => permit,
        Err(Full::Peer) => {
            let why = format!("{max} calls to it are in flight already, as many as may be");
            return Some(unavailable(owner, &why).into_response());
        }
        Err(Full::Tenant(share)) => {
            let why =
                format!("{share} calls of this tenant to it are in flight already, as many as one tenant may have");
            return Some(unavailable(owner, &why).into_response());
        }
    };
    let call = call.build().ok()?;
    let answer = match answer_in_time(owner, owner.client.execute(call)).await {
        Ok(answer) => answer,
        Err(why) => return Some(unavailable(owner, &why.to_string()).into_response()),
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = answer_headers(answer.headers());
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if kind.is_some_and(|kind| kind.starts_with(crate::routes::stream::EVENT_STREAM)) {
        let events = relayed_events(answer.bytes_stream().boxed(), owner, permit);
        return Some((status, headers, Body::from_stream(events)).into_response());
    }
    if download && status.is_success() {
        let bytes = relayed_bytes(answer.bytes_stream().boxed(), owner.limits.answer_wait, permit);
        return Some((status, headers, Body::from_stream(bytes)).into_response());
    }
    Some(match read_capped(owner, answer).await {
        Ok(bytes) => (status, headers, bytes).into_response(),
        Err(Unread::TooLarge) => too_large(owner).into_response(),
        Err(Unread::Broke(why)) => unavailable(owner, &why).into_response(),
    })
}

/// The owner's answer, waited for as long as the owner still answers a health probe.
async fn answer_in_time<F>(owner: &Owner<'_>, sending: F) -> Result<reqwest::Response, Unreached>
where
    F: Future<Output = reqwest::Result<reqwest::Response>>,
{
    tokio::pin!(sending);
    loop {
        match tokio::time::timeout(owner.limits.answer_wait, &mut sending).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(e)) => return Err(Unreached::Unreachable(chain(&e))),
            Err(_) if alive(owner).await => continue,
            Err(_) => return Err(Unreached::Silent(owner.limits.answer_wait.as_secs_f64())),
        }
    }
}

/// Why the owner gave no answer.
#[derive(Debug, thiserror::Error)]
enum Unreached {
    /// The call failed (the error and its causes).
    #[error("it cannot be reached: {0}")]
    Unreachable(String),
    /// Neither the call nor a health probe was answered within these seconds.
    #[error("it answered neither the call nor a health probe within {0} s")]
    Silent(f64),
}

/// Whether the owner answers `GET /health` (any status) within the answer wait.
async fn alive(owner: &Owner<'_>) -> bool {
    let probe = owner.client.get(format!("{}/health", owner.base)).timeout(owner.limits.answer_wait);
    probe.send().await.is_ok()
}

enum Unread {
    TooLarge,
    Broke(String),
}

/// A plain answer's body, up to the cap, each chunk within the answer wait.
async fn read_capped(owner: &Owner<'_>, mut answer: reqwest::Response) -> Result<Bytes, Unread> {
    let cap = owner.limits.max_answer_bytes;
    if answer.content_length().is_some_and(|length| length > cap as u64) {
        return Err(Unread::TooLarge);
    }
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout(owner.limits.answer_wait, answer.chunk()).await {
            Ok(Ok(Some(chunk))) if body.len() + chunk.len() > cap => return Err(Unread::TooLarge),
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            Ok(Ok(None)) => return Ok(Bytes::from(body)),
            Ok(Err(e)) => return Err(Unread::Broke(format!("its answer broke off: {}", chain(&e)))),
            Err(_) => {
                let secs = owner.limits.answer_wait.as_secs_f64();
                return Err(Unread::Broke(format!("its answer stopped for {secs} s before its end")));
            }
        }
    }
}

fn answer_headers(from: &reqwest::header::HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in from {
        if HOP_HEADERS.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_ref()), value.to_str()) {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
    }
    headers
}

/// A file's bytes as the owner sends them, each chunk within `wait`; a stall or a break ends
/// the body with an error, so the caller sees a cut transfer rather than a short file.
fn relayed_bytes(
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    wait: Duration,
    permit: Permit,
) -> impl Stream<Item = std::io::Result<Bytes>> {
    stream::unfold(Some((chunks, permit)), move |state| async move {
        let (mut chunks, permit) = state?;
        match tokio::time::timeout(wait, chunks.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some((chunks, permit)))),
            Ok(None) => None,
            Ok(Some(Err(e))) => Some((Err(std::io::Error::other(chain(&e))), None)),
            Err(_) => Some((Err(std::io::Error::other("the peer's download stalled")), None)),
        }
    })
}

/// What a relayed stream still has to pass on.
struct Relayed {
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    /// Bytes of an event not yet whole.
    pending: Vec<u8>,
    done_seen: bool,
    node: String,
    idle: Duration,
    cap: usize,
    _permit: Permit,
}

/// The owner's events, passed on whole as they come; if its stream breaks, stalls or ends
/// before its `done` event, a final `done` event with the error's body instead.
fn relayed_events(
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    owner: &Owner<'_>,
    permit: Permit,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let (node, idle, cap) = (owner.node.to_owned(), owner.limits.stream_idle, owner.limits.max_answer_bytes);
    let relayed = Relayed { chunks, pending: Vec::new(), done_seen: false, node, idle, cap, _permit: permit };
    stream::unfold(Some(relayed), |relayed| async move {
        let mut relayed = relayed?;
        match relayed.next_events().await {
            Ok(Some(events)) => Some((Ok(events), Some(relayed))),
            Ok(None) => None,
            Err(_) if relayed.done_seen => None,
            Err(why) => {
                let error = ApiError::new(
                    ErrorCode::PeerUnavailable,
                    "The daemon that owns this session went away during the call.",
                    format!("the peer daemon {} that runs the call: {why}", relayed.node),
                    "Check whether the call's work was done (its session's state, or GET /executions) before retrying.",
                );
                let body = error.with_fields(serde_json::json!({ "peer": relayed.node })).logged_body();
                Some((Ok(Bytes::from(format!("event: done\ndata: {body}\n\n"))), None))
            }
        }
    })
}

impl Relayed {
    /// The next whole events; `None` once the stream ended after its `done`.
    async fn next_events(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            let chunk = match tokio::time::timeout(self.idle, self.chunks.next()).await {
                Ok(Some(Ok(chunk))) => chunk,
                Ok(Some(Err(e))) => return Err(format!("its stream broke off: {}", chain(&e))),
                Ok(None) if self.done_seen => return Ok(None),
                Ok(None) => return Err("its stream ended before its done event".to_owned()),
                Err(_) => return Err(format!("its stream was silent for {} s", self.idle.as_secs_f64())),
            };
            self.pending.extend_from_slice(&chunk);
            if let Some(end) = self.pending.windows(2).rposition(|w| w == b"\n\n") {
                let events: Vec<u8> = self.pending.drain(..end + 2).collect();
                // A call's stream ends with `done`, a process's events with `exit`.
                self.done_seen |=
                    events.split(|b| *b == b'\n').any(|line| line == b"event: done" || line == b"event: exit");
                return Ok(Some(Bytes::from(events)));
            }
            if self.pending.len() > self.cap {
                return Err(format!("it sent an event of more than {} bytes", self.cap));
            }
        }
    }
}

/// The answer for a peer that cannot serve the call now.
fn unavailable(owner: &Owner<'_>, why: &str) -> ApiError {
    let retry = owner.limits.answer_wait.as_secs().max(1);
    ApiError::new(
        ErrorCode::PeerUnavailable,
        "The daemon that owns what the call names is unavailable.",
        format!("the peer daemon {} that owns it: {why}", owner.node),
        format!("Retry after {retry} s (the Retry-After header); the peer may be restarting or overloaded."),
    )
    .with_fields(serde_json::json!({ "peer": owner.node }))
    .with_retry_after(retry)
}

fn too_large(owner: &Owner<'_>) -> ApiError {
    let cap = owner.limits.max_answer_bytes;
    ApiError::new(
        ErrorCode::PeerAnswerTooLarge,
        "The answer of the daemon that owns what the call names is too large to relay.",
        format!("the peer daemon {} answered with more than {cap} bytes", owner.node),
        "Ask for less at once (smaller files, less output), or call the daemon that owns it directly.",
    )
    .with_fields(serde_json::json!({ "peer": owner.node }))
}

/// An error with its causes (reqwest's own message hides them, "connection refused" among
/// them, in its source chain).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client receives of a peer's stream made of `chunks`.
    async fn relayed(chunks: Vec<&'static str>) -> String {
        let (client, limits, in_flight) = (reqwest::Client::new(), PeerLimits::default(), InFlight::default());
        let owner = Owner {
            node: "pod-1",
            base: "http://pod-1".into(),
            client: &client,
            limits: &limits,
            in_flight: &in_flight,
            tenant: "t",
        };
        let permit = in_flight.try_enter("pod-1", "t", 1).unwrap();
        let chunks = stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))).boxed();
        let parts: Vec<Bytes> = relayed_events(chunks, &owner, permit).map(|part| part.unwrap()).collect().await;
        String::from_utf8(parts.concat()).unwrap()
    }

    #[tokio::test]
    async fn events_pass_whole_and_a_stream_cut_before_done_ends_with_an_error() {
        let body = relayed(vec!["event: stdout\ndata: {\"te", "xt\":\"a\"}\n\n:\n\nevent: std"]).await;
        let (events, done) = body.split_once("event: done\ndata: ").expect("a final done");
        assert_eq!(events, "event: stdout\ndata: {\"text\":\"a\"}\n\n:\n\n", "the cut event is left out");
        let done: serde_json::Value = serde_json::from_str(done.trim_end()).unwrap();
        assert_eq!(
            (done["error_code"].as_str(), done["peer"].as_str()),
            (Some("Executor.PeerUnavailable"), Some("pod-1"))
        );
    }

    #[tokio::test]
    async fn a_stream_that_ends_with_done_is_relayed_as_it_is() {
        let whole = "event: stdout\ndata: {}\n\nevent: done\ndata: {\"status\":\"success\"}\n\n";
        assert_eq!(relayed(vec![&whole[..10], &whole[10..]]).await, whole);
    }
}
