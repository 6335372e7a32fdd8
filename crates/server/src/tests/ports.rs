//! The ways into a session's ports, up to where a connection would be opened: which requests
//! the host names take, and the answers for what cannot be reached (E2B's edge errors, and
//! ours). The forwarding itself is tested in `crate::ports`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

use super::*;
use crate::ports::PortOptions;

const DOMAIN: &str = "sbx.example.test";
const TOKEN: &str = "t0ken-with-some-length";

async fn app_with_domain() -> TestApp {
    let options = AppOptions {
        api_token: Some(TOKEN.into()),
        ports: PortOptions::default().with_domain(DOMAIN),
        ..AppOptions::default()
    };
    test_app_with(options, Router::new()).await
}

fn with_host(path: &str, host: &str) -> Request<Body> {
    Request::get(path).header(header::HOST, host).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn a_host_under_the_domain_is_a_sandbox_port_and_never_the_api() {
    let app = app_with_domain().await;
    // No such sandbox: E2B's edge answer, whatever the path (an API path included).
    for path in ["/", "/health", "/session/create"] {
        let reply = app.send(with_host(path, &format!("8000-nosuch.{DOMAIN}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{path}");
        let expected = json!({"sandboxId": "nosuch", "code": 502, "message": "The sandbox was not found"});
        assert_eq!(reply.body, expected, "{path}");
    }
    // The envd port is the sandbox plane, which wants an access token.
    let reply = app.send(with_host("/health", &format!("49983-nosuch.{DOMAIN}:443"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let mut request = with_host("/health", &format!("49983-nosuch.{DOMAIN}"));
    request.headers_mut().insert("x-access-token", "x".parse().unwrap());
    assert_eq!(app.send(request).await.status, StatusCode::BAD_GATEWAY);
    // Any other host is the API's, with its token check.
    let (status, _, _) = app.send_raw(with_host("/", &format!("api.{DOMAIN}"))).await;
    assert_eq!(status, StatusCode::OK);
    let reply = app.send(with_host("/info", &format!("api.{DOMAIN}"))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_a_domain_no_host_is_taken() {
    let app = test_app().await;
    let (status, _, _) = app.send_raw(with_host("/", "8000-nosuch.sbx.example.test")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_e2b_path_form_answers_as_the_edge() {
    let app = app_with_domain().await;
    for path in ["/e2b/ports/nosuch/8000/a/b?c=d", "/e2b/ports/nosuch/8000/", "/e2b/ports/nosuch/8000"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{path}");
        assert_eq!(reply.body["message"], "The sandbox was not found", "{path}");
    }
    for port in ["0", "65536", "x", "-1"] {
        let reply = app.get(&format!("/e2b/ports/nosuch/{port}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{port}: {}", reply.body);
        assert_eq!(reply.body["code"], 400);
    }
}

#[tokio::test]
async fn our_path_form_wants_the_token_a_session_and_a_port() {
    let app = app_with_domain().await;
    let get = |path: &str, token: bool| {
        let mut request = Request::get(path).header("x-tenant-id", "t1");
        if token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        }
        request.body(Body::empty()).unwrap()
    };
    let reply = app.send(get("/session/abcdef012345/ports/8000/x", false)).await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "Executor.Unauthorized");
    let reply = app.send(get("/session/abcdef012345/ports/8000/x", true)).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    for bare in ["/session/abcdef012345/ports/8000", "/session/abcdef012345/ports/8000/"] {
        let reply = app.send(get(bare, true)).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    }
    let reply = app.send(get("/session/abcdef012345/ports/99999/x", true)).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
}
