//! Cross-origin calls: a daemon answers browsers' preflights and cross-origin calls only for
//! the origins it is configured to allow (`EXECUTOR_CORS_ORIGINS`), none by default, so a web
//! page cannot read the answers (the E2B sandboxes and their access tokens among them) of a
//! daemon on the user's machine.

use crate::common::Daemon;

const ALLOWED: &str = "https://app.example";
const EVIL: &str = "https://evil.example";
const TOKEN: &str = "cors-test-token";

/// The `Access-Control-Allow-Origin` a browser would see for a preflight of `method` on
/// `path` from `origin`, and for the call itself (with the token when the daemon has one).
async fn allowed_origin(daemon: &Daemon, path: &str, method: &str, origin: &str) -> (Option<String>, Option<String>) {
    let url = format!("{}{path}", daemon.base);
    let preflight = daemon.client().request(reqwest::Method::OPTIONS, &url).header("Origin", origin);
    let preflight = preflight
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "authorization, content-type, x-api-key")
        .send()
        .await
        .unwrap();
    let request = daemon.client().request(method.parse().unwrap(), &url).header("Origin", origin).bearer_auth(TOKEN);
    let request = if method == "POST" { request.json(&serde_json::json!({"code": "1"})) } else { request };
    let answer = request.send().await.unwrap();
    let header =
        |r: &reqwest::Response| r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
    (header(&preflight), header(&answer))
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let daemon = Daemon::start_with(&[("SANDBOX_WARM_POOL", "0")]).await;
    for (path, method) in [("/e2b/sandboxes", "GET"), ("/e2b/sandboxes", "POST"), ("/sessions", "GET")] {
        let seen = allowed_origin(&daemon, path, method, EVIL).await;
        assert_eq!(seen, (None, None), "{method} {path}");
        let seen = allowed_origin(&daemon, path, method, ALLOWED).await;
        assert_eq!(seen, (None, None), "{method} {path}");
    }
}

#[tokio::test]
async fn only_the_configured_origins_are_allowed() {
    let env = [
        ("EXECUTOR_CORS_ORIGINS", "https://App.example/, http://localhost:3000"),
        ("EXECUTOR_API_TOKEN", TOKEN),
        ("SANDBOX_WARM_POOL", "0"),
    ];
    let daemon = Daemon::start_with(&env).await;
    for (path, method) in [("/e2b/sandboxes", "GET"), ("/sessions", "GET"), ("/execute", "POST")] {
        let seen = allowed_origin(&daemon, path, method, ALLOWED).await;
        // The preflight needs no token; the call itself is answered for the allowed origin.
        assert_eq!(seen, (Some(ALLOWED.to_owned()), Some(ALLOWED.to_owned())), "{method} {path}");
        let seen = allowed_origin(&daemon, path, method, "http://localhost:3000").await;
        assert_eq!(seen.0.as_deref(), Some("http://localhost:3000"), "{method} {path}");
        let seen = allowed_origin(&daemon, path, method, EVIL).await;
        assert_eq!(seen, (None, None), "{method} {path}");
    }
}
