//! Stateful sessions (seed 003): variables live on between calls in Python and JavaScript,
//! the final expression's value comes back, a timeout or crash restarts the interpreter and
//! says so, idle sessions expire, caps answer 429, and other tenants see nothing.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::{Daemon, Response};
use serde_json::{json, Value};

/// POST with an X-Tenant-ID header.
async fn post_as(d: &Daemon, tenant: &str, path: &str, body: &Value) -> Response {
    let response = d
        .client()
        .post(format!("{}{path}", d.base))
        .header("X-Tenant-ID", tenant)
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Response { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

async fn get_as(d: &Daemon, tenant: &str, path: &str) -> Response {
    let response = d.client().get(format!("{}{path}", d.base)).header("X-Tenant-ID", tenant).send().await.expect("GET");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Response { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

/// Runs a Python cell as tenant t1, asserting a 200.
async fn call(d: &Daemon, id: &str, code: &str) -> Value {
    let body = json!({"session_id": id, "code": code, "language": "python", "tenant_id": "t1"});
    let r = d.post("/session/execute", &body).await;
    assert_eq!(r.status, 200, "{body}: {}", r.body);
    r.body
}

/// Creates a session (asserting a 201) and returns its id.
async fn create(d: &Daemon, body: Value) -> String {
    let r = d.post("/session/create", &body).await;
    assert_eq!(r.status, 201, "create {body}: {}", r.body);
    let id = r.body["session_id"].as_str().unwrap_or_else(|| panic!("no session_id: {}", r.body)).to_string();
    assert_eq!(id.len(), 12, "{}", r.body);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{}", r.body);
    id
}

/// Runs a cell, asserting a 200.
async fn run(d: &Daemon, session: &str, language: &str, code: &str) -> Value {
    let body = json!({"session_id": session, "code": code, "language": language});
    let r = d.post("/session/execute", &body).await;
    assert_eq!(r.status, 200, "{body}: {}", r.body);
    r.body
}

fn assert_not_found(r: &Response, session: &str) {
    assert_eq!(common::assert_error_body(r, 404), "Executor.NotFound");
    assert_eq!(r.body["error_detail"], format!("Session {session} not found or expired"), "{}", r.body);
}

#[tokio::test]
async fn python_variables_functions_and_imports_live_on() {
    let Some(d) = common::sandboxed().await else { return };
    let created = d.post("/session/create", &json!({"tenant_id": "t1", "scope": "user:123", "ttl": 120})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "success");
    assert_eq!(created.body["template"], "default");
    assert_eq!(created.body["ttl"], 120);
    let id = created.body["session_id"].as_str().unwrap().to_string();

    let r = call(&d, &id, "x = 41").await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!((&r["display"], &r["return_value"]), (&Value::Null, &Value::Null), "a statement has no value: {r}");
    assert_eq!(r["interpreter_restarted"], false, "{r}");
    let r = call(&d, &id, "print(x + 1)").await;
    assert_eq!(r["stdout"], "42\n", "{r}");
    assert_eq!(r["session_id"], id.as_str());

    // Like a notebook: the last expression is the result; repr() as display, JSON as value.
    let r = call(&d, &id, "import math\ndef double(n):\n    return 2 * n\ndouble(x) + 1").await;
    assert_eq!((&r["display"], &r["return_value"]), (&json!("83"), &json!(83)), "{r}");
    let r = call(&d, &id, "{'e': round(math.e, 1), 'twice': double(2)}").await;
    assert_eq!(r["return_value"], json!({"e": 2.7, "twice": 4}), "{r}");
    assert_eq!(r["display"], "{'e': 2.7, 'twice': 4}", "{r}");
    let r = call(&d, &id, "'text'").await;
    assert_eq!((&r["display"], &r["return_value"]), (&json!("'text'"), &json!("text")), "{r}");
    let r = call(&d, &id, "object()").await;
    assert!(r["display"].as_str().unwrap().starts_with("<object object at"), "{r}");
    assert_eq!(r["return_value"], Value::Null, "not JSON: {r}");

    // Output is the cell's own, subprocesses' included; errors do not end the session.
    let r = call(
        &d,
        &id,
        "import subprocess, sys\nprint('out')\nsys.stderr.write('err\\n')\nsubprocess.run(['echo', 'child'])",
    )
    .await;
    assert_eq!((&r["stdout"], &r["stderr"]), (&json!("out\nchild\n"), &json!("err\n")), "{r}");
    let r = call(&d, &id, "undefined_name").await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["type"], "NameError", "{r}");
    assert!(r["stderr"].as_str().unwrap().contains("NameError: name 'undefined_name' is not defined"), "{r}");
    let r = call(&d, &id, "print(math.floor(x / 2))").await;
    assert_eq!(r["stdout"], "20\n", "the session lost its state after an error: {r}");

    let listed = get_as(&d, "t1", "/sessions").await;
    let sessions = listed.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{}", listed.body);
    assert_eq!(sessions[0]["session_id"], id.as_str());
    assert_eq!(sessions[0]["scope"], "user:123");
    assert_eq!(sessions[0]["languages"], json!(["python"]));
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(sessions[0][field].as_str().is_some_and(|t| t.ends_with('Z')), "{field}: {}", listed.body);
    }

    let destroyed = d.post("/session/destroy", &json!({"session_id": id, "tenant_id": "t1"})).await;
    assert_eq!(destroyed.status, 200, "{}", destroyed.body);
    assert_eq!(destroyed.body["status"], "success");
    let r = d.post("/session/execute", &json!({"session_id": id, "code": "x", "tenant_id": "t1"})).await;
    assert_not_found(&r, &id);
    let again = d.post("/session/destroy", &json!({"session_id": id, "tenant_id": "t1"})).await;
    assert_not_found(&again, &id);
}

#[tokio::test]
async fn javascript_keeps_its_global_scope() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d, json!({})).await;
    let r = run(&d, &id, "javascript", "var x = 41; globalThis.g = 'global'; let l = 1; const c = 2;").await;
    assert_eq!(r["status"], "success", "{r}");
    let r = run(&d, &id, "javascript", "console.log(x + 1); console.error(g); [l, c]").await;
    assert_eq!((&r["stdout"], &r["stderr"]), (&json!("42\n"), &json!("global\n")), "{r}");
    assert_eq!((&r["display"], &r["return_value"]), (&json!("[ 1, 2 ]"), &json!([1, 2])), "{r}");
    assert_eq!(r["language"], "javascript");
    // A promise is awaited, as in the REPL; require resolves Node's modules.
    let r = run(
        &d,
        &id,
        "javascript",
        "function later(v) { return new Promise((r) => setTimeout(() => r(v), 10)); }\nlater({ n: x })",
    )
    .await;
    assert_eq!(r["return_value"], json!({"n": 41}), "{r}");
    let r = run(&d, &id, "javascript", "require('path').join('a', 'b')").await;
    assert_eq!(r["return_value"], "a/b", "{r}");
    let r = run(&d, &id, "javascript", "throw new TypeError('bad')").await;
    assert_eq!((&r["status"], &r["error"]["type"]), (&json!("failed"), &json!("TypeError")), "{r}");
    let r = run(&d, &id, "javascript", "x").await;
    assert_eq!(r["return_value"], 41, "state lost after an error: {r}");
    // Python in the same session has its own interpreter, and shares the workspace.
    let r = run(&d, &id, "javascript", "require('fs').writeFileSync('from-js.txt', 'hello'); undefined").await;
    assert_eq!(r["display"], Value::Null, "{r}");
    let r = run(&d, &id, "python", "open('from-js.txt').read()").await;
    assert_eq!(r["return_value"], "hello", "{r}");
    let r = run(&d, &id, "shell", "cat from-js.txt").await;
    assert_eq!(r["stdout"], "hello", "{r}");
}

#[tokio::test]
async fn a_timeout_kills_the_interpreter_and_the_next_call_says_state_was_lost() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d, json!({})).await;
    run(&d, &id, "python", "x = 1\nopen('kept.txt', 'w').write('kept')").await;
    let body = json!({"session_id": id, "code": "import time\nprint('before')\ntime.sleep(60)", "timeout": 1});
    let r = d.post("/session/execute", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["status"], &r.body["termination_reason"]),
        (&json!("timeout"), &json!("timeout")),
        "{}",
        r.body
    );
    assert!(r.body["note"].as_str().is_some_and(|n| n.contains("killed")), "{}", r.body);

    let r = run(&d, &id, "python", "print(open('kept.txt').read())\nx").await;
    assert_eq!(r["interpreter_restarted"], true, "{r}");
    assert!(r["note"].as_str().is_some_and(|n| n.contains("timed out") && n.contains("gone")), "{r}");
    assert_eq!(r["stdout"], "kept\n", "the workspace must survive the restart: {r}");
    assert_eq!(r["error"]["type"], "NameError", "x must be gone: {r}");
    // The traceback is the cell's own, without the session interpreter's frames.
    let traceback = r["error"]["traceback"].as_str().unwrap_or_default();
    assert!(traceback.contains("NameError") && !traceback.contains("session.py"), "{r}");
    let r = run(&d, &id, "python", "y = 2").await;
    assert_eq!((&r["interpreter_restarted"], &r["note"]), (&json!(false), &Value::Null), "said only once: {r}");

    // A crash is reported the same way.
    let r = run(&d, &id, "python", "import os\nos.kill(os.getpid(), 9)").await;
    assert_eq!(r["status"], "killed", "{r}");
    assert_eq!(r["exit_code"], 137, "{r}");
    assert_eq!(r["error"]["type"], "InterpreterDied", "{r}");
    let r = run(&d, &id, "python", "y").await;
    assert_eq!(r["interpreter_restarted"], true, "{r}");
    assert!(r["note"].as_str().is_some_and(|n| n.contains("died")), "{r}");

    // And in JavaScript.
    run(&d, &id, "javascript", "var kept = 1").await;
    let body = json!({"session_id": id, "code": "while (true) {}", "language": "javascript", "timeout": 1});
    let r = d.post("/session/execute", &body).await;
    assert_eq!(r.body["status"], "timeout", "{}", r.body);
    let r = run(&d, &id, "javascript", "typeof kept").await;
    assert_eq!((&r["interpreter_restarted"], &r["return_value"]), (&json!(true), &json!("undefined")), "{r}");
}

#[tokio::test]
async fn idle_sessions_expire_and_the_reaper_removes_them() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d, json!({"ttl": 1})).await;
    run(&d, &id, "python", "x = 1").await;
    let workspace = d.state.path().join("workspaces/persistent").join(format!("live-{id}"));
    assert!(workspace.exists(), "the session's workspace is not at {}", workspace.display());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = d.get("/sessions").await;
        let gone = listed.body["sessions"].as_array().is_some_and(|s| s.is_empty());
        if gone && !workspace.exists() {
            break;
        }
        assert!(Instant::now() < deadline, "the session never expired: {}", listed.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = d.post("/session/execute", &json!({"session_id": id, "code": "x"})).await;
    assert_not_found(&r, &id);
    let metrics = d.get("/metrics?format=json").await;
    assert_eq!(metrics.body["metrics"]["sessions_expired"], 1, "{}", metrics.body);
    assert_eq!(metrics.body["metrics"]["active_sessions"], 0, "{}", metrics.body);
    assert!(common::mounts_under(&workspace).is_empty(), "the workspace is still mounted");

    let too_long = d.post("/session/create", &json!({"ttl": 999_999})).await;
    assert_eq!(common::assert_error_body(&too_long, 400), "Executor.ValidationError");
    assert!(too_long.body["error_detail"].as_str().unwrap().contains("ttl"), "{}", too_long.body);
}

#[tokio::test]
async fn the_session_caps_answer_429() {
    let d = Daemon::start_with(&[("SESSION_MAX_COUNT", "2"), ("SESSION_MAX_PER_TENANT", "1")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let a = create(&d, json!({"tenant_id": "a"})).await;
    let r = d.post("/session/create", &json!({"tenant_id": "a"})).await;
    assert_eq!(common::assert_error_body(&r, 429), "Executor.SessionLimit");
    assert!(r.body["error_detail"].as_str().unwrap().contains("tenant \"a\""), "{}", r.body);
    let _b = create(&d, json!({"tenant_id": "b"})).await;
    let r = d.post("/session/create", &json!({"tenant_id": "c"})).await;
    assert_eq!(common::assert_error_body(&r, 429), "Executor.SessionLimit");
    assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
    let metrics = d.get("/metrics?format=json").await;
    assert_eq!(metrics.body["metrics"]["max_sessions"], 2, "{}", metrics.body);
    assert_eq!(metrics.body["metrics"]["active_sessions"], 2, "{}", metrics.body);

    let destroyed = d.post("/session/destroy", &json!({"session_id": a, "tenant_id": "a"})).await;
    assert_eq!(destroyed.status, 200, "{}", destroyed.body);
    create(&d, json!({"tenant_id": "c"})).await;
}

#[tokio::test]
async fn another_tenant_gets_404_never_403() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d, json!({"tenant_id": "owner"})).await;
    let r = post_as(&d, "owner", "/session/execute", &json!({"session_id": id, "code": "secret = 1"})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = post_as(&d, "intruder", "/session/execute", &json!({"session_id": id, "code": "print(secret)"})).await;
    assert_not_found(&r, &id);
    let r = d.post("/session/execute", &json!({"session_id": id, "code": "1"})).await;
    assert_not_found(&r, &id);
    let r = post_as(&d, "intruder", "/session/destroy", &json!({"session_id": id})).await;
    assert_not_found(&r, &id);
    for path in [format!("/session/{id}/files"), format!("/session/{id}/files/a.txt")] {
        let r = get_as(&d, "intruder", &path).await;
        assert_not_found(&r, &id);
    }
    let listed = get_as(&d, "intruder", "/sessions").await;
    assert_eq!(listed.body["sessions"], json!([]), "{}", listed.body);
    // An id that never existed answers the same.
    let r = post_as(&d, "owner", "/session/execute", &json!({"session_id": "0123456789ab", "code": "1"})).await;
    assert_not_found(&r, "0123456789ab");
    // Body and header must agree.
    let r = post_as(&d, "owner", "/session/execute", &json!({"session_id": id, "code": "1", "tenant_id": "x"})).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");

    let r = post_as(&d, "owner", "/session/execute", &json!({"session_id": id, "code": "secret"})).await;
    assert_eq!(r.body["return_value"], 1, "the owner lost the session: {}", r.body);
}

#[tokio::test]
async fn session_metrics_are_reported_in_json_and_prometheus() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d, json!({})).await;
    run(&d, &id, "python", "1").await;
    run(&d, &id, "python", "2").await;
    let m = d.get("/metrics?format=json").await.body["metrics"].clone();
    assert_eq!((&m["sessions_created"], &m["sessions_reused"]), (&json!(1), &json!(2)), "{m}");
    assert_eq!((&m["active_sessions"], &m["max_sessions"]), (&json!(1), &json!(10)), "{m}");
    assert_eq!((&m["sessions_destroyed"], &m["sessions_expired"]), (&json!(0), &json!(0)), "{m}");
    d.post("/session/destroy", &json!({"session_id": id})).await;
    let m = d.get("/metrics?format=json").await.body["metrics"].clone();
    assert_eq!((&m["sessions_destroyed"], &m["active_sessions"]), (&json!(1), &json!(0)), "{m}");
    let text = d.get("/metrics").await.body;
    let text = text.as_str().unwrap();
    assert!(text.contains("sandbox_active_sessions 0"), "{text}");
    assert!(text.contains("sandbox_sessions_created_total 1"), "{text}");
}

#[tokio::test]
async fn shutdown_kills_sessions_and_removes_their_workspaces() {
    let Some(mut d) = common::sandboxed().await else { return };
    let id = create(&d, json!({})).await;
    run(&d, &id, "python", "x = 1").await;
    run(&d, &id, "javascript", "var x = 1").await;
    let workspace = d.state.path().join("workspaces/persistent").join(format!("live-{id}"));
    assert!(workspace.exists());
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(30)).await.expect("the daemon did not stop");
    assert!(status.success(), "{status:?}");
    assert!(!workspace.exists(), "the session's workspace outlived the daemon");
    assert!(d.mounts_under_state().is_empty(), "mounts left: {:?}", d.mounts_under_state());
}

/// A matplotlib chart and a plotly figure made in a session of the python-data template come
/// back as artifacts of the calls that made them.
#[tokio::test]
async fn charts_from_a_python_data_session() {
    let Some(d) = common::sandboxed().await else { return };
    // The first session may start cold; the second is forked by the template's zygote.
    for round in 0..2 {
        if round == 1 {
            until_template_zygote(&d, "python-data").await;
        }
        let created = d
            .client()
            .post(format!("{}/session/create", d.base))
            .timeout(Duration::from_secs(20 * 60))
            .json(&json!({"template": "python-data"}))
            .send()
            .await
            .expect("create");
        let status = created.status().as_u16();
        let body: Value = created.json().await.expect("JSON");
        if status == 400 && body.to_string().contains("template") {
            eprintln!("SKIP: no python-data template: {body}");
            return;
        }
        assert_eq!(status, 201, "{body}");
        let r = chart_cells(&d, body["session_id"].as_str().unwrap()).await;
        if round == 1 {
            assert_eq!(crate::warm::path_of(&r), "forked", "{r}");
        }
    }
}

/// Waits until the zygote of `template` is ready.
async fn until_template_zygote(d: &Daemon, template: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let info = d.get("/info").await.body;
        let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
        if pools.iter().any(|p| p["template"] == template && p["ready"].as_u64() > Some(0)) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no {template} zygote after 180 s: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Draws with matplotlib and plotly in session `id`; returns the last cell's result.
async fn chart_cells(d: &Daemon, id: &str) -> Value {
    let r = run(d, id, "python", "import numpy as np\nxs = np.linspace(0, 6, 50)").await;
    assert_eq!(r["status"], "success", "{r}");
    let r =
        run(d, id, "python", "import matplotlib.pyplot as plt\nplt.plot(xs, np.sin(xs))\nplt.show()\nlen(xs)").await;
    assert_eq!(r["return_value"], 50, "{r}");
    let artifacts = r["artifacts"].as_array().unwrap();
    let chart = artifacts.iter().find(|a| a["type"] == "image/png").unwrap_or_else(|| panic!("no chart: {r}"));
    assert!(chart["path"].as_str().unwrap().starts_with("output/plot_"), "{chart}");
    assert_eq!(artifacts.len(), 1, "one chart, saved once: {r}");
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD.decode(chart["content"].as_str().unwrap()).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A figure left open at the end of a cell is shown too, and the next cell's chart is new.
    let r = run(d, id, "python", "plt.figure(); plt.bar(['a', 'b'], [1, 2]); None").await;
    let pngs: Vec<&Value> = r["artifacts"].as_array().unwrap().iter().filter(|a| a["type"] == "image/png").collect();
    assert_eq!(pngs.len(), 1, "{r}");
    assert_ne!(pngs[0]["path"], chart["path"], "{r}");
    // plotly's fig.show() saves the figure's JSON.
    let r = run(d, id, "python", "import plotly.graph_objects as go\ngo.Figure(go.Bar(x=['a', 'b'], y=[3, 4])).show()")
        .await;
    let figure = r["artifacts"].as_array().unwrap().iter().find(|a| a["type"] == "application/json");
    let figure = figure.unwrap_or_else(|| panic!("no plotly figure: {r}"));
    assert!(figure["path"].as_str().unwrap().starts_with("output/plotly_"), "{figure}");
    let json = base64::engine::general_purpose::STANDARD.decode(figure["content"].as_str().unwrap()).unwrap();
    let figure: Value = serde_json::from_slice(&json).expect("the figure is JSON");
    assert_eq!(figure["data"][0]["y"], json!([3, 4]), "{figure}");
    r
}

#[tokio::test]
async fn execute_takes_a_tenant_from_the_body_or_the_header() {
    let Some(d) = common::sandboxed().await else { return };
    let r = post_as(&d, "t1", "/execute", &json!({"code": "print(1)", "scope": "user:1"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.post("/execute", &json!({"code": "print(1)", "tenant_id": "t1", "execution_id": "t1-run"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The record keeps who the run was for; another tenant (or none) does not find it.
    let r = get_as(&d, "t1", "/executions/t1-run").await;
    assert_eq!((r.status, &r.body["tenant_id"]), (200, &json!("t1")), "{}", r.body);
    for r in [get_as(&d, "t2", "/executions/t1-run").await, d.get("/executions/t1-run").await] {
        assert_eq!(common::assert_error_body(&r, 404), "Executor.NotFound");
    }
    let r = d.post("/execute", &json!({"code": "print(1)", "execution_id": "mine", "scope": "user:9"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.get("/executions/mine").await;
    assert_eq!((&r.body["tenant_id"], &r.body["scope"]), (&json!("default"), &json!("user:9")), "{}", r.body);
    let r = d.post("/execute", &json!({"code": "print(1)", "tenant_id": "a/b"})).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");
    assert!(r.body["error_detail"].as_str().unwrap().starts_with("tenant_id"), "{}", r.body);
    let r = d.post("/execute", &json!({"code": "print(1)", "scope": "line\nbreak"})).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");
}

#[tokio::test]
async fn a_memory_bomb_ends_the_interpreter_with_memory_limit_and_the_next_call_starts_fresh() {
    let Some(d) = common::sandboxed().await else { return };
    if !d.layer_active("cgroup:memory").await {
        eprintln!("skipped: no cgroup memory controller on this host");
        return;
    }
    let id = create(&d, json!({})).await;
    run(&d, &id, "python", "x = 1").await;
    let r = run(&d, &id, "python", "hog = []\nwhile True:\n    hog.append(bytearray(32 << 20))").await;
    assert_eq!((&r["status"], &r["termination_reason"]), (&json!("killed"), &json!("memory_limit")), "{r}");
    let r = run(&d, &id, "python", "print('alive')").await;
    assert_eq!((&r["interpreter_restarted"], &r["stdout"]), (&json!(true), &json!("alive\n")), "{r}");
}

#[tokio::test]
async fn session_calls_are_recorded_as_executions_of_the_sessions_tenant() {
    let Some(d) = common::sandboxed().await else { return };
    let r = post_as(&d, "t1", "/session/create", &json!({"scope": "nb:1"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["session_id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for (language, code) in [("python", "print('py')"), ("javascript", "console.log('js')"), ("shell", "echo sh")] {
        let body = json!({"session_id": id, "code": code, "language": language});
        let r = post_as(&d, "t1", "/session/execute", &body).await;
        assert_eq!((r.status, &r.body["status"]), (200, &json!("success")), "{}", r.body);
        ids.push(r.body["execution_id"].as_str().unwrap().to_string());
    }
    for execution in &ids {
        let r = get_as(&d, "t1", &format!("/executions/{execution}")).await;
        assert_eq!((r.status, &r.body["state"]), (200, &json!("finished")), "{}", r.body);
        assert_eq!((&r.body["tenant_id"], &r.body["scope"]), (&json!("t1"), &json!("nb:1")), "{}", r.body);
        assert_eq!(r.body["result"]["status"], "success", "{}", r.body);
        let r = get_as(&d, "t2", &format!("/executions/{execution}")).await;
        assert_eq!(common::assert_error_body(&r, 404), "Executor.NotFound");
    }
}
