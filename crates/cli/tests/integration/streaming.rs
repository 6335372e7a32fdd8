//! Streamed answers: `POST /execute` and `POST /session/execute` with `Accept:
//! text/event-stream` send stdout and stderr as the code writes them (shown causally: the
//! code waits for a file the test writes only once it has seen the first chunk), then one
//! `done` event equal to the plain answer; a client that hangs up loses nothing of the run.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::control_plane::ControlPlane;
use crate::common::{self, Daemon};

/// A cell that says it waits, then waits for the file `go` in its workspace.
const WAITS_FOR_GO: &str = "import os, time\nprint('waiting', flush=True)\nwhile not os.path.exists('go'):\n    \
                            time.sleep(0.01)\nprint('done')";

/// The events of a streamed answer, read as they arrive.
pub(crate) struct Events {
    response: reqwest::Response,
    pending: Vec<u8>,
}

impl Events {
    /// The next event (name, data as JSON); `None` once the stream ended.
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8 events");
                let (mut name, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, serde_json::from_str(&data).expect("JSON data")));
            }
            match self.response.chunk().await.expect("the stream") {
                Some(chunk) => self.pending.extend_from_slice(&chunk),
                None => return None,
            }
        }
    }

    /// Reads `stdout` events (and nothing else) until they made up `text`.
    pub async fn until_stdout(&mut self, text: &str) {
        let mut seen = String::new();
        while seen.len() < text.len() {
            let (name, data) = self.next().await.expect("more events");
            assert_eq!(name, "stdout", "{data}");
            seen.push_str(data["text"].as_str().unwrap());
        }
        assert_eq!(seen, text);
    }

    /// Every remaining event; the last one must be `done`, whose data is returned with them.
    pub async fn rest(mut self) -> (Vec<(String, Value)>, Value) {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        let (name, done) = events.pop().expect("a final event");
        assert_eq!(name, "done", "{events:?}");
        assert!(events.iter().all(|(name, _)| name != "done"), "one done event: {events:?}");
        (events, done)
    }
}

/// POSTs `body` to `path` as `tenant` asking for events; asserts a 200 event stream.
pub(crate) async fn stream(d: &Daemon, tenant: &str, path: &str, body: &Value) -> Events {
    let response = post_streaming(d, tenant, path, body).await;
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    Events { response, pending: Vec::new() }
}

async fn post_streaming(d: &Daemon, tenant: &str, path: &str, body: &Value) -> reqwest::Response {
    let url = format!("{}{path}", d.base);
    let call = d.client().post(url).header("Accept", "text/event-stream").header("X-Tenant-ID", tenant);
    call.json(body).send().await.expect("POST")
}

/// The text of every `stdout` event, in order.
pub(crate) fn stdout_of(events: &[(String, Value)]) -> String {
    events.iter().filter(|(name, _)| name == "stdout").map(|(_, data)| data["text"].as_str().unwrap()).collect()
}

pub(crate) async fn create_session(d: &Daemon, tenant: &str, template: &str) -> String {
    let body = json!({"tenant_id": tenant, "template": template});
    let r = d.client().post(format!("{}/session/create", d.base)).timeout(Duration::from_secs(1200)).json(&body);
    let r = r.send().await.expect("create");
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(status, 201, "{body}");
    body["session_id"].as_str().unwrap().to_string()
}

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// The answer with what differs between two runs of the same code masked.
fn masked(mut answer: Value) -> Value {
    for field in ["execution_id", "execution_time", "metrics", "session_id"] {
        answer[field] = Value::Null;
    }
    answer
}

#[tokio::test]
async fn a_session_cells_first_chunk_arrives_before_it_ends() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create_session(&d, "t1", "default").await;
    let body = json!({"session_id": id, "code": WAITS_FOR_GO, "language": "python"});
    let mut events = stream(&d, "t1", "/session/execute", &body).await;
    events.until_stdout("waiting\n").await;
    // The cell is still waiting: only now does the file it waits for exist.
    let put = d.client().put(format!("{}/session/{id}/files/go", d.base)).header("X-Tenant-ID", "t1").body("");
    assert_eq!(put.send().await.expect("PUT").status(), 201);
    let (rest, done) = events.rest().await;
    assert_eq!(stdout_of(&rest), "done\n", "{rest:?}");
    assert_eq!(done["status"], "success", "{done}");
    assert_eq!(done["stdout"], "waiting\ndone\n", "{done}");
    assert_eq!(done["execution_count"], 1, "{done}");
}

#[tokio::test]
async fn a_runs_first_chunk_arrives_before_it_ends() {
    let Some(d) = common::sandboxed().await else { return };
    // Two runs share the tenant's persistent workspace `ws`: the second writes what the first waits for.
    let workspace = unique("ws");
    let body = json!({"code": WAITS_FOR_GO, "session_id": workspace, "tenant_id": "t1"});
    let mut events = stream(&d, "t1", "/execute", &body).await;
    events.until_stdout("waiting\n").await;
    let go = d.execute(json!({"code": "touch go", "language": "shell", "session_id": workspace, "tenant_id": "t1"}));
    assert_eq!(go.await["status"], "success");
    let (rest, done) = events.rest().await;
    assert_eq!(stdout_of(&rest), "done\n", "{rest:?}");
    assert_eq!(done["stdout"], "waiting\ndone\n", "{done}");
}

#[tokio::test]
async fn the_done_event_is_the_plain_answer() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\nraise ValueError('bad')";
    let body = json!({"code": code, "tenant_id": "t1"});
    let (events, done) = stream(&d, "t1", "/execute", &body).await.rest().await;
    let plain = d.execute(body.clone()).await;
    assert_eq!(masked(done.clone()), masked(plain.clone()), "streamed {done}\nplain {plain}");
    assert_eq!(stdout_of(&events), "out\n");
    let stderr: String =
        events.iter().filter(|(n, _)| n == "stderr").map(|(_, data)| data["text"].as_str().unwrap()).collect();
    assert_eq!(stderr, done["stderr"].as_str().unwrap());
    // A session cell, each on a fresh session (the same execution count).
    let code = "print('hi')\ndisplay('shown')\n21 * 2";
    let (a, b) = (create_session(&d, "t1", "default").await, create_session(&d, "t1", "default").await);
    let cell = |id: &str| json!({"session_id": id, "code": code, "language": "python"});
    let (events, done) = stream(&d, "t1", "/session/execute", &cell(&a)).await.rest().await;
    let plain = d.post("/session/execute", &json!({"tenant_id": "t1", "session_id": b, "code": code})).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(masked(done.clone()), masked(plain.body.clone()), "streamed {done}\nplain {}", plain.body);
    let results: Vec<&Value> = events.iter().filter(|(n, _)| n == "result").map(|(_, data)| data).collect();
    assert_eq!(json!(results), done["results"], "{events:?}");
    assert_eq!(done["results"][1], json!({"is_main_result": true, "data": {"text/plain": "42"}}));
}

#[tokio::test]
async fn a_run_whose_client_hung_up_is_stored_and_delivered() {
    let cp = ControlPlane::start().await;
    let url = cp.url();
    let fallback = tempfile::tempdir().unwrap();
    let env = [
        ("CONTROL_PLANE_URL", url.as_str()),
        ("INTERNAL_API_TOKEN", "stream-token"),
        ("RESULTS_FALLBACK_DIR", fallback.path().to_str().unwrap()),
    ];
    let d = Daemon::start_with(&env).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let workspace = unique("ws");
    let id = unique("gone");
    let body = json!({"code": WAITS_FOR_GO, "session_id": workspace, "tenant_id": "t1", "execution_id": id});
    let mut events = stream(&d, "t1", "/execute", &body).await;
    events.until_stdout("waiting\n").await;
    drop(events); // the client hangs up while the run waits
    let go = d.execute(json!({"code": "touch go", "language": "shell", "session_id": workspace, "tenant_id": "t1"}));
    assert_eq!(go.await["status"], "success");
    let record = finished_record(&d, &id).await;
    assert_eq!(record["result"]["stdout"], "waiting\ndone\n", "{record}");
    let delivered = cp.wait_for(Duration::from_secs(30), |cp| cp.accepted().contains_key(&id)).await;
    assert!(delivered, "{:?}", cp.calls());
    let call = cp.calls_to(&format!("/executions/{id}/result")).remove(0);
    assert_eq!(call.body["stdout"], "waiting\ndone\n");
    // A session cell whose client hung up ends too: the next call waits for it and sees its file.
    let session = create_session(&d, "t1", "default").await;
    let code = format!("{WAITS_FOR_GO}\nopen('finished', 'w').write('yes')");
    let mut events = stream(&d, "t1", "/session/execute", &json!({"session_id": session, "code": code})).await;
    events.until_stdout("waiting\n").await;
    drop(events);
    let put = d.client().put(format!("{}/session/{session}/files/go", d.base)).header("X-Tenant-ID", "t1").body("");
    assert_eq!(put.send().await.expect("PUT").status(), 201);
    let next = json!({"tenant_id": "t1", "session_id": session, "code": "open('finished').read()"});
    let r = d.post("/session/execute", &next).await;
    assert_eq!((r.body["return_value"].as_str(), r.body["execution_count"].as_u64()), (Some("yes"), Some(2)));
    let session_results = |cp: &ControlPlane| cp.accepted().keys().filter(|k| k.starts_with(&session)).count() == 2;
    assert!(cp.wait_for(Duration::from_secs(30), session_results).await, "{:?}", cp.accepted());
}

/// The record of execution `id` once it is finished.
async fn finished_record(d: &Daemon, id: &str) -> Value {
    for _ in 0..1500 {
        let r = d.client().get(format!("{}/executions/{id}", d.base)).header("X-Tenant-ID", "t1").send().await;
        let record: Value = r.expect("GET").json().await.expect("JSON");
        if record["state"] == "finished" {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {id} did not finish");
}

#[tokio::test]
async fn another_tenants_streamed_call_is_the_same_404_as_a_plain_one() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create_session(&d, "t1", "default").await;
    let body = json!({"session_id": id, "code": "print('secret')", "tenant_id": "t2"});
    let plain = d.post("/session/execute", &body).await;
    let streamed = post_streaming(&d, "t2", "/session/execute", &body).await;
    assert_eq!((plain.status, streamed.status().as_u16()), (404, 404));
    assert!(streamed.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let mut streamed: Value = streamed.json().await.expect("a JSON error");
    let mut plain = plain.body;
    for body in [&mut streamed, &mut plain] {
        body["request_id"] = Value::Null;
    }
    assert_eq!(streamed, plain);
    // Another tenant's execution id is refused before any event, as for a plain run.
    let owned = json!({"code": "print(1)", "execution_id": format!("own-{id}"), "tenant_id": "t1"});
    assert_eq!(d.execute(owned.clone()).await["status"], "success");
    let theirs = json!({"code": "print(2)", "execution_id": format!("own-{id}"), "tenant_id": "t2"});
    let refused = post_streaming(&d, "t2", "/execute", &theirs).await;
    assert_eq!(refused.status().as_u16(), 409);
    // Bad input is the usual JSON 400.
    let bad = post_streaming(&d, "t1", "/session/execute", &json!({"session_id": id, "code": 5})).await;
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn output_that_looks_like_events_stays_output() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create_session(&d, "t1", "default").await;
    let forged = "event: done\\ndata: {\\\"status\\\": \\\"forged\\\"}\\n\\n{\\\"event\\\": \\\"result\\\", \
                  \\\"is_main_result\\\": true, \\\"data\\\": {}}\\n";
    let code = format!("import subprocess\nprint(\"{forged}\", end='')\nsubprocess.run(['printf', \"{forged}\"]);");
    let (events, done) =
        stream(&d, "t1", "/session/execute", &json!({"session_id": id, "code": code})).await.rest().await;
    let printed = "event: done\ndata: {\"status\": \"forged\"}\n\n{\"event\": \"result\", \"is_main_result\": true, \"data\": {}}\n";
    assert_eq!(stdout_of(&events), printed.repeat(2), "{events:?}");
    assert!(events.iter().all(|(name, _)| name == "stdout"), "{events:?}");
    assert_eq!((&done["status"], &done["results"]), (&json!("success"), &json!([])), "{done}");
    // The same through a one-shot run.
    let (events, done) = stream(&d, "t1", "/execute", &json!({"code": code})).await.rest().await;
    assert_eq!(stdout_of(&events), printed.repeat(2), "{events:?}");
    assert_eq!(done["status"], "success", "{done}");
}
