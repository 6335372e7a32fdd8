//! Requests that run code, through the router, on a service whose sandboxes are the fake
//! launcher's (see [`super::fakes`] for what each line of the code makes a run do).

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::*;
use executor::test_support::workspace_of;

/// The NVIDIA dialect's requests name no template here: the default one would be built.
fn options() -> AppOptions {
    AppOptions { nvidia_template: None, ..AppOptions::default() }
}

async fn post_as(app: &TestApp, body: Value, headers: &[(&str, &str)]) -> Reply {
    app.send(json_request("/execute", body, headers)).await
}

async fn execute(app: &TestApp, body: Value) -> Reply {
    let reply = post_as(app, body, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

async fn get_as(app: &TestApp, path: &str, tenant: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(tenant) = tenant {
        request = request.header("x-tenant-id", tenant);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

/// The self-test ran through the fake launcher and passed, so the service says it is healthy.
#[tokio::test]
async fn the_self_test_passes_so_health_is_200() {
    let (app, launcher) = running_app(options()).await;
    let reply = app.get("/health").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "healthy");
    assert!(reply.body.get("reason").is_none(), "{}", reply.body);
    assert!(launcher.spec_of("exit 0").argv[0].ends_with("bash"), "the self-test is a shell run");
}

#[tokio::test]
async fn a_run_answers_its_output_and_exit_code() {
    let (app, launcher) = running_app(options()).await;
    let body = json!({"code": "echo hello\nwarn careful", "language": "shell", "env_vars": {"GREETING": "hi"}});
    let reply = post_as(&app, body, &[("x-request-id", "req-run-1")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["x-request-id"], "req-run-1");
    let result = &reply.body;
    assert_eq!(result["status"], "success");
    assert_eq!(result["process_status"], "completed");
    assert_eq!(result["exit_code"], 0);
    assert_eq!(result["stdout"], "hello\n");
    assert_eq!(result["stderr"], "careful\n");
    assert!(result["termination_reason"].is_null(), "{result}");
    assert_eq!(result["metrics"]["duration_ms"], 12.0);
    assert_eq!(result["metrics"]["path"], "cold");
    assert!(result["execution_id"].as_str().is_some_and(|id| !id.is_empty()), "{result}");
    let spec = launcher.spec_of("echo hello");
    assert!(spec.env.contains(&("GREETING".into(), "hi".into())), "{:?}", spec.env);
}

#[tokio::test]
async fn stdin_reaches_the_program() {
    let (app, _launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"code": "cat", "stdin": "line one\nline two\n"})).await;
    assert_eq!(reply.body["stdout"], "line one\nline two\n");
}

#[tokio::test]
async fn a_failed_run_is_200_with_its_exit_code() {
    let (app, _launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"code": "warn no such file\nexit 3", "language": "shell"})).await;
    assert_eq!(reply.body["status"], "failed");
    assert_eq!(reply.body["process_status"], "error");
    assert_eq!(reply.body["exit_code"], 3);
    assert_eq!(reply.body["stderr"], "no such file\n");
}

#[tokio::test]
async fn a_run_past_its_timeout_says_so() {
    let (app, launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"code": "echo started\nhang", "timeout": 2})).await;
    assert_eq!(reply.body["status"], "timeout");
    assert_eq!(reply.body["process_status"], "timeout");
    assert_eq!(reply.body["termination_reason"], "timeout");
    assert_eq!(reply.body["exit_code"], -1);
    assert_eq!(reply.body["stdout"], "started\n");
    assert_eq!(launcher.spec_of("hang").limits.wall_time_ms, 2000, "the request's timeout is the sandbox's");
}

#[tokio::test]
async fn a_run_over_its_memory_is_killed() {
    let (app, _launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"code": "oom", "limits": {"memory_mb": 64}})).await;
    assert_eq!(reply.body["status"], "killed");
    assert_eq!(reply.body["termination_reason"], "memory_limit");
}

/// The code never ran: a host fault, in the standard error format.
#[tokio::test]
async fn a_sandbox_that_cannot_start_is_500() {
    let (app, _launcher) = running_app(options()).await;
    let reply = post_as(&app, json!({"code": "unstartable"}), &[("x-request-id", "req-no-sandbox")]).await;
    let detail = assert_error(&reply, StatusCode::INTERNAL_SERVER_ERROR, "Executor.SandboxError");
    assert!(detail.contains("mount /proc") && detail.contains("Operation not permitted"), "{detail}");
    assert_eq!(reply.body["request_id"], "req-no-sandbox");
    assert!(reply.body.get("stdout").is_none(), "not a result: {}", reply.body);
}

#[tokio::test]
async fn the_handlers_return_value_and_error_are_in_the_result() {
    let (app, _launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"code": r#"return {"answer": 42, "big": 12345678901234567890}"#})).await;
    assert_eq!(reply.body["status"], "success");
    assert_eq!(reply.body["return_value"], json!({"answer": 42, "big": 12345678901234567890u64}));
    let reply = execute(&app, json!({"code": "raise ValueError bad input"})).await;
    assert_eq!(reply.body["status"], "failed");
    assert_eq!(reply.body["error"]["type"], "ValueError");
    assert_eq!(reply.body["error"]["message"], "bad input");
}

#[tokio::test]
async fn files_the_code_writes_are_artifacts() {
    let (app, _launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"code": "write report.json {}", "files": {"input.txt": "given"}})).await;
    let artifacts = reply.body["artifacts"].as_array().expect("artifacts");
    let paths: Vec<&str> = artifacts.iter().filter_map(|a| a["path"].as_str()).collect();
    assert_eq!(paths, ["report.json"], "the caller's own files are not artifacts: {}", reply.body);
    assert_eq!(artifacts[0]["mime_type"], "application/json");
}

/// Polls `GET /executions/{id}` as `tenant` until the execution has finished.
async fn finished(app: &TestApp, id: &str, tenant: Option<&str>) -> Value {
    for _ in 0..200 {
        let reply = get_as(app, &format!("/executions/{id}"), tenant).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if reply.body["state"] == "finished" {
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("execution {id} did not finish");
}

#[tokio::test]
async fn an_async_run_is_202_then_its_record_has_the_result() {
    let (app, _launcher) = running_app(options()).await;
    let body = json!({"code": "echo later", "async": true, "execution_id": "async-1"});
    let reply = post_as(&app, body, &[("x-tenant-id", "team-a")]).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"execution_id": "async-1", "status": "running", "status_url": "/executions/async-1"})
    );
    assert_eq!(reply.headers[header::LOCATION], "/executions/async-1");
    let record = finished(&app, "async-1", Some("team-a")).await;
    assert_eq!(record["tenant_id"], "team-a");
    assert_eq!(record["result"]["stdout"], "later\n");
    assert_eq!(record["result"]["status"], "success");
    assert!(record["finished_at"].is_string(), "{record}");
    // Another tenant, or none, is told there is no such execution.
    for tenant in [Some("team-b"), None] {
        let reply = get_as(&app, "/executions/async-1", tenant).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    }
}

#[tokio::test]
async fn the_tenant_header_names_whose_run_it_is() {
    let (app, _launcher) = running_app(options()).await;
    let reply = post_as(&app, json!({"code": "echo x", "execution_id": "run-b"}), &[("x-tenant-id", "team-b")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let record = finished(&app, "run-b", Some("team-b")).await;
    assert_eq!(record["tenant_id"], "team-b");
    let reply = get_as(&app, "/executions/run-b", None).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    // The id is team-b's: another tenant cannot run under it.
    let reply = post_as(&app, json!({"code": "echo y", "execution_id": "run-b"}), &[("x-tenant-id", "team-c")]).await;
    assert_error(&reply, StatusCode::CONFLICT, "Executor.Conflict");
    // The body and the header disagreeing is a mistake, not a choice between them.
    let body = json!({"code": "echo z", "tenant_id": "team-d"});
    let reply = post_as(&app, body, &[("x-tenant-id", "team-e")]).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
}

#[tokio::test]
async fn nvidia_requests_get_the_dialects_answer() {
    let (app, launcher) = running_app(options()).await;
    let reply = execute(&app, json!({"generated_code": "echo from nvidia", "timeout": 5})).await;
    assert_eq!(reply.body["process_status"], "completed");
    assert_eq!(reply.body["stdout"], "from nvidia\n");
    assert!(launcher.spec_of("echo from nvidia").argv.iter().any(|arg| arg.ends_with("user.py")), "Python by default");
    // A timeout says so in stderr, the way NVIDIA's server does.
    let reply = execute(&app, json!({"generated_code": "hang", "timeout": 1})).await;
    assert_eq!(reply.body["process_status"], "timeout");
    assert!(reply.body["stderr"].as_str().unwrap().ends_with("Timed out\n"), "{}", reply.body);
    // A compile error's stderr is a traceback, header and all.
    let reply = execute(&app, json!({"generated_code": "warn   File x\nraise SyntaxError bad", "timeout": 5})).await;
    assert_eq!(reply.body["process_status"], "error");
    assert!(reply.body["stderr"].as_str().unwrap().starts_with("Traceback (most recent call last):\n"));
    // Requests that name no session share one workspace; plain ones get a fresh one each.
    let shared = workspace_of(&launcher.spec_of("echo from nvidia"));
    assert_eq!(workspace_of(&launcher.spec_of("hang")), shared);
    execute(&app, json!({"code": "echo plain one"})).await;
    execute(&app, json!({"code": "echo plain two"})).await;
    let plain = workspace_of(&launcher.spec_of("plain one"));
    assert_ne!(plain, shared);
    assert_ne!(workspace_of(&launcher.spec_of("plain two")), plain);
}

/// An invalid dialect request is refused in the dialect's shape, before anything runs.
#[tokio::test]
async fn nvidia_refusals_carry_the_dialects_fields() {
    let (app, launcher) = running_app(options()).await;
    let reply = post_as(&app, json!({"generated_code": "echo never", "timeout": 5, "language": "cobol"}), &[]).await;
    let detail = assert_error(&reply, StatusCode::BAD_REQUEST, "Executor.ValidationError");
    assert_eq!(reply.body["process_status"], "error");
    assert_eq!(reply.body["stderr"], detail);
    assert_eq!(launcher.launched_count_of("echo never"), 0, "nothing ran");
}

/// A shell session's calls are one-shot runs in the session's own workspace, whose files the
/// file routes then serve; the session is its tenant's only.
#[tokio::test]
async fn a_shell_session_runs_in_its_workspace() {
    let (app, launcher) = running_app(options()).await;
    let team_a = [("x-tenant-id", "team-a")];
    let created = app.send(json_request("/session/create", json!({}), &team_a)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["tenant_id"], "team-a");
    let id = created.body["session_id"].as_str().expect("session_id").to_owned();
    let call = json!({"session_id": id, "language": "shell", "code": "write made.txt by the code\necho one"});
    let reply = app.send(json_request("/session/execute", call, &team_a)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!((reply.body["stdout"].as_str(), reply.body["session_id"].as_str()), (Some("one\n"), Some(id.as_str())));
    let call = json!({"session_id": id, "language": "shell", "code": "echo two"});
    let reply = app.send(json_request("/session/execute", call.clone(), &team_a)).await;
    assert_eq!(reply.body["stdout"], "two\n", "{}", reply.body);
    assert_eq!(workspace_of(&launcher.spec_of("echo one")), workspace_of(&launcher.spec_of("echo two")));
    let file = Request::get(format!("/session/{id}/files/made.txt")).header("x-tenant-id", "team-a");
    let (status, _, bytes) = app.send_raw(file.body(Body::empty()).unwrap()).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, b"by the code".as_slice()));
    // Another tenant is told there is no such session, and nothing runs for it.
    let other = json!({"session_id": id, "language": "shell", "code": "echo intruder"});
    let reply = app.send(json_request("/session/execute", other, &[("x-tenant-id", "team-b")])).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
    assert_eq!(launcher.launched_count_of("echo intruder"), 0);
    let destroyed = app.send(json_request("/session/destroy", json!({"session_id": id}), &team_a)).await;
    assert_eq!(destroyed.status, StatusCode::OK, "{}", destroyed.body);
    let reply = app.send(json_request("/session/execute", call, &team_a)).await;
    assert_error(&reply, StatusCode::NOT_FOUND, "Executor.NotFound");
}

pub(super) fn json_request(path: &str, body: Value, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body.to_string())).unwrap()
}
