//! `/mcp` in-process: the tools reach the routes with the caller's tenant, and requests that
//! are no MCP message get JSON-RPC errors.

use axum::http::StatusCode;
use serde_json::json;

use super::*;

fn options() -> AppOptions {
    AppOptions { nvidia_template: None, ..AppOptions::default() }
}

fn mcp_request(body: &str, tenant: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/mcp")
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    if let Some(tenant) = tenant {
        request = request.header("x-tenant-id", tenant);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

/// A `tools/call`'s result.
async fn call(app: &TestApp, tool: &str, arguments: Value, tenant: Option<&str>) -> Value {
    let body =
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": tool, "arguments": arguments}});
    let reply = app.send(mcp_request(&body.to_string(), tenant)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["id"], 7, "{}", reply.body);
    reply.body["result"].clone()
}

#[tokio::test]
async fn the_tools_are_listed() {
    let (app, _) = running_app(options()).await;
    let reply = app.send(mcp_request(r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}"#, None)).await;
    let mut names: Vec<&str> =
        reply.body["result"]["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort();
    let expected = ["create_session", "destroy_session", "download_file", "list_files", "read_process_output"];
    let expected = [&expected[..], &["run_code", "run_command", "upload_file"]].concat();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn a_run_answers_what_execute_answers() {
    let (app, _) = running_app(options()).await;
    let result = call(&app, "run_code", json!({"code": "echo hello", "language": "shell"}), None).await;
    assert_eq!(result["structuredContent"]["status"], "success", "{result}");
    assert_eq!(result["structuredContent"]["stdout"], "hello\n", "{result}");
    assert_eq!(result["content"][0]["text"], "hello\n", "{result}");
    assert_eq!(result["isError"], false, "{result}");
}

#[tokio::test]
async fn a_session_is_its_tenants_only() {
    let (app, _) = running_app(options()).await;
    let created = call(&app, "create_session", json!({}), Some("t1")).await;
    let session = created["structuredContent"]["session_id"].as_str().unwrap_or_else(|| panic!("{created}"));
    assert_eq!(created["structuredContent"]["tenant_id"], "t1", "{created}");
    for tenant in [Some("t2"), None] {
        let other = call(&app, "destroy_session", json!({"session_id": session}), tenant).await;
        assert_eq!(other["isError"], true, "{other}");
        assert_eq!(other["structuredContent"]["error_code"], "Executor.NotFound", "{other}");
    }
    let own = call(&app, "destroy_session", json!({"session_id": session}), Some("t1")).await;
    assert_eq!((&own["isError"], &own["structuredContent"]["status"]), (&json!(false), &json!("success")), "{own}");
}

#[tokio::test]
async fn what_is_no_mcp_message_is_a_jsonrpc_error() {
    let app = test_app().await;
    for (body, status, code) in [("{bad", StatusCode::BAD_REQUEST, -32700), ("[1]", StatusCode::BAD_REQUEST, -32600)] {
        let reply = app.send(mcp_request(body, None)).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!((&reply.body["id"], &reply.body["error"]["code"]), (&Value::Null, &json!(code)), "{}", reply.body);
    }
    let get = Request::get("/mcp").header(header::HOST, "localhost").body(Body::empty()).unwrap();
    let reply = app.send(get).await;
    assert_eq!((reply.status, &reply.body["error"]["code"]), (StatusCode::METHOD_NOT_ALLOWED, &json!(-32600)));
}
