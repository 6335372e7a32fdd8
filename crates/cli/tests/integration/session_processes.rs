//! Processes of a session's box through our own API: a server started by one process answers
//! another, stdin, signals, the list, output read after the end, server-sent events, a
//! terminal's size, other tenants kept out, and bad input refused.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::common::{self, Daemon, Response};

const TENANT: &str = "proc-owner";

async fn call(d: &Daemon, tenant: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
    let mut request = d.client().request(method, format!("{}{path}", d.base)).header("X-Tenant-ID", tenant);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Response { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

async fn post(d: &Daemon, tenant: &str, path: &str, body: Value) -> Response {
    call(d, tenant, reqwest::Method::POST, path, Some(body)).await
}

async fn get(d: &Daemon, tenant: &str, path: &str) -> Response {
    call(d, tenant, reqwest::Method::GET, path, None).await
}

async fn session(d: &Daemon) -> String {
    let r = post(d, TENANT, "/session/create", json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["session_id"].as_str().unwrap().to_owned()
}

/// Starts a process; its pid.
async fn start(d: &Daemon, sid: &str, body: Value) -> i64 {
    let r = post(d, TENANT, &format!("/session/{sid}/processes"), body.clone()).await;
    assert_eq!(r.status, 201, "{body}: {}", r.body);
    r.body["pid"].as_i64().unwrap_or_else(|| panic!("no pid: {}", r.body))
}

fn text_of(output: &Value) -> String {
    output["chunks"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect()
}

/// Reads a process's output (from 0) until `done` holds of it, within 20 s.
async fn output_until(d: &Daemon, sid: &str, pid: i64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get(d, TENANT, &format!("/session/{sid}/processes/{pid}/output?from=0")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if done(&r.body) {
            return r.body;
        }
        assert!(Instant::now() < deadline, "the output never got there: {}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_background_server_answers_another_process_and_its_output_is_read_after_its_end() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let server = json!({"command": "cd /tmp && exec python3 -m http.server 8765 --bind 127.0.0.1", "tag": "web"});
    let pid = start(&d, &sid, server).await;
    let listed = get(&d, TENANT, &format!("/session/{sid}/processes")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let web = listed.body["processes"].as_array().unwrap().iter().find(|p| p["pid"] == pid).cloned();
    let web = web.unwrap_or_else(|| panic!("the server is not listed: {}", listed.body));
    assert_eq!((web["tag"].clone(), web["pty"].clone()), (json!("web"), json!(false)), "{web}");
    assert!(web["argv"][2].as_str().unwrap().contains("http.server") && web["started_at"].is_string(), "{web}");
    let client = "for i in $(seq 100); do curl -sf http://127.0.0.1:8765/ && exit 0; sleep 0.1; done; exit 1";
    let r = post(&d, TENANT, &format!("/session/{sid}/processes"), json!({"command": client, "wait": true})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["exit_code"], 0, "{}", r.body);
    assert!(r.body["stdout"].as_str().unwrap().contains("Directory listing"), "{}", r.body);
    let r = post(&d, TENANT, &format!("/session/{sid}/processes/{pid}/signal"), json!({"signal": "SIGTERM"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ended = output_until(&d, &sid, pid, |o| o["running"] == false).await;
    assert_eq!((ended["signal"].clone(), ended["exit_code"].clone()), (json!(15), json!(143)), "{ended}");
    assert!(text_of(&ended).contains("\"GET / HTTP/1.1\" 200"), "{ended}");
    assert!(ended["chunks"].as_array().unwrap().iter().any(|c| c["stream"] == "stderr"), "{ended}");
    let listed = get(&d, TENANT, &format!("/session/{sid}/processes")).await;
    assert!(!listed.body["processes"].as_array().unwrap().iter().any(|p| p["pid"] == pid), "{}", listed.body);
    // From an offset: only what came after it; past the end: nothing.
    let next = ended["next"].as_u64().unwrap();
    let tail = get(&d, TENANT, &format!("/session/{sid}/processes/{pid}/output?from={}", next - 4)).await;
    assert_eq!((text_of(&tail.body).len(), tail.body["next"].as_u64()), (4, Some(next)), "{}", tail.body);
    assert_eq!(tail.body["dropped"], 0, "{}", tail.body);
}

#[tokio::test]
async fn stdin_feeds_a_process_and_bytes_that_are_not_utf8_come_back_exactly() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let pid = start(&d, &sid, json!({"argv": ["cat"], "stdin": true})).await;
    let path = format!("/session/{sid}/processes/{pid}/stdin");
    assert_eq!(post(&d, TENANT, &path, json!({"data": "hello\n"})).await.status, 200);
    assert_eq!(post(&d, TENANT, &path, json!({"data": "bye\n", "eof": true})).await.status, 200);
    let ended = output_until(&d, &sid, pid, |o| o["running"] == false).await;
    assert_eq!((text_of(&ended), ended["exit_code"].clone()), ("hello\nbye\n".into(), json!(0)), "{ended}");
    let raw = start(&d, &sid, json!({"command": "printf 'a\\377b'"})).await;
    let ended = output_until(&d, &sid, raw, |o| o["running"] == false).await;
    let chunk = &ended["chunks"][0];
    assert_eq!((chunk["text"].clone(), chunk["data_base64"].clone()), (json!("a\u{fffd}b"), json!("Yf9i")), "{ended}");
}

#[tokio::test]
async fn events_stream_the_output_then_the_exit() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let pid =
        start(&d, &sid, json!({"command": "sleep 0.5; for i in 1 2 3; do echo $i; sleep 0.2; done; exit 3"})).await;
    let url = format!("{}/session/{sid}/processes/{pid}/events", d.base);
    let response = d.client().get(url).header("X-Tenant-ID", TENANT).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = String::new();
    let mut chunks = response.bytes_stream();
    let reading = async {
        while let Some(chunk) = chunks.next().await {
            body.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    };
    tokio::time::timeout(Duration::from_secs(20), reading).await.expect("the stream ends with the process");
    for i in 1..=3 {
        assert!(body.contains(&format!("event: stdout\ndata: {{\"text\":\"{i}\\n\"}}")), "{body}");
    }
    assert!(body.trim_end().ends_with("event: exit\ndata: {\"exit_code\":3,\"signal\":null}"), "{body}");
    // After its end: what was kept, then the exit.
    let later = d.client().get(format!("{}/session/{sid}/processes/{pid}/events", d.base));
    let later = later.header("X-Tenant-ID", TENANT).send().await.unwrap().text().await.unwrap();
    assert!(later.contains("\"text\":\"2\\n\"") && later.contains("event: exit"), "{later}");
}

#[tokio::test]
async fn a_terminal_has_its_size_and_takes_a_new_one() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let pid = start(&d, &sid, json!({"argv": ["bash"], "stdin": true, "pty": {"cols": 100, "rows": 30}})).await;
    let stdin = format!("/session/{sid}/processes/{pid}/stdin");
    assert_eq!(post(&d, TENANT, &stdin, json!({"data": "stty size\n"})).await.status, 200);
    output_until(&d, &sid, pid, |o| text_of(o).contains("30 100")).await;
    let r = post(&d, TENANT, &format!("/session/{sid}/processes/{pid}/resize"), json!({"cols": 120, "rows": 40})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(post(&d, TENANT, &stdin, json!({"data": "stty size; exit 0\n"})).await.status, 200);
    let ended = output_until(&d, &sid, pid, |o| o["running"] == false).await;
    assert!(text_of(&ended).contains("40 120"), "{ended}");
    assert!(ended["chunks"].as_array().unwrap().iter().all(|c| c["stream"] == "pty"), "{ended}");
}

#[tokio::test]
async fn a_timed_out_wait_kills_the_process() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let body = json!({"command": "echo started; sleep 30", "wait": true, "timeout": 1});
    let began = Instant::now();
    let r = post(&d, TENANT, &format!("/session/{sid}/processes"), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(began.elapsed() < Duration::from_secs(10), "{:?}", began.elapsed());
    assert_eq!((r.body["timed_out"].clone(), r.body["signal"].clone()), (json!(true), json!(9)), "{}", r.body);
    assert_eq!(r.body["stdout"], "started\n", "{}", r.body);
}

#[tokio::test]
async fn another_tenant_finds_neither_the_session_nor_its_processes() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let pid = start(&d, &sid, json!({"argv": ["cat"], "stdin": true})).await;
    let base = format!("/session/{sid}/processes");
    let each = format!("{base}/{pid}");
    let calls: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::POST, base.clone(), Some(json!({"command": "echo hi"}))),
        (reqwest::Method::GET, base.clone(), None),
        (reqwest::Method::GET, format!("{each}/output"), None),
        (reqwest::Method::GET, format!("{each}/events"), None),
        (reqwest::Method::POST, format!("{each}/stdin"), Some(json!({"data": "intruder\n", "eof": true}))),
        (reqwest::Method::POST, format!("{each}/signal"), Some(json!({"signal": "SIGKILL"}))),
        (reqwest::Method::POST, format!("{each}/resize"), Some(json!({"cols": 10, "rows": 10}))),
    ];
    for (method, path, body) in calls {
        let r = call(&d, "someone-else", method.clone(), &path, body).await;
        assert_eq!(common::assert_error_body(&r, 404), "Executor.NotFound", "{method} {path}: {}", r.body);
        assert!(!r.body.to_string().contains("cat"), "{}", r.body);
    }
    // The owner's process is untouched: still running, nothing written to it.
    let listed = get(&d, TENANT, &base).await;
    assert!(listed.body["processes"].as_array().unwrap().iter().any(|p| p["pid"] == pid), "{}", listed.body);
    let output = get(&d, TENANT, &format!("{each}/output")).await;
    assert_eq!((text_of(&output.body), output.body["running"].clone()), (String::new(), json!(true)));
}

#[tokio::test]
async fn bad_input_is_refused_with_the_error_body() {
    let Some(d) = common::sandboxed().await else { return };
    let sid = session(&d).await;
    let base = format!("/session/{sid}/processes");
    let refused = [
        json!({}),
        json!({"command": "true", "argv": ["true"]}),
        json!({"argv": []}),
        json!({"command": "true", "env": {"1BAD": "x"}}),
        json!({"command": "true", "cwd": "relative/dir"}),
        json!({"command": "true", "shell": true}),
        json!({"command": "true", "timeout": 0}),
        json!({"command": "true", "wait": true, "timeout": -1}),
        json!({"command": "true", "pty": {"cols": 0, "rows": 10}}),
    ];
    for body in refused {
        let r = post(&d, TENANT, &base, body.clone()).await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "{body}: {}", r.body);
    }
    let huge = post(&d, TENANT, &base, json!({"command": "x".repeat(1024 * 1024 + 1)})).await;
    common::assert_error_body(&huge, 413);
    let pid = start(&d, &sid, json!({"argv": ["sleep", "30"]})).await;
    for signal in [json!("SIGNOPE"), json!(0), json!(99), json!(null)] {
        let r = post(&d, TENANT, &format!("{base}/{pid}/signal"), json!({"signal": signal})).await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "{signal}: {}", r.body);
    }
    let r = get(&d, TENANT, &format!("{base}/{pid}/output?from=minus")).await;
    common::assert_error_body(&r, 400);
    for unknown in [format!("{base}/999999/output"), format!("{base}/nope/output")] {
        let r = get(&d, TENANT, &unknown).await;
        assert_eq!(common::assert_error_body(&r, 404), "Executor.NotFound", "{unknown}: {}", r.body);
    }
    let r = post(&d, TENANT, "/session/0123456789ab/processes", json!({"command": "true"})).await;
    assert!(common::assert_error_body(&r, 404) == "Executor.NotFound" && r.body.to_string().contains("not found"));
    let r = post(&d, TENANT, &format!("{base}/{pid}/signal"), json!({"signal": 9})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
