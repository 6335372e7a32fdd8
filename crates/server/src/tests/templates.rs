//! `GET /templates` and `POST /templates`, in process: nothing is built here.

use axum::http::StatusCode;
use serde_json::json;

use super::*;

#[tokio::test]
async fn the_builtins_are_listed_with_their_fields() {
    let app = test_app().await;
    let reply = app.get("/templates").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "success");
    let templates = reply.body["templates"].as_array().unwrap();
    let names: Vec<&str> = templates.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "python-data", "node-basic", "minimal"]);
    let data = &templates[1];
    assert_eq!(data["language"], "python");
    assert_eq!(data["limits"], json!({"memory_mb": 1024, "timeout_secs": 60}));
    assert_eq!((&data["network"], &data["builtin"], &data["built"]), (&json!(false), &json!(true), &json!(false)));
    assert_eq!(data["packages"], json!(["numpy", "pandas", "matplotlib", "seaborn", "scipy", "plotly"]));
    assert_eq!(templates[0]["built"], true, "no packages: nothing to build");
    let info = app.get("/info").await;
    assert_eq!(info.body["templates"], json!(["default", "python-data", "node-basic", "minimal"]));
}

#[tokio::test]
async fn a_created_template_is_listed_and_its_name_taken() {
    let app = test_app().await;
    let body = json!({"name": "np", "description": "numpy only", "language": "py", "packages": ["numpy==2.*"],
                      "limits": {"memory_mb": 700}});
    let reply = app.post_json("/templates", body.to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let created = &reply.body["template"];
    assert_eq!(
        (&created["language"], &created["builtin"], &created["built"]),
        (&json!("python"), &json!(false), &json!(false))
    );
    assert_eq!(created["limits"], json!({"memory_mb": 700, "timeout_secs": 30}));
    let listed = app.get("/templates").await;
    assert_eq!(listed.body["templates"][4]["name"], "np");

    let again = app.post_json("/templates", body.to_string()).await;
    assert_error(&again, StatusCode::CONFLICT, "Executor.Conflict");
    let builtin = json!({"name": "python-data", "language": "python"});
    let detail = assert_error(
        &app.post_json("/templates", builtin.to_string()).await,
        StatusCode::CONFLICT,
        "Executor.Conflict",
    );
    assert!(detail.contains("python-data"), "{detail}");
}

#[tokio::test]
async fn invalid_definitions_are_refused_with_the_field() {
    let app = test_app().await;
    let cases = [
        (json!({"name": "Bad_Name", "language": "python"}), "name: "),
        (json!({"name": "x", "language": "shell"}), "language: "),
        (json!({"name": "x", "language": "python", "packages": ["--index-url", "https://evil"]}), "packages[0]: "),
        (
            json!({"name": "x", "language": "python", "packages": ["numpy", "https://evil.example/x.whl"]}),
            "packages[1]: ",
        ),
        (json!({"name": "x", "language": "python", "packages": ["numpy -i http"]}), "packages[0]: "),
        (json!({"name": "x", "language": "javascript", "packages": ["../secrets"]}), "packages[0]: "),
        (json!({"name": "x", "language": "python", "network": true}), "network: "),
        (json!({"name": "x", "language": "python", "limits": {"memory_mb": 999999}}), "limits.memory_mb: "),
        (json!({"name": "x", "language": "python", "pip_args": ["-U"]}), "pip_args: unknown field"),
        (json!({"language": "python"}), "missing field `name`"),
    ];
    for (body, expected) in cases {
        let reply = app.post_json("/templates", body.to_string()).await;
        let detail = assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
        assert!(detail.starts_with(expected) || detail.contains(expected), "{body}: {detail}");
    }
    let listed = app.get("/templates").await;
    assert_eq!(listed.body["templates"].as_array().unwrap().len(), 4, "nothing was added");
}
