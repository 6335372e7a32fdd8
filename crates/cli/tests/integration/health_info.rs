//! GET /health, GET /info and the OpenAPI document, through the real daemon.

use crate::common;
use crate::common::Daemon;

#[tokio::test]
async fn health_reports_the_seed_fields() {
    let d = Daemon::start().await;
    let r = d.get("/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "healthy");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(r.body["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(r.body["active_executions"], 0);
}

#[tokio::test]
async fn health_is_503_with_a_reason_when_the_sandbox_cannot_start() {
    // An interpreter that does not exist makes the startup self-test fail.
    let d = Daemon::start_with(&[("SANDBOX_BASH", "/nonexistent/bash")]).await;
    let r = d.get("/health").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["status"], "unhealthy");
    assert!(r.body["reason"].as_str().unwrap().contains("/nonexistent/bash"), "{}", r.body);
    assert_eq!(r.body["error_code"], "Executor.Unhealthy");
    // Runs fail closed: the code is never run outside a working sandbox.
    let r = d.post("/execute", &serde_json::json!({"code": "echo ran", "language": "shell"})).await;
    assert_eq!(common::assert_error_body(&r, 500), "Executor.SandboxError");
    assert!(r.body["error_detail"].as_str().unwrap().contains("/nonexistent/bash"), "{}", r.body);
}

#[tokio::test]
async fn info_lists_layers_languages_and_limits() {
    let d = Daemon::start().await;
    let r = d.get("/info").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["isolation"]["mechanism"], "linux-namespaces");
    let layers = r.body["isolation"]["layers"].as_array().unwrap();
    for name in ["namespace:user", "namespace:pid", "namespace:network", "capabilities", "no_new_privs", "seccomp"] {
        let layer = layers.iter().find(|l| l["name"] == name).unwrap_or_else(|| panic!("no layer {name}"));
        assert!(layer["active"].is_boolean() && layer["detail"].is_string());
    }
    let languages: Vec<&str> =
        r.body["languages"].as_array().unwrap().iter().map(|l| l["language"].as_str().unwrap()).collect();
    assert_eq!(languages, ["python", "javascript", "shell"]);
    assert!(r.body["languages"][0]["version"].as_str().unwrap().starts_with("Python 3"));
    assert_eq!(r.body["limits"]["max_timeout_secs"], 3600.0);
    assert_eq!(r.body["platform"]["os"], "linux");
}

#[tokio::test]
async fn openapi_document_is_served_and_matches_the_committed_one() {
    // The committed document is that of a daemon with the defaults and a token.
    let d = Daemon::start_with(&[("EXECUTOR_API_TOKEN", "t0ken")]).await;
    let url = format!("{}/openapi.json", d.base);
    let reply = d.client().get(url).bearer_auth("t0ken").send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let r = common::Response { status: 200, headers: reply.headers().clone(), body: reply.json().await.unwrap() };
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/execute", "/health", "/info", "/openapi.json"] {
        assert!(r.body["paths"].get(path).is_some(), "the document lacks {path}");
    }
    let committed: serde_json::Value =
        serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")))
            .expect("docs/openapi.json parses");
    assert_eq!(r.body, committed, "the served document drifted from docs/openapi.json; regenerate it with UPDATE_OPENAPI=1 cargo test -p server --lib openapi");
}

#[tokio::test]
async fn the_root_names_the_service_and_links_health_and_openapi() {
    let d = Daemon::start().await;
    let r = d.get("/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "sandbox-executor", "{}", r.body);
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"), "{}", r.body);
    for (link, status) in [("health", 200), ("openapi", 200), ("info", 200)] {
        let path = r.body["links"][link].as_str().unwrap_or_else(|| panic!("no link {link}: {}", r.body));
        assert_eq!(d.get(path).await.status, status, "{link}: {path}");
    }
    let doc = d.get("/openapi.json").await;
    assert!(doc.body["paths"]["/"]["get"].is_object(), "GET / is not in the OpenAPI document");
}

#[tokio::test]
async fn the_root_is_open_like_health_when_the_daemon_has_a_token() {
    let d = Daemon::start_with(&[("EXECUTOR_API_TOKEN", "root-probe-token-0123456789")]).await;
    let r = d.get("/").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "sandbox-executor");
    assert_eq!(common::assert_error_body(&d.get("/info").await, 401), "Executor.Unauthorized");
}
