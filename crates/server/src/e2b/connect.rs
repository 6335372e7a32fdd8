//! The Connect protocol with the JSON codec, as the envd clients speak it: unary calls (a JSON
//! body each way) and server streams (5-byte envelopes, then one end-of-stream envelope).

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::error::ConnectError;

/// Flag of the envelope that ends a stream.
const END_STREAM: u8 = 0x02;
/// Flag of a compressed envelope (never sent by the clients: compression is off).
const COMPRESSED: u8 = 0x01;

/// What a stream's producer sends: messages, then how the stream ended.
pub enum Item {
    Message(Value),
    End(Option<ConnectError>),
    /// The stream breaks off without an end (as when the sandbox's host is gone): the
    /// clients then ask whether the sandbox still runs.
    Abort(&'static str),
}

/// The request message: the body of a unary call, or the first envelope of a streaming one.
pub fn request_message(headers: &HeaderMap, body: &Bytes) -> Result<Value, ConnectError> {
    let streaming = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/connect+"));
    let payload: &[u8] = if streaming {
        if body.len() < 5 {
            return Err(ConnectError::invalid("the request is not a Connect envelope"));
        }
        if body[0] & COMPRESSED != 0 {
            return Err(ConnectError::new("unimplemented", "compressed messages are not supported"));
        }
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        body.get(5..5 + len).ok_or_else(|| ConnectError::invalid("the request envelope is cut short"))?
    } else {
        body
    };
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| ConnectError::invalid(format!("the request is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ConnectError::invalid("the request message is not a JSON object"));
    }
    Ok(value)
}

/// Every message of a client stream (the whole body, read before answering).
pub fn request_messages(headers: &HeaderMap, body: &Bytes) -> Result<Vec<Value>, ConnectError> {
    let mut messages = Vec::new();
    let mut rest: &[u8] = body;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let end = 5 + len;
        if rest.len() < end {
            return Err(ConnectError::invalid("a request envelope is cut short"));
        }
        if rest[0] & END_STREAM == 0 {
            messages.push(request_message(headers, &Bytes::copy_from_slice(&rest[..end]))?);
        }
        rest = &rest[end..];
    }
    Ok(messages)
}

/// A unary call's answer.
pub fn unary(message: Value) -> Response {
    let mut response = (StatusCode::OK, message.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn envelope(flags: u8, message: &Value) -> Bytes {
    let json = message.to_string().into_bytes();
    let mut out = Vec::with_capacity(5 + json.len());
    out.push(flags);
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    Bytes::from(out)
}

fn end_of_stream(error: Option<ConnectError>) -> Bytes {
    let message = match error {
        Some(e) => json!({ "error": e.body() }),
        None => json!({}),
    };
    envelope(END_STREAM, &message)
}

/// A server stream made of what `rx` receives; the stream always ends with one end-of-stream
/// envelope (a producer gone without saying how ends it as a success).
pub fn stream(rx: mpsc::Receiver<Item>) -> Response {
    let frames = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        let frame = match rx.recv().await {
            Some(Item::Message(m)) => return Some((Ok(envelope(0, &m)), Some(rx))),
            Some(Item::End(error)) => end_of_stream(error),
            Some(Item::Abort(why)) => return Some((Err(std::io::Error::other(why)), None)),
            None => end_of_stream(None),
        };
        Some((Ok(frame), None))
    });
    let mut response = Response::new(Body::from_stream(frames));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/connect+json"));
    response
}

/// A stream that fails at once (the clients read errors of streams from the end envelope).
pub fn failed_stream(error: ConnectError) -> Response {
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(Item::End(Some(error)));
    stream(rx)
}
