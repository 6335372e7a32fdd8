//! Error answers that do not depend on the route: our format, never the framework's.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;

use super::*;

#[tokio::test]
async fn unknown_path_is_404_in_our_format() {
    let app = test_app().await;
    let reply = app.get("/nope").await;
    let detail = assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    assert_eq!(detail, "GET /nope does not exist");
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = test_app().await;
    let reply = app.get("/execute").await;
    assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "Executor.MethodNotAllowed");
    assert_eq!(reply.headers[header::ALLOW], "POST");
    let reply = app.post_json("/health", "{}").await;
    assert_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "Executor.MethodNotAllowed");
}

#[tokio::test]
async fn request_id_is_echoed_when_usable_and_generated_otherwise() {
    let app = test_app().await;
    let with_id = |id: &str| Request::get("/nope").header("x-request-id", id).body(Body::empty()).unwrap();
    let reply = app.send(with_id("trace-42")).await;
    assert_eq!(reply.body["request_id"], "trace-42");
    assert_eq!(reply.headers["x-request-id"], "trace-42");

    let reply = app.send(with_id(&"x".repeat(129))).await;
    let generated = reply.body["request_id"].as_str().unwrap();
    assert!(generated.starts_with("req_"), "{generated}");
    assert_eq!(reply.headers["x-request-id"], generated);

    let reply = app.get("/health").await;
    assert!(reply.headers["x-request-id"].to_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn a_panicking_handler_is_500_in_our_format() {
    async fn boom() -> &'static str {
        panic!("secret internals")
    }
    let boom = Router::new().route("/boom", get(boom));
    let app = test_app_with(AppOptions::default(), boom).await;
    let reply = app.get("/boom").await;
    let detail = assert_error(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Executor.InternalError");
    assert!(!detail.contains("secret"), "the panic message stays in the log: {detail}");
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let app = test_app().await;
    let request = Request::post("/execute")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"code": "print(1)"}"#))
        .unwrap();
    let reply = app.send(request).await;
    assert_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Executor.UnsupportedMediaType");

    let request = Request::post("/execute").body(Body::from("{}")).unwrap();
    let reply = app.send(request).await;
    let detail = assert_error(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Executor.UnsupportedMediaType");
    assert!(detail.contains("no Content-Type"), "{detail}");
}

#[tokio::test]
async fn malformed_json_is_400_with_position() {
    let app = test_app().await;
    let reply = app.post_json("/execute", "{\"code\": \"print(1)\",\n}").await;
    let detail = assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
    assert!(detail.contains("line 2 column 1"), "{detail}");
    assert!(reply.body.get("process_status").is_none(), "not a dialect request");

    let reply = app.post_json("/execute", "").await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let options = AppOptions { max_body_bytes: 64, ..AppOptions::default() };
    let app = test_app_with(options, Router::new()).await;
    let body = format!(r#"{{"code": "{}"}}"#, "x".repeat(100));
    let reply = app.post_json("/execute", body).await;
    let detail = assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "Executor.PayloadTooLarge");
    assert!(detail.contains("64 bytes"), "{detail}");
}

#[tokio::test]
async fn code_over_the_policy_cap_is_413() {
    let app = test_app().await;
    let code = "x".repeat(LimitPolicy::default().max_code_bytes as usize + 1);
    let reply = app.post_json("/execute", serde_json::json!({ "code": code }).to_string()).await;
    assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "Executor.PayloadTooLarge");
}

#[tokio::test]
async fn openapi_document_is_served() {
    let app = test_app().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["openapi"].as_str().unwrap().starts_with("3."));
    assert!(reply.body["paths"]["/execute"]["post"].is_object());
    assert!(reply.body["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn out_of_descriptors_is_503_with_retry_after() {
    use axum::response::IntoResponse;
    let exhausted = executor::ExecuteError::ResourcesExhausted("writing the request's files: EMFILE".into());
    let reply = crate::error::ApiError::from(exhausted).into_response();
    assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.headers()[header::RETRY_AFTER], "1");
    let body = axum::body::to_bytes(reply.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error_code"], "Executor.ResourcesExhausted", "{body}");
    assert!(body["error_detail"].as_str().unwrap().contains("out of open descriptors"), "{body}");
}
