//! `GET /executions/{id}` and `POST /execute` with `"async": true`, as far as they go without
//! an execution store (the test service has none).

use axum::http::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn an_unknown_execution_is_404() {
    let app = test_app().await;
    let reply = app.get("/executions/no-such-run_1.0").await;
    let detail = assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    assert_eq!(detail, "no execution no-such-run_1.0 is known");
}

#[tokio::test]
async fn an_id_outside_the_alphabet_is_400() {
    let app = test_app().await;
    let too_long = format!("/executions/{}", "a".repeat(129));
    for path in ["/executions/a%20b", "/executions/%C3%A9", "/executions/a:b", too_long.as_str()] {
        let reply = app.get(path).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
        assert!(reply.body["solution"].as_str().unwrap().contains("A-Z a-z 0-9"), "{path}");
    }
    // Not UTF-8 once decoded: axum's rejection, in our format.
    let reply = app.get("/executions/%FF").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
    let reply = app.get(&format!("/executions/{}", "a".repeat(128))).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
}

#[tokio::test]
async fn async_without_an_execution_store_is_500_and_says_so() {
    let app = test_app().await;
    let reply = app.post_json("/execute", json!({"code": "print(1)", "async": true}).to_string()).await;
    let detail = assert_error(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Executor.InternalError");
    assert!(detail.contains("execution store"), "{detail}");
    assert!(reply.body["description"].as_str().unwrap().contains("asynchronously"));
    assert!(reply.body["solution"].as_str().unwrap().contains("without \"async\""));
}

#[tokio::test]
async fn async_nvidia_requests_are_taken_the_same_way() {
    let app = test_app().await;
    let body = json!({"generated_code": "print(1)", "timeout": 5, "async": true});
    let reply = app.post_json("/execute", body.to_string()).await;
    let detail = assert_error(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Executor.InternalError");
    assert_eq!(reply.body["process_status"], "error");
    assert_eq!(reply.body["stderr"], detail);
}

#[tokio::test]
async fn async_is_validated_like_the_rest() {
    let app = test_app().await;
    let reply = app.post_json("/execute", json!({"code": "x", "async": "yes"}).to_string()).await;
    let detail = assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
    assert!(detail.starts_with("async: invalid type"), "{detail}");
    // An invalid request is refused before the missing store matters.
    let reply = app.post_json("/execute", json!({"code": "x", "async": true, "timeout": 0}).to_string()).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
}
