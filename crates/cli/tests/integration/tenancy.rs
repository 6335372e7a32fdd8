//! Tenants are kept apart on every route that names a session or an execution: tenant B can
//! neither read, change, list nor erase tenant A's things, nor tell them from things that do
//! not exist; and A's things are intact afterwards. The tenant comes from the body's
//! `tenant_id` or the `X-Tenant-ID` header; both are used here.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::{assert_error_body, Daemon, Response};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

const A: &str = "tenant-a";
const B: &str = "tenant-b";
/// A session id no session has.
const UNKNOWN_SESSION: &str = "0123456789ab";

/// A request as `tenant` (in the X-Tenant-ID header), with a JSON body or raw bytes.
async fn send(d: &Daemon, method: Method, path: &str, tenant: &str, body: Body) -> Response {
    let request = d.client().request(method, format!("{}{path}", d.base)).header("X-Tenant-ID", tenant);
    let request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Raw(bytes) => request.body(bytes),
    };
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Response { status, headers, body }
}

enum Body {
    None,
    Json(Value),
    Raw(Vec<u8>),
}

async fn get(d: &Daemon, path: &str, tenant: &str) -> Response {
    send(d, Method::GET, path, tenant, Body::None).await
}

async fn post(d: &Daemon, path: &str, tenant: &str, body: Value) -> Response {
    send(d, Method::POST, path, tenant, Body::Json(body)).await
}

/// POST /execute as `tenant` (named in the body), asserting a 200.
async fn execute_as(d: &Daemon, tenant: &str, body: Value) -> Value {
    let mut body = body;
    body["tenant_id"] = json!(tenant);
    let r = d.post("/execute", &body).await;
    assert_eq!(r.status, 200, "POST /execute {body}: {}", r.body);
    r.body
}

/// A shell run in `/execute`'s persistent workspace `session`, as `tenant`.
async fn shell_in(d: &Daemon, tenant: &str, session: &str, code: &str) -> Value {
    execute_as(d, tenant, json!({"code": code, "language": "shell", "session_id": session})).await
}

/// Two refusals say the same, apart from the id each names: an answer about another tenant's
/// thing tells nothing a made-up id would not.
fn assert_same_refusal(theirs: &Response, their_id: &str, made_up: &Response, made_up_id: &str) {
    assert_eq!(theirs.status, made_up.status, "{} vs {}", theirs.body, made_up.body);
    for field in ["error_code", "description", "solution"] {
        assert_eq!(theirs.body[field], made_up.body[field], "{field}: {} vs {}", theirs.body, made_up.body);
    }
    let detail = |r: &Response, id: &str| r.body["error_detail"].as_str().unwrap_or_default().replace(id, "<id>");
    assert_eq!(detail(theirs, their_id), detail(made_up, made_up_id), "{} vs {}", theirs.body, made_up.body);
}

fn assert_session_not_found(r: &Response, id: &str) {
    assert_eq!(assert_error_body(r, 404), "Executor.NotFound");
    assert_eq!(r.body["error_detail"], format!("Session {id} not found or expired"), "{}", r.body);
}

/// A's session with a file and a variable in it; returns its id.
async fn session_of_a(d: &Daemon) -> String {
    let r = d.post("/session/create", &json!({"tenant_id": A})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["session_id"].as_str().expect("session_id").to_owned();
    let r =
        send(d, Method::PUT, &format!("/session/{id}/files/secret.txt"), A, Body::Raw(b"A's secret".to_vec())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = post(d, "/session/execute", A, json!({"session_id": id, "code": "kept = 41", "language": "python"})).await;
    assert_eq!((r.status, &r.body["status"]), (200, &json!("success")), "{}", r.body);
    id
}

/// What tenant B tries on a session id, each answered as for a session that does not exist.
async fn session_attempts(d: &Daemon, id: &str) -> Vec<(String, Response)> {
    let upload = json!({"path": "secret.txt", "content_base64": base64::engine::general_purpose::STANDARD.encode("B")});
    let mut answers = vec![
        ("execute (header)", post(d, "/session/execute", B, json!({"session_id": id, "code": "print(kept)"})).await),
        (
            "execute (body)",
            d.post("/session/execute", &json!({"session_id": id, "code": "print(kept)", "tenant_id": B})).await,
        ),
        ("list files", get(d, &format!("/session/{id}/files"), B).await),
        ("read a file", get(d, &format!("/session/{id}/files/secret.txt"), B).await),
        (
            "overwrite a file (PUT)",
            send(d, Method::PUT, &format!("/session/{id}/files/secret.txt"), B, Body::Raw(b"B".to_vec())).await,
        ),
        ("overwrite a file (POST)", post(d, &format!("/session/{id}/files"), B, upload).await),
        ("destroy (header)", post(d, "/session/destroy", B, json!({"session_id": id})).await),
        ("destroy (body)", d.post("/session/destroy", &json!({"session_id": id, "tenant_id": B})).await),
    ];
    // Upload by multipart too (the form written out: one text part, one file part).
    let form = "--XB\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\nsecret.txt\r\n\
                --XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"secret.txt\"\r\n\r\nB\r\n--XB--\r\n";
    let response = d
        .client()
        .post(format!("{}/session/{id}/files", d.base))
        .header("X-Tenant-ID", B)
        .header("content-type", "multipart/form-data; boundary=XB")
        .body(form)
        .send()
        .await
        .expect("POST multipart");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    answers.push(("overwrite a file (multipart)", Response { status, headers, body }));
    answers.into_iter().map(|(what, r)| (what.to_owned(), r)).collect()
}

#[tokio::test]
async fn another_tenant_can_neither_reach_nor_detect_a_session_on_any_route() {
    let Some(d) = common::sandboxed().await else { return };
    let id = session_of_a(&d).await;

    let theirs = session_attempts(&d, &id).await;
    let made_up = session_attempts(&d, UNKNOWN_SESSION).await;
    for ((what, theirs), (_, made_up)) in theirs.iter().zip(&made_up) {
        assert_session_not_found(theirs, &id);
        assert_same_refusal(theirs, &id, made_up, UNKNOWN_SESSION);
        eprintln!("{what}: refused as unknown");
    }
    let listed = get(&d, "/sessions", B).await;
    assert_eq!((listed.status, &listed.body["sessions"]), (200, &json!([])), "{}", listed.body);

    // `/execute` naming A's session id runs in B's own (empty) workspace, exactly as for an
    // id nobody used; what B writes there is B's.
    for session in [id.as_str(), UNKNOWN_SESSION] {
        let r = shell_in(&d, B, session, "ls -A; cat secret.txt; echo B > secret.txt").await;
        assert_eq!(r["stdout"], "", "B saw files under session_id {session}: {r}");
        assert!(r["stderr"].as_str().unwrap().contains("No such file"), "{r}");
    }

    // A's session is whole: listed, its file unchanged, its variable alive.
    let listed = get(&d, "/sessions", A).await;
    let ids: Vec<&str> =
        listed.body["sessions"].as_array().unwrap().iter().map(|s| s["session_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str()], "{}", listed.body);
    let files = get(&d, &format!("/session/{id}/files"), A).await;
    let paths: Vec<&str> =
        files.body["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["secret.txt"], "{}", files.body);
    let file = d
        .client()
        .get(format!("{}/session/{id}/files/secret.txt", d.base))
        .header("X-Tenant-ID", A)
        .send()
        .await
        .expect("GET");
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"A's secret");
    let r = post(&d, "/session/execute", A, json!({"session_id": id, "code": "kept + 1"})).await;
    assert_eq!(r.body["return_value"], 42, "A lost the session's state: {}", r.body);

    // A session call's record is A's alone.
    let call_id = r.body["execution_id"].as_str().expect("execution_id").to_owned();
    assert_eq!(get(&d, &format!("/executions/{call_id}"), A).await.status, 200);
    let theirs = get(&d, &format!("/executions/{call_id}"), B).await;
    let made_up = get(&d, "/executions/never-run", B).await;
    assert_eq!(assert_error_body(&theirs, 404), "Executor.NotFound");
    assert_same_refusal(&theirs, &call_id, &made_up, "never-run");
}

#[tokio::test]
async fn execute_session_workspaces_are_each_tenants_own() {
    let Some(d) = common::sandboxed().await else { return };
    let r = shell_in(&d, A, "shared-name", "echo A-secret > note.txt").await;
    assert_eq!(r["status"], "success", "{r}");

    // Tenant B names the same session_id (in the body, then in the header).
    let r = shell_in(&d, B, "shared-name", "ls -A; cat note.txt; echo B > note.txt").await;
    assert_eq!(r["stdout"], "", "B read A's workspace: {r}");
    let body = json!({"code": "ls -A", "language": "shell", "session_id": "shared-name"});
    let r = post(&d, "/execute", B, body).await;
    assert_eq!((r.status, &r.body["stdout"]), (200, &json!("note.txt\n")), "B's own file only: {}", r.body);
    let r = shell_in(&d, B, "shared-name", "cat note.txt").await;
    assert_eq!(r["stdout"], "B\n", "{r}");

    // The default tenant is a tenant like the others.
    let r = d.execute(json!({"code": "ls -A", "language": "shell", "session_id": "shared-name"})).await;
    assert_eq!(r["stdout"], "", "{r}");

    let r = shell_in(&d, A, "shared-name", "ls -A; cat note.txt").await;
    assert_eq!(r["stdout"], "note.txt\nA-secret\n", "A's workspace was changed: {r}");
}

#[tokio::test]
async fn the_nvidia_working_directory_is_each_tenants_own() {
    // The system interpreter: no template to build for this test.
    let d = Daemon::start_with(&[("NVIDIA_TEMPLATE", "")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let generated = |code: &str| json!({"generated_code": code, "timeout": 30, "language": "python"});
    let r = post(&d, "/execute", A, generated("open('kept.txt', 'w').write('A-secret')")).await;
    assert_eq!((r.status, &r.body["process_status"]), (200, &json!("completed")), "{}", r.body);

    let read = "import os\nprint(sorted(os.listdir('.')))\nprint(open('kept.txt').read())";
    for tenant in [B, "default"] {
        let r = post(&d, "/execute", tenant, generated(read)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["stdout"], "[]\n", "{tenant} saw A's working directory: {}", r.body);
        assert!(r.body["stderr"].as_str().unwrap().contains("FileNotFoundError"), "{}", r.body);
    }
    let r = post(&d, "/execute", B, generated("open('kept.txt', 'w').write('B')")).await;
    assert_eq!(r.body["process_status"], "completed", "{}", r.body);

    let r = post(&d, "/execute", A, generated(read)).await;
    assert_eq!(r.body["stdout"], "['kept.txt']\nA-secret\n", "A's file was changed: {}", r.body);
}

/// GET /executions/{id} as `tenant`, until it is finished.
async fn finished_record(d: &Daemon, id: &str, tenant: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = get(d, &format!("/executions/{id}"), tenant).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if r.body["state"] == "finished" || Instant::now() > deadline {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn execution_ids_of_another_tenant_are_never_replaced_nor_read() {
    let Some(d) = common::sandboxed().await else { return };
    let r = execute_as(&d, A, json!({"code": "echo A-done", "language": "shell", "execution_id": "x-finished"})).await;
    assert_eq!(r["stdout"], "A-done\n", "{r}");
    // A long run of A's, still running while B tries its id.
    let slow = json!({"code": "sleep 3; echo A-slow", "language": "shell", "execution_id": "x-running", "async": true});
    let r = post(&d, "/execute", A, slow).await;
    assert_eq!(r.status, 202, "{}", r.body);

    // B cannot read them, and is told exactly what an id nobody used gets.
    let made_up = get(&d, "/executions/never-run", B).await;
    for id in ["x-finished", "x-running"] {
        let theirs = get(&d, &format!("/executions/{id}"), B).await;
        assert_eq!(assert_error_body(&theirs, 404), "Executor.NotFound");
        assert_same_refusal(&theirs, id, &made_up, "never-run");
    }

    // B cannot replace them, waiting or not, tenant in the header or the body: a 409 that
    // says the same whether A's run is over or still going.
    let mut refusals = Vec::new();
    for id in ["x-finished", "x-running"] {
        for run_async in [false, true] {
            let body = json!({"code": "echo B", "language": "shell", "execution_id": id, "async": run_async});
            let r = post(&d, "/execute", B, body.clone()).await;
            assert_eq!(assert_error_body(&r, 409), "Executor.Conflict", "{id}");
            let mut in_body = body;
            in_body["tenant_id"] = json!(B);
            let r2 = d.post("/execute", &in_body).await;
            assert_same_refusal(&r2, id, &r, id);
            refusals.push((id, r));
        }
    }
    let (finished_id, finished) = &refusals[0];
    let (running_id, running) = &refusals[2];
    assert_same_refusal(finished, finished_id, running, running_id);

    // A's records are A's runs.
    let record = finished_record(&d, "x-finished", A).await;
    assert_eq!((&record["tenant_id"], &record["result"]["stdout"]), (&json!(A), &json!("A-done\n")), "{record}");
    let record = finished_record(&d, "x-running", A).await;
    assert_eq!((&record["state"], &record["result"]["stdout"]), (&json!("finished"), &json!("A-slow\n")), "{record}");
    // Still refused once A's run is over; B's own ids are B's.
    let r = post(&d, "/execute", B, json!({"code": "echo B", "language": "shell", "execution_id": "x-running"})).await;
    assert_eq!(assert_error_body(&r, 409), "Executor.Conflict");
    let r = execute_as(&d, B, json!({"code": "echo B", "language": "shell", "execution_id": "x-of-b"})).await;
    assert_eq!(r["stdout"], "B\n");

    // A tenant reuses its own finished id as before: the new run replaces the old.
    let r = execute_as(&d, A, json!({"code": "echo A-again", "language": "shell", "execution_id": "x-finished"})).await;
    assert_eq!(r["stdout"], "A-again\n", "{r}");
    let record = finished_record(&d, "x-finished", A).await;
    assert_eq!(record["result"]["stdout"], "A-again\n", "{record}");
}
