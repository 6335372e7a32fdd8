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
use serde_json::value::RawValue;
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
    F: Future<Output = Result<Box<RawValue>, ApiError>> + Send + 'static,
{
    let (done, finished) = oneshot::channel();
    tokio::spawn(request_id::scoped(async move {
        let body = match running.await {
            Ok(body) => body,
            Err(err) => raw(&err.logged_body()),
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
    finished: Option<oneshot::Receiver<Box<RawValue>>>,
    /// The final body, once the call ended: sent after the events left.
    done: Option<Box<RawValue>>,
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
                    Err(_) => (Event::default().event("done").data(body.get()), false),
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
            self.done = Some(body.unwrap_or_else(|_| raw(&Value::Null)));
            self.finished = None;
        }
    }
}

/// The JSON text of a plain answer's body, byte for byte (never through a `Value`, which
/// would round big integers and sort keys).
pub fn body_of<T: serde::Serialize>(answer: &T) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(answer).map_err(|e| ApiError::internal(format!("cannot serialise the answer: {e}")))
}

fn raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_default()
}

fn event_of(event: LiveEvent) -> Event {
    match event {
        LiveEvent::Stdout(text) => json_event("stdout", &serde_json::json!({ "text": text })),
        LiveEvent::Stderr(text) => json_event("stderr", &serde_json::json!({ "text": text })),
        LiveEvent::Result(result) => json_event("result", &serde_json::to_value(result).unwrap_or(Value::Null)),
    }
}

/// A server-sent event named `name` whose data is `data`'s JSON.
pub fn json_event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use executor::{RichResult, Tap};

    /// The body of a streamed answer, once the call ended.
    async fn body_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn every_event_of_the_call_comes_before_done() {
        let (tap, events) = Tap::channel();
        // A tap that outlives the call's end: done waits for nothing more than the call.
        let kept = tap.clone();
        let (release, released) = oneshot::channel::<()>();
        let response = respond(events, async move {
            tap.send(LiveEvent::Stdout("a\n".into()));
            released.await.unwrap();
            tap.send(LiveEvent::Stderr("b".into()));
            let data = serde_json::Map::from_iter([("text/plain".to_string(), Value::from("42"))]);
            tap.send(LiveEvent::Result(RichResult { is_main_result: true, data }));
            super::body_of(&serde_json::json!({"status": "success"}))
        });
        release.send(()).unwrap();
        let body = body_of(response).await;
        drop(kept);
        let expected = "event: stdout\ndata: {\"text\":\"a\\n\"}\n\n\
                        event: stderr\ndata: {\"text\":\"b\"}\n\n\
                        event: result\ndata: {\"data\":{\"text/plain\":\"42\"},\"is_main_result\":true}\n\n\
                        event: done\ndata: {\"status\":\"success\"}\n\n";
        assert_eq!(body, expected);
    }

    #[tokio::test]
    async fn a_call_that_fails_once_streaming_ends_with_its_error_body() {
        let (tap, events) = Tap::channel();
        let response = respond(events, async move {
            drop(tap);
            Err(ApiError::internal("the interpreter could not start"))
        });
        let body = body_of(response).await;
        let done = body.strip_prefix("event: done\ndata: ").expect("only done").trim_end();
        let done: Value = serde_json::from_str(done).unwrap();
        assert_eq!(done["error_code"], "Executor.InternalError", "{done}");
        assert_eq!(done["error_detail"], "the interpreter could not start", "{done}");
    }

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
