//! API token check: when a token is configured, every request except `GET /health`, `GET /ready` and `GET /`
//! must carry it as `Authorization: Bearer <token>` or `X-API-Key: <token>`. The E2B routes
//! (`/e2b/...`, and `/files` of E2B's signed file URLs) check credentials themselves, in E2B's way: the control plane's `X-API-KEY`
//! against the token, the sandbox plane's per-sandbox access tokens.
//!
//! Health and the root stay open because orchestrators and load balancers probe them without
//! credentials (the root tells only the service's name, version and links). Everything else,
//! including unknown paths and `/openapi.json`, answers 401 first, so an unauthenticated
//! caller learns nothing about the API.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ErrorCode};

pub const API_KEY_HEADER: HeaderName = HeaderName::from_static("x-api-key");

/// The expected token, kept only as its SHA-256 digest: comparing digests gives equal-length
/// inputs to the constant-time comparison, so neither the content nor the length of the token
/// leaks through response timing.
#[derive(Clone)]
pub struct ApiToken {
    digest: Arc<[u8; 32]>,
}

impl ApiToken {
    pub fn new(token: &str) -> Self {
        ApiToken { digest: Arc::new(Sha256::digest(token.as_bytes()).into()) }
    }

    /// True when `presented` is the token. An empty credential never matches, so a
    /// misconfigured empty token locks the API rather than opening it.
    pub(crate) fn matches(&self, presented: &str) -> bool {
        if presented.is_empty() {
            return false;
        }
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&*self.digest).into()
    }
}

/// Why a request was refused; the variants only shape the error detail.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Missing,
    Malformed(&'static str),
    Wrong,
}

pub async fn middleware(State(token): State<ApiToken>, req: Request, next: Next) -> Response {
    if is_open(req.method(), req.uri().path()) || is_e2b(req.uri().path()) {
        return next.run(req).await;
    }
    match check(&token, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => unauthorized(refusal),
    }
}

/// Only the probes (GET, and HEAD which axum serves with it) are open: the health and
/// readiness checks and the root, which load balancers probe.
fn is_open(method: &Method, path: &str) -> bool {
    matches!(path, "/health" | "/ready" | "/") && (method == Method::GET || method == Method::HEAD)
}

/// The E2B compatibility routes, which authenticate their callers themselves (`/files`: the
/// E2B SDKs' signed file URLs, or a sandbox's access token).
fn is_e2b(path: &str) -> bool {
    path == "/e2b" || path.starts_with("/e2b/") || path == "/files"
}

/// Accepts the request when any credential it carries is the token. Every credential is
/// compared, matching or not, so the answer's timing does not tell which header was right.
fn check(token: &ApiToken, headers: &HeaderMap) -> Result<(), Refusal> {
    let mut refusal = Refusal::Missing;
    let mut accepted = false;
    for value in headers.get_all(header::AUTHORIZATION) {
        match bearer_token(value) {
            Ok(presented) => accepted |= token.matches(presented),
            Err(why) => refusal = Refusal::Malformed(why),
        }
    }
    for value in headers.get_all(&API_KEY_HEADER) {
        match value.to_str() {
            Ok(presented) => accepted |= token.matches(presented.trim()),
            Err(_) => refusal = Refusal::Malformed("the X-API-Key header is not visible ASCII"),
        }
    }
    if accepted {
        return Ok(());
    }
    if refusal == Refusal::Missing
        && (headers.contains_key(header::AUTHORIZATION) || headers.contains_key(&API_KEY_HEADER))
    {
        refusal = Refusal::Wrong;
    }
    Err(refusal)
}

/// The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235).
fn bearer_token(value: &HeaderValue) -> Result<&str, &'static str> {
    let text = value.to_str().map_err(|_| "the Authorization header is not visible ASCII")?;
    let (scheme, token) = text.trim().split_once(' ').ok_or("the Authorization header is not `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the Authorization header's scheme is not Bearer");
    }
    Ok(token.trim())
}

fn unauthorized(refusal: Refusal) -> Response {
    let detail = match refusal {
        Refusal::Missing => "the request carries no Authorization: Bearer or X-API-Key header",
        Refusal::Malformed(why) => why,
        Refusal::Wrong => "the API token does not match",
    };
    let mut response = ApiError::new(
        ErrorCode::Unauthorized,
        "The request needs the executor's API token.",
        detail,
        "Send the token as `Authorization: Bearer <token>` or `X-API-Key: <token>`; \
         only GET /health and GET / are open without it.",
    )
    .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn the_token_is_accepted_in_either_header() {
        let token = ApiToken::new("s3cret");
        assert_eq!(check(&token, &headers(&[("authorization", b"Bearer s3cret")])), Ok(()));
        assert_eq!(check(&token, &headers(&[("authorization", b"bearer  s3cret ")])), Ok(()));
        assert_eq!(check(&token, &headers(&[("x-api-key", b"s3cret")])), Ok(()));
        let both = headers(&[("authorization", b"Basic abc"), ("x-api-key", b"s3cret")]);
        assert_eq!(check(&token, &both), Ok(()));
    }

    #[test]
    fn refusals_say_why() {
        let token = ApiToken::new("s3cret");
        assert_eq!(check(&token, &HeaderMap::new()), Err(Refusal::Missing));
        assert_eq!(check(&token, &headers(&[("x-api-key", b"s3cre")])), Err(Refusal::Wrong));
        assert_eq!(check(&token, &headers(&[("authorization", b"Bearer s3cret2")])), Err(Refusal::Wrong));
        assert!(matches!(check(&token, &headers(&[("authorization", b"s3cret")])), Err(Refusal::Malformed(_))));
        assert!(matches!(check(&token, &headers(&[("authorization", b"Basic s3cret")])), Err(Refusal::Malformed(_))));
        assert!(matches!(check(&token, &headers(&[("x-api-key", b"\xffs3cret")])), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn an_empty_token_matches_nothing() {
        let token = ApiToken::new("");
        assert!(!token.matches(""));
        assert_eq!(
            check(&token, &headers(&[("authorization", b"Bearer ")])),
            Err(Refusal::Malformed("the Authorization header is not `Bearer <token>`"))
        );
        assert_eq!(check(&token, &headers(&[("x-api-key", b"")])), Err(Refusal::Wrong));
    }

    #[test]
    fn only_the_probes_are_open() {
        assert!(is_open(&Method::GET, "/health"));
        assert!(is_open(&Method::GET, "/"));
        assert!(!is_open(&Method::POST, "/"));
        assert!(is_open(&Method::HEAD, "/health"));
        assert!(is_open(&Method::GET, "/ready"));
        assert!(!is_open(&Method::POST, "/ready"));
        assert!(!is_open(&Method::POST, "/health"));
        assert!(!is_open(&Method::GET, "/health/"));
        assert!(!is_open(&Method::GET, "/openapi.json"));
    }
}
