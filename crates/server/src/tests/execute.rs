//! `POST /execute` requests refused before anything runs.

use axum::http::StatusCode;
use serde_json::json;

use super::*;

const INVALID: &str = "Executor.ValidationError";

async fn refused(body: Value) -> (Reply, String) {
    let app = test_app().await;
    let reply = app.post_json("/execute", body.to_string()).await;
    let detail = assert_error(&reply, StatusCode::BAD_REQUEST, INVALID);
    (reply, detail)
}

#[tokio::test]
async fn wrong_type_names_the_field() {
    let (_, detail) = refused(json!({"code": 1})).await;
    assert!(detail.starts_with("code: invalid type: integer `1`"), "{detail}");
    let (_, detail) = refused(json!({"code": "x", "limits": {"memory_mb": -1}})).await;
    assert!(detail.starts_with("limits.memory_mb: invalid value"), "{detail}");
    let (_, detail) = refused(json!(["code"])).await;
    assert!(detail.contains("expected a JSON object"), "{detail}");
}

#[tokio::test]
async fn unknown_fields_are_refused() {
    let (_, detail) = refused(json!({"code": "x", "handler": "main"})).await;
    assert!(detail.starts_with("handler: unknown field `handler`, expected one of"), "{detail}");
    let (_, detail) = refused(json!({"code": "x", "limits": {"cpus": 2}})).await;
    assert!(detail.starts_with("limits.cpus: unknown field `cpus`"), "{detail}");
}

#[tokio::test]
async fn code_is_required_once() {
    let (reply, detail) = refused(json!({"language": "python"})).await;
    assert_eq!(detail, "code: either code or generated_code is required");
    assert!(reply.body.get("process_status").is_none());
    let (_, detail) = refused(json!({"code": "   "})).await;
    assert!(detail.starts_with("code: "), "{detail}");
    let (_, detail) = refused(json!({"code": "a", "generated_code": "b", "timeout": 1})).await;
    assert!(detail.contains("not both"), "{detail}");
}

#[tokio::test]
async fn bad_language_lists_the_accepted() {
    let (reply, detail) = refused(json!({"code": "x", "language": "cobol"})).await;
    assert!(detail.starts_with("language: unknown language \"cobol\""), "{detail}");
    assert!(reply.body["solution"].as_str().unwrap().contains("javascript"));
}

#[tokio::test]
async fn timeout_out_of_range() {
    for timeout in [0, 3601] {
        let (_, detail) = refused(json!({"code": "x", "timeout": timeout})).await;
        let expected = format!("timeout: must be between 1 and 3600 seconds, got {timeout}");
        assert_eq!(detail, expected);
    }
}

#[tokio::test]
async fn unknown_template_is_not_found() {
    let reply = test_app().await.post_json("/execute", json!({"code": "x", "template": "python-ml"}).to_string()).await;
    let detail = assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    assert_eq!(detail, "unknown template \"python-ml\"; known: default, python-data, node-basic, minimal");
    assert!(reply.body["solution"].as_str().unwrap().contains("GET /templates"), "{}", reply.body);
}

#[tokio::test]
async fn a_template_of_another_language_is_refused() {
    let (_, detail) = refused(json!({"code": "x", "template": "node-basic", "language": "python"})).await;
    assert!(detail.starts_with("template: template \"node-basic\" is for javascript"), "{detail}");
    // A shell run may name any template (its environment is for every process); other
    // languages must match.
    let (_, detail) = refused(json!({"code": "x", "template": "python-data", "language": "javascript"})).await;
    assert!(detail.contains("is for python"), "{detail}");
}

#[tokio::test]
async fn bad_files_name_the_file() {
    let (_, detail) = refused(json!({"code": "x", "files": {"../etc/passwd": "x"}})).await;
    assert!(detail.starts_with("files[\"../etc/passwd\"]: "), "{detail}");
    let bad_base64 = json!({"content": "!!!", "encoding": "base64"});
    let (_, detail) = refused(json!({"code": "x", "files": {"a.bin": bad_base64}})).await;
    assert!(detail.contains("not valid base64"), "{detail}");
    let (_, detail) = refused(json!({"code": "x", "files": {"a": {"content": 1}}})).await;
    assert!(detail.starts_with("files.a: a string (UTF-8 content) or"), "{detail}");
    let bad_env = json!({"code": "x", "env_vars": {"1BAD": "v"}});
    let (_, detail) = refused(bad_env).await;
    assert!(detail.starts_with("env_vars.1BAD: "), "{detail}");
}

#[tokio::test]
async fn nvidia_missing_timeout_carries_process_status() {
    let (reply, detail) = refused(json!({"generated_code": "print(1)", "language": "python"})).await;
    assert_eq!(detail, "timeout: required with generated_code");
    assert_eq!(reply.body["process_status"], "error");
    assert_eq!(reply.body["stdout"], "");
    assert_eq!(reply.body["stderr"], detail);
}

#[tokio::test]
async fn every_nvidia_400_carries_process_status() {
    let bodies = [
        json!({"generated_code": "print(1)", "timeout": 0}),
        json!({"generated_code": 5, "timeout": 10}),
        json!({"generated_code": "```python\n```", "timeout": 10}),
        json!({"generated_code": "x", "timeout": 10, "extra": true}),
    ];
    for body in bodies {
        let (reply, detail) = refused(body).await;
        assert_eq!(reply.body["process_status"], "error", "{detail}");
        assert_eq!(reply.body["stderr"], detail);
    }
    let app = test_app().await;
    let reply = app.post_json("/execute", r#"{"generated_code": "print(1)", "timeout": }"#).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, INVALID);
    assert_eq!(reply.body["process_status"], "error");
}
