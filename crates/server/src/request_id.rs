//! The request id: taken from `X-Request-ID` when the caller sent a usable one, generated
//! otherwise, echoed on every response and written into every error body and log span.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-chosen id we keep; longer ones are replaced, not cut, so logs never show a
/// truncated id the caller does not know.
const MAX_LEN: usize = 128;

/// The id of the request being handled, also stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

tokio::task_local! {
    // Task-local so that errors rendered anywhere below the middleware (extractor rejections,
    // fallbacks, the panic handler) carry the id without threading it through every call.
    static CURRENT: String;
}

/// The current request's id; a fresh one outside a request (never empty).
pub fn current() -> String {
    CURRENT.try_with(Clone::clone).unwrap_or_else(|_| generate())
}

/// `future` with the current request's id, for a task of its own that outlives the handler.
pub fn scoped<F: std::future::Future>(future: F) -> impl std::future::Future<Output = F::Output> {
    CURRENT.scope(current(), future)
}

pub fn generate() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

/// The caller's id when it is 1 to 128 visible ASCII characters (so it is safe in a header and
/// a log line), `None` otherwise.
fn from_caller(value: Option<&HeaderValue>) -> Option<String> {
    let id = value?.to_str().ok()?;
    let usable = !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| id.to_owned())
}

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let id = from_caller(req.headers().get(&HEADER)).unwrap_or_else(generate);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = CURRENT.scope(id.clone(), next.run(req)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_are_kept_only_when_safe() {
        let header = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(from_caller(Some(&header("abc-123_X"))), Some("abc-123_X".into()));
        assert_eq!(from_caller(Some(&header(&"a".repeat(128)))).map(|s| s.len()), Some(128));
        assert_eq!(from_caller(Some(&header(&"a".repeat(129)))), None);
        assert_eq!(from_caller(Some(&header("has space"))), None);
        assert_eq!(from_caller(Some(&header(""))), None);
        assert_eq!(from_caller(None), None);
    }

    #[test]
    fn generated_ids_are_prefixed_uuids() {
        let id = generate();
        assert_eq!(id.len(), 4 + 32);
        assert!(id.starts_with("req_"));
    }
}
