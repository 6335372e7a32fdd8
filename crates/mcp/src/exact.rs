//! The exact text of a result in a tool's structured content. rmcp holds structured content
//! as a `serde_json::Value`, which cannot keep a handler's `10**30` or its key order; the
//! answer the API gave has both. A tool notes the pair (the value's own compact text, the
//! API's text) in the call's [`Splices`], and the transport, as it writes the JSON-RPC
//! message, puts the API's text in place of the value's: the structured content is then the
//! API's answer byte for byte. Where no transport splices, the value goes out as it is.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// At most this many results wait for their message at once (a call whose message is never
/// written, as when its client went away, makes room for later ones).
const MAX_PENDING: usize = 32;

/// Results waiting for their message to be written: one per Streamable HTTP request, one per
/// stdio session.
#[derive(Clone, Default)]
pub struct Splices(Arc<Mutex<Vec<(String, String)>>>);

impl Splices {
    /// Notes that `value`, written compactly, is to be `exact` in the message; nothing when
    /// they are the same text already.
    pub fn note(&self, value: &Value, exact: &str) {
        let written = value.to_string();
        if written == exact {
            return;
        }
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() == MAX_PENDING {
            pending.remove(0);
        }
        pending.push((written, exact.to_owned()));
    }

    /// Whether a result waits.
    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }

    /// `message` with each waiting result's exact text in place of its value's (each once,
    /// and then no longer waiting).
    pub fn apply(&self, message: String) -> String {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if pending.is_empty() {
            return message;
        }
        let mut message = message;
        pending.retain(|(written, exact)| match message.find(written.as_str()) {
            Some(at) => {
                message.replace_range(at..at + written.len(), exact);
                false
            }
            None => true,
        });
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noted_value_is_written_as_its_exact_text_once() {
        let exact = r#"{"b":1000000000000000000000000000000,"a":18446744073709551617}"#;
        let value: Value = serde_json::from_str(exact).unwrap();
        let splices = Splices::default();
        splices.note(&value, exact);
        let message = serde_json::json!({"result": {"structuredContent": value}}).to_string();
        let written = splices.apply(message.clone());
        assert_eq!(written, format!(r#"{{"result":{{"structuredContent":{exact}}}}}"#));
        assert!(splices.is_empty());
        assert_eq!(splices.apply(message.clone()), message, "once only");
    }

    #[test]
    fn a_value_already_exact_waits_for_nothing() {
        let splices = Splices::default();
        splices.note(&serde_json::json!({"a": 1}), r#"{"a":1}"#);
        assert!(splices.is_empty());
    }
}
