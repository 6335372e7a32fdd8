//! The API token: every endpoint but `GET /health` refuses a request without it.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use super::*;

const TOKEN: &str = "t0ken-with-some-length";
const UNAUTHORIZED: &str = "Executor.Unauthorized";

async fn guarded_app() -> TestApp {
    let options = AppOptions { api_token: Some(TOKEN.into()), ..AppOptions::default() };
    test_app_with(options, Router::new()).await
}

fn request(method: &str, path: &str, credential: Option<(&str, &str)>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if method == "POST" {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    if let Some((name, value)) = credential {
        builder = builder.header(name, value);
    }
    let body = if method == "POST" { Body::from(r#"{"language": "cobol", "code": "x"}"#) } else { Body::empty() };
    builder.body(body).unwrap()
}

#[track_caller]
fn assert_unauthorized(reply: &Reply) -> String {
    let detail = assert_error(reply, StatusCode::UNAUTHORIZED, UNAUTHORIZED);
    assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(!detail.contains(TOKEN), "the token never appears in an answer");
    detail
}

const GUARDED: [(&str, &str); 6] = [
    ("POST", "/execute"),
    ("GET", "/info"),
    ("GET", "/metrics"),
    ("GET", "/executions/x"),
    ("GET", "/openapi.json"),
    ("GET", "/no-such-path"),
];

#[tokio::test]
async fn every_endpoint_but_health_needs_the_token() {
    let app = guarded_app().await;
    for (method, path) in GUARDED {
        let detail = assert_unauthorized(&app.send(request(method, path, None)).await);
        assert!(detail.contains("no Authorization"), "{method} {path}: {detail}");
    }
}

#[tokio::test]
async fn a_wrong_token_is_refused_in_either_header() {
    let app = guarded_app().await;
    let near_misses = [
        ("authorization", "Bearer t0ken-with-some-lengtH".to_owned()),
        ("authorization", format!("Bearer {TOKEN}x")),
        ("authorization", "Bearer t0ken".to_owned()),
        ("x-api-key", "wrong".to_owned()),
        ("x-api-key", format!("{TOKEN} {TOKEN}")),
    ];
    for (method, path) in GUARDED {
        for (name, value) in &near_misses {
            let reply = app.send(request(method, path, Some((name, value)))).await;
            let detail = assert_unauthorized(&reply);
            assert_eq!(detail, "the API token does not match", "{method} {path} {name}: {value}");
        }
    }
}

#[tokio::test]
async fn malformed_credentials_are_401_not_400() {
    let app = guarded_app().await;
    let malformed = [("authorization", TOKEN), ("authorization", "Basic dXNlcjpwYXNz"), ("authorization", "Bearer")];
    for (name, value) in malformed {
        let reply = app.send(request("GET", "/info", Some((name, value)))).await;
        assert_unauthorized(&reply);
    }
    let not_ascii = Request::get("/info").header("x-api-key", &b"\xfft0ken"[..]).body(Body::empty()).unwrap();
    assert_unauthorized(&app.send(not_ascii).await);
}

#[tokio::test]
async fn both_header_styles_are_accepted() {
    let app = guarded_app().await;
    let bearer = format!("Bearer {TOKEN}");
    let credentials = [("authorization", bearer.as_str()), ("x-api-key", TOKEN)];
    for credential in credentials {
        let reply = app.send(request("GET", "/info", Some(credential))).await;
        assert_eq!(reply.status, StatusCode::OK, "{credential:?}: {}", reply.body);
        // Past the token check, a request meets the route's own checks.
        let reply = app.send(request("POST", "/execute", Some(credential))).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
        let reply = app.send(request("GET", "/executions/x", Some(credential))).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
        let (status, _, _) = app.send_raw(request("GET", "/metrics", Some(credential))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let lowercase_scheme = format!("bearer {TOKEN}");
    let reply = app.send(request("GET", "/info", Some(("authorization", &lowercase_scheme)))).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn health_is_open() {
    let app = guarded_app().await;
    // The test service is unhealthy (see `service()`): a 503, but not a 401.
    let reply = app.get("/health").await;
    assert_error(&reply, StatusCode::SERVICE_UNAVAILABLE, "Executor.Unhealthy");
    let reply = app.send(request("GET", "/health", Some(("x-api-key", "wrong")))).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    // Only the probe is open: other methods on its path still need the token.
    assert_unauthorized(&app.send(request("POST", "/health", None)).await);
}

#[tokio::test]
async fn without_a_configured_token_nothing_is_checked() {
    let app = test_app().await;
    let reply = app.get("/info").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn an_empty_configured_token_locks_rather_than_opens() {
    let options = AppOptions { api_token: Some(String::new()), ..AppOptions::default() };
    let app = test_app_with(options, Router::new()).await;
    assert_unauthorized(&app.get("/info").await);
    assert_unauthorized(&app.send(request("GET", "/info", Some(("x-api-key", "")))).await);
    assert_unauthorized(&app.send(request("GET", "/info", Some(("authorization", "Bearer ")))).await);
}
