//! One HTTP call to the control plane and what its answer means for the caller.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Serialize;

use crate::backoff::parse_retry_after;
use crate::Deliverer;

/// How much of an error answer is kept for the log and the dead letter.
const EXCERPT_CHARS: usize = 512;
/// An answer's body is read (so its connection can be reused) up to this much.
const MAX_BODY_READ: usize = 64 * 1024;

/// What a call's outcome means.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// 2xx: the control plane has it (201 first time, 200 for a duplicate).
    Delivered { status: u16 },
    /// Worth trying again: 408, 429, 5xx, 3xx, a timeout or a connection error.
    /// `unreachable`: the control plane could not take it at all (connection error, timeout, 5xx).
    Retry { reason: String, retry_after: Option<Duration>, unreachable: bool },
    /// Any other 4xx: sending the same request again cannot succeed.
    Reject { status: u16, reason: String },
}

/// The meaning of an HTTP answer.
pub(crate) fn classify(status: StatusCode, retry_after: Option<Duration>, excerpt: &str) -> Verdict {
    let code = status.as_u16();
    let reason = if excerpt.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {excerpt}") };
    match code {
        200..=299 => Verdict::Delivered { status: code },
        408 | 429 => Verdict::Retry { reason, retry_after, unreachable: false },
        500..=599 => Verdict::Retry { reason, retry_after, unreachable: true },
        // Redirects are not followed (a POST would turn into a GET); one usually means a proxy
        // or ingress in flux or misconfigured, which an operator can fix within max_age.
        300..=399 => Verdict::Retry { reason, retry_after, unreachable: false },
        _ => Verdict::Reject { status: code, reason },
    }
}

impl Deliverer {
    /// POSTs `body` to `url`; records the round trip's duration under `kind`.
    pub(crate) async fn post(
        &self,
        kind: &'static str,
        url: Url,
        body: &(impl Serialize + ?Sized),
        idempotency_key: Option<&str>,
        timeout: Option<Duration>,
    ) -> Verdict {
        let started = Instant::now();
        let verdict = self.send(url, body, idempotency_key, timeout).await;
        metrics::histogram!("sandbox_callback_duration_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        verdict
    }

    async fn send(
        &self,
        url: Url,
        body: &(impl Serialize + ?Sized),
        idempotency_key: Option<&str>,
        timeout: Option<Duration>,
    ) -> Verdict {
        let mut request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(serde_json::to_vec(body).unwrap_or_default());
        if let Some(token) = &self.config.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return transport_failure(&e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Read the answer to its end, even a success's, so the connection goes back to the
        // pool for the next delivery instead of being closed.
        let mut answer = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if answer.len() < MAX_BODY_READ => answer.extend_from_slice(&chunk),
                Ok(Some(_)) => break,
                Ok(None) => break,
                // The status line counts: a 2xx whose body broke off was still accepted.
                Err(_) => break,
            }
        }
        let excerpt = if status.is_success() { String::new() } else { excerpt(&answer) };
        classify(status, retry_after, &excerpt)
    }
}

fn transport_failure(e: &reqwest::Error) -> Verdict {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // reqwest's Display hides the cause (e.g. "connection refused") in its source chain.
    let mut reason = format!("{what}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    Verdict::Retry { reason, retry_after: None, unreachable: true }
}

/// The start of an answer's body on one line, for a log line or a dead letter.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = out.char_indices().nth(EXCERPT_CHARS) {
        out.truncate(cut);
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(code: u16) -> Verdict {
        classify(StatusCode::from_u16(code).unwrap(), None, "x")
    }

    #[test]
    fn classification_table() {
        for code in [200, 201, 202, 204] {
            assert_eq!(verdict(code), Verdict::Delivered { status: code });
        }
        for code in [408, 429, 500, 502, 503, 504, 301, 307] {
            assert!(matches!(verdict(code), Verdict::Retry { .. }), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 410, 413, 422] {
            assert!(matches!(verdict(code), Verdict::Reject { status, .. } if status == code), "{code}");
        }
        assert!(matches!(verdict(503), Verdict::Retry { unreachable: true, .. }));
        assert!(matches!(verdict(429), Verdict::Retry { unreachable: false, .. }));
    }

    #[test]
    fn excerpt_is_one_bounded_line() {
        assert_eq!(excerpt(b"{\"detail\":\n  \"bad\"}"), "{\"detail\": \"bad\"}");
        let long = "é".repeat(2000);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS + 1);
    }
}
