//! Every error status of the API, through the real daemon: the seed's error body each time.

use crate::common;
use crate::common::{assert_error_body, Daemon};
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400_with_position() {
    let d = Daemon::start().await;
    let r = d.post_raw("/execute", Some("application/json"), b"{\"code\": \"print(1)\",".to_vec()).await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
    assert!(r.body["error_detail"].as_str().unwrap().contains("line"), "{}", r.body);
}

#[tokio::test]
async fn wrong_types_unknown_fields_languages_and_timeouts_are_400() {
    let d = Daemon::start().await;
    let cases = [
        (json!({"code": 42}), "code"),
        (json!({"code": "print(1)", "timeout": "ten"}), "timeout"),
        (json!({"code": "print(1)", "language": "cobol"}), "language"),
        (json!({"code": "print(1)", "timeout": 0}), "timeout"),
        (json!({"code": "print(1)", "timeout": 3601}), "timeout"),
        (json!({"code": "print(1)", "timout": 5}), "timout"),
        (json!({"code": "print(1)", "execution_id": "../../etc"}), "execution_id"),
        (json!({"code": "print(1)", "env_vars": {"BAD-NAME": "x"}}), "BAD-NAME"),
        (json!({"code": "print(1)", "limits": {"memory_mb": 1_000_000}}), "memory_mb"),
        (json!({"language": "python"}), "code"),
        (json!({"code": ""}), "code"),
    ];
    for (body, mentions) in cases {
        let r = d.post("/execute", &body).await;
        assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError", "for {body}");
        let text = r.body.to_string();
        assert!(text.contains(mentions), "error for {body} does not name {mentions}: {text}");
    }
}

#[tokio::test]
async fn oversized_code_and_body_are_413() {
    let d = Daemon::start().await;
    let code = format!("# {}\n", "x".repeat(1024 * 1024 + 10));
    let r = d.post("/execute", &json!({"code": code, "language": "python"})).await;
    assert_eq!(assert_error_body(&r, 413), "Executor.PayloadTooLarge");
    let huge = vec![b' '; 81 * 1024 * 1024];
    let r = d.post_raw("/execute", Some("application/json"), huge).await;
    assert_eq!(assert_error_body(&r, 413), "Executor.PayloadTooLarge");
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let d = Daemon::start().await;
    let r = d.post_raw("/execute", Some("text/plain"), b"print(1)".to_vec()).await;
    assert_eq!(assert_error_body(&r, 415), "Executor.UnsupportedMediaType");
    let r = d.post_raw("/execute", None, b"{\"code\":\"print(1)\"}".to_vec()).await;
    assert_eq!(assert_error_body(&r, 415), "Executor.UnsupportedMediaType");
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_405() {
    let d = Daemon::start().await;
    let r = d.get("/does-not-exist").await;
    assert_eq!(assert_error_body(&r, 404), "Executor.NotFound");
    let r = d.get("/execute").await;
    assert_eq!(assert_error_body(&r, 405), "Executor.MethodNotAllowed");
}

#[tokio::test]
async fn a_running_execution_id_cannot_run_twice() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let body = json!({"code": "sleep 2", "language": "shell", "execution_id": "dup-1", "timeout": 10});
    let first = d.post("/execute", &body);
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        d.post("/execute", &body).await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(assert_error_body(&second, 409), "Executor.Conflict");
    // Once finished, the id may be used again.
    let again = d.execute(json!({"code": "true", "language": "shell", "execution_id": "dup-1"})).await;
    assert_eq!(again["status"], "success");
}

#[tokio::test]
async fn request_id_is_echoed_in_header_and_error_body() {
    let d = Daemon::start().await;
    let response = reqwest::Client::new()
        .get(format!("{}/missing", d.base))
        .header("X-Request-ID", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-abc-123");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["request_id"], "trace-abc-123");
}

#[tokio::test]
async fn an_unknown_template_is_the_same_404_on_execute_and_session_create() {
    let d = Daemon::start().await;
    let on_execute = d.post("/execute", &json!({"code": "print(1)", "template": "no-such-template"})).await;
    let on_create = d.post("/session/create", &json!({"template": "no-such-template"})).await;
    for r in [&on_execute, &on_create] {
        assert_eq!(assert_error_body(r, 404), "Executor.NotFound");
        let detail = r.body["error_detail"].as_str().unwrap();
        assert!(
            detail.contains("no-such-template") && detail.contains("known: ") && detail.contains("default"),
            "{detail}"
        );
    }
    assert_eq!(on_execute.body["error_detail"], on_create.body["error_detail"]);
    assert_eq!(on_execute.body["solution"], on_create.body["solution"]);
}
