//! What a run shows while it goes on, and its notebook-grade results: the chunks of output as
//! the code writes them and MIME bundles (a cell's value, each `display(...)`), handed to a
//! [`Tap`] that the caller holds.

use std::sync::{Arc, Mutex};

use sandbox::runner::{OutputSink, OutputStream, OutputTap};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use utoipa::ToSchema;

/// One displayed object as a notebook holds it: its representations keyed by MIME type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RichResult {
    /// True for the value of a cell's last expression (a notebook's `Out[n]`), false for what
    /// `display(...)` showed (and for figures shown or left open).
    pub is_main_result: bool,
    /// Representations by MIME type: `text/plain` (always, the object's repr), and as the
    /// object offers them `text/html`, `text/markdown`, `text/latex`, `image/png` and
    /// `image/jpeg` (base64), `image/svg+xml`, `application/json` (a JSON value),
    /// `application/javascript`, `application/pdf` (base64), and any other type an object's
    /// `_repr_mimebundle_` gives.
    #[schema(value_type = Object, example = json!({"text/plain": "42"}))]
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// What a run shows while it goes on, in the order it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// A chunk of stdout as the code wrote it (whole UTF-8 characters; within the output cap).
    Stdout(String),
    /// A chunk of stderr.
    Stderr(String),
    /// A result displayed (or a cell's value), also in the final answer's `results`.
    Result(RichResult),
}

/// Where a run's [`LiveEvent`]s go while it runs. A receiver that went away costs nothing:
/// the run goes on and its final result is returned (and recorded) as usual.
#[derive(Debug, Clone)]
pub struct Tap(pub UnboundedSender<LiveEvent>);

impl Tap {
    /// A tap and the receiver of its events.
    pub fn channel() -> (Tap, tokio::sync::mpsc::UnboundedReceiver<LiveEvent>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        (Tap(sender), receiver)
    }

    pub fn send(&self, event: LiveEvent) {
        let _ = self.0.send(event);
    }
}

impl From<UnboundedSender<LiveEvent>> for Tap {
    fn from(sender: UnboundedSender<LiveEvent>) -> Tap {
        Tap(sender)
    }
}

/// The sandbox's tap of a one-shot run's output, sending whole-character chunks to `tap`.
pub(crate) fn output_tap(tap: Option<Tap>) -> OutputTap {
    let output = OutputTap::default();
    if let Some(tap) = tap {
        output.set(Arc::new(TextSink { tap, streams: Default::default() }));
    }
    output
}

/// Forwards a run's output to a [`Tap`] as text.
struct TextSink {
    tap: Tap,
    /// Stdout's and stderr's characters not yet whole.
    streams: Mutex<[Utf8Chunks; 2]>,
}

impl TextSink {
    fn text(&self, stream: OutputStream, take: impl FnOnce(&mut Utf8Chunks) -> String) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let text = take(&mut streams[stream as usize]);
        if !text.is_empty() {
            self.tap.send(match stream {
                OutputStream::Stdout => LiveEvent::Stdout(text),
                OutputStream::Stderr => LiveEvent::Stderr(text),
            });
        }
    }
}

impl OutputSink for TextSink {
    fn chunk(&self, stream: OutputStream, bytes: &[u8]) {
        self.text(stream, |chunks| chunks.push(bytes));
    }

    fn end(&self, stream: OutputStream) {
        self.text(stream, Utf8Chunks::finish);
    }
}

/// Turns byte chunks of one stream into whole UTF-8 text: a character split between two
/// chunks waits for its end (an invalid sequence becomes U+FFFD).
#[derive(Debug, Default)]
pub(crate) struct Utf8Chunks {
    pending: Vec<u8>,
}

impl Utf8Chunks {
    /// The text of `bytes` (after what was pending) up to the last whole character.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let whole = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.pending.len(),
        };
        let rest = self.pending.split_off(whole);
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending = rest;
        text
    }

    /// What is left at the end of the stream.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_between_chunks_comes_whole() {
        let mut chunks = Utf8Chunks::default();
        let bytes = "né".as_bytes();
        assert_eq!(chunks.push(&bytes[..2]), "n");
        assert_eq!(chunks.push(&bytes[2..]), "é");
        assert_eq!(chunks.push(b"\xff a"), "\u{fffd} a");
        assert_eq!(chunks.push(&bytes[1..2]), "");
        assert_eq!(chunks.finish(), "\u{fffd}");
    }

    #[test]
    fn a_rich_result_serialises_as_a_mime_bundle() {
        let mut data = serde_json::Map::new();
        data.insert("text/plain".into(), "42".into());
        let json = serde_json::to_value(RichResult { is_main_result: true, data }).unwrap();
        assert_eq!(json, serde_json::json!({"is_main_result": true, "data": {"text/plain": "42"}}));
    }
}
