//! The streamed form of `POST /execute` and `POST /session/execute`: asked for with
//! `Accept: text/event-stream`, the answer is server-sent events. `stdout` and `stderr`
//! carry `{"text"}` chunks as the code writes them, `result` a rich result as it is
//! displayed, and one final `done` the JSON the plain answer would have had (an error's body
//! when the call failed once the stream had begun: its `error_code` says which). The call
//! runs in a task of its own: a client that goes away does not stop it, and its result is
//! recorded (and delivered) as usual.

use std::convert::Infallible;
use std::future::Future;

use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use executor::LiveEvent;
#[cfg(doc)]
use executor::Tap;
use futures::stream::{self, Stream};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::request_id;

/// A streamed answer's body (`text/event-stream`): `event: stdout` and `event: stderr` with
/// data `{"text": "..."}` for each chunk of output as the code writes it (within the output
/// cap), `event: result` with a `RichResult` for each result displayed (session cells), then
/// one `event: done` whose data is the JSON the plain answer would have had (or, when the
/// call failed after the stream began, the error's body: its `error_code` says which).
/// Comment lines keep a silent stream alive.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, example = "event: stdout\ndata: {\"text\":\"waiting\\n\"}\n\nevent: done\ndata: {\"status\":\"success\",...}\n\n")]
pub struct EventStream(#[allow(dead_code)] String); // only its schema is used

/// The media type of the streamed answers.
pub const EVENT_STREAM: &str = "text/event-stream";

/// Whether the caller asked for server-sent events (its `Accept` names `text/event-stream`).
pub fn wanted(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|accept| {
        accept.split(',').any(|part| part.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(EVENT_STREAM))
    })
}

/// Answers with the `events` of a call (the receiver of its [`Tap`]): `running` runs in a
/// task of its own (with the request's id) to its end, whoever still listens; its value (or
/// its error's body) is the final `done` event.
pub fn respond<F>(events: mpsc::UnboundedReceiver<LiveEvent>, running: F) -> Response
where
    F: Future<Output = Result<Value, ApiError>> + Send + 'static,
{
    let (done, finished) = oneshot::channel();
    tokio::spawn(request_id::scoped(async move {
        let body = match running.await {
            Ok(body) => body,
            Err(err) => err.logged_body(),
        };
        let _ = done.send(body);
    }));
    let live = Live { events, finished: Some(finished), done: None };
    Sse::new(events_of(live)).keep_alive(KeepAlive::default()).into_response()
}

/// What the stream still has to say.
struct Live {
    events: mpsc::UnboundedReceiver<LiveEvent>,
    /// The call's end, until it came.
    finished: Option<oneshot::Receiver<Value>>,
    /// The final body, once the call ended: sent after the events left.
    done: Option<Value>,
}

fn events_of(live: Live) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(Some(live), |live| async move {
        let mut live = live?;
        let event = live.next().await;
        Some((Ok(event.0), event.1.then_some(live)))
    })
}

impl Live {
    /// The next event, and whether more follow.
    async fn next(&mut self) -> (Event, bool) {
        loop {
            if let Some(body) = &self.done {
                // Every event the call sent before it ended is queued by now.
                return match self.events.try_recv() {
                    Ok(event) => (event_of(event), true),
                    Err(_) => (json_event("done", body), false),
                };
            }
            let Some(finished) = self.finished.as_mut() else { return (json_event("done", &Value::Null), false) };
            let ended = tokio::select! {
                biased;
                event = self.events.recv() => match event {
                    Some(event) => return (event_of(event), true),
                    // The call let its tap go: its end is near.
                    None => None,
                },
                body = &mut *finished => Some(body),
            };
            let body = match ended {
                Some(body) => body,
                None => finished.await,
            };
            self.done = Some(body.unwrap_or(Value::Null));
            self.finished = None;
        }
    }
}

/// The JSON of a plain answer's body.
pub fn body_of<T: serde::Serialize>(answer: &T) -> Result<Value, ApiError> {
    serde_json::to_value(answer).map_err(|e| ApiError::internal(format!("cannot serialise the answer: {e}")))
}

fn event_of(event: LiveEvent) -> Event {
    match event {
        LiveEvent::Stdout(text) => json_event("stdout", &serde_json::json!({ "text": text })),
        LiveEvent::Stderr(text) => json_event("stderr", &serde_json::json!({ "text": text })),
        LiveEvent::Result(result) => json_event("result", &serde_json::to_value(result).unwrap_or(Value::Null)),
    }
}

fn json_event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn event_streams_are_asked_for_by_accept() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
            wanted(&headers)
        };
        assert!(with("text/event-stream"));
        assert!(with("application/json, Text/Event-Stream;q=0.9"));
        assert!(!with("application/json"));
        assert!(!wanted(&HeaderMap::new()));
    }
}
