//! Three daemons on loopback as peers, as pods behind one Service: a session created through
//! one is used through the other two, an async execution started on one is read through
//! another, tokens and tenants hold on forwarded calls, and a peer that stopped gives 503
//! naming it, and a session's processes are reached through a peer (`peer_faults` has peers
//! that freeze or die during a call).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Daemon};

pub(crate) const TOKEN: &str = "peer-test-token";

async fn peer(port: u16) -> Daemon {
    peer_with_token(port, TOKEN).await
}

async fn peer_with_token(port: u16, token: &str) -> Daemon {
    peer_with(port, &[("EXECUTOR_API_TOKEN", token)]).await
}

/// A peer on `port` (its name), with the test's token unless `extra` names another, and `extra`.
pub(crate) async fn peer_with(port: u16, extra: &[(&str, &str)]) -> Daemon {
    let port = port.to_string();
    let mut env = vec![
        ("EXECUTOR_PORT", port.as_str()),
        ("EXECUTOR_NODE", port.as_str()),
        ("EXECUTOR_PEER_URL", "http://127.0.0.1:{node}"),
        ("EXECUTOR_API_TOKEN", TOKEN),
        ("SANDBOX_WARM_POOL", "0"),
    ];
    env.retain(|(name, _)| !extra.iter().any(|(other, _)| other == name));
    env.extend_from_slice(extra);
    Daemon::start_with(&env).await
}

/// A call as a tenant with the token; returns the status and the JSON body.
pub(crate) async fn call(d: &Daemon, method: &str, path: &str, tenant: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", d.base);
    let request = match method {
        "GET" => d.client().get(url),
        "PUT" => d.client().put(url),
        _ => d.client().post(url),
    };
    let request = request.bearer_auth(TOKEN).header("X-Tenant-ID", tenant);
    let request = match body {
        Some(Value::String(text)) => request.body(text),
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.expect("the call is answered");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test]
async fn peers_serve_each_others_sessions_and_executions() {
    let ports = [common::free_port(), common::free_port(), common::free_port()];
    let (a, b, c) = (peer(ports[0]).await, peer(ports[1]).await, peer(ports[2]).await);
    if !common::sandbox_or_skip(&a).await {
        return;
    }
    let (status, created) = call(&a, "POST", "/session/create", "t1", Some(json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["session_id"].as_str().unwrap().to_string();
    assert!(id.starts_with(&format!("{}.", ports[0])), "the id names its daemon: {id}");
    let cell = |code: &str| Some(json!({"session_id": id, "code": code, "language": "python"}));
    let (status, r) = call(&b, "POST", "/session/execute", "t1", cell("x = 41")).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("success")), "{r}");
    let (_, r) = call(&c, "POST", "/session/execute", "t1", cell("x + 1")).await;
    assert_eq!(r["return_value"], 42, "the session's state lives on its daemon: {r}");
    let file = format!("/session/{id}/files/notes.txt");
    let (status, r) = call(&c, "PUT", &file, "t1", Some(json!("from c"))).await;
    assert!(status < 300, "{status} {r}");
    let (status, r) = call(&b, "GET", &file, "t1", None).await;
    assert_eq!((status, r), (200, json!("from c")));

    // Tenants and tokens hold on forwarded calls.
    let (status, r) = call(&b, "POST", "/session/execute", "t2", cell("x")).await;
    assert_eq!((status, r["error_code"].as_str()), (404, Some("Executor.NotFound")), "{r}");
    let anonymous = b.client().post(format!("{}/session/execute", b.base)).json(&cell("x")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let run = async_run_read_through_a_peer(&a, &c, &b, ports[0]).await;

    made_up_and_spoofed_ids_reach_nothing(&b, &id).await;

    // A peer that stopped: its ids are its, and it cannot be reached: 503 naming it, at once.
    a.signal("TERM");
    let mut a = a;
    a.wait_exit(Duration::from_secs(30)).await.expect("the peer stops");
    let started = Instant::now();
    let (status, r) = call(&b, "POST", "/session/execute", "t1", cell("x")).await;
    assert_eq!((status, r["error_code"].as_str()), (503, Some("Executor.PeerUnavailable")), "{r}");
    assert_eq!(r["peer"], ports[0].to_string(), "{r}");
    assert!(started.elapsed() < Duration::from_secs(10), "a gone peer does not hang the call");
    let (status, r) = call(&c, "GET", &format!("/executions/{run}"), "t1", None).await;
    assert_eq!((status, r["error_code"].as_str()), (503, Some("Executor.PeerUnavailable")), "{r}");
}

/// An async execution started on `owner` is read through `reader`, and not by another tenant
/// through `other`; returns its id.
async fn async_run_read_through_a_peer(owner: &Daemon, reader: &Daemon, other: &Daemon, node: u16) -> String {
    let body = json!({"code": "sleep 1; echo later", "language": "shell", "async": true});
    let (status, accepted) = call(owner, "POST", "/execute", "t1", Some(body)).await;
    assert_eq!(status, 202, "{accepted}");
    let run = accepted["execution_id"].as_str().unwrap().to_string();
    assert!(run.starts_with(&format!("{}.exec_", node)), "{run}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let record = loop {
        let (status, record) = call(reader, "GET", &format!("/executions/{run}"), "t1", None).await;
        assert_eq!(status, 200, "{record}");
        if record["state"] == "finished" || Instant::now() > deadline {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(record["result"]["stdout"], "later\n", "{record}");
    let (status, _) = call(other, "GET", &format!("/executions/{run}"), "t2", None).await;
    assert_eq!(status, 404, "another tenant's execution, through a peer");

    run
}

/// Ids that name no peer, and calls posing as forwarded, are unknown.
async fn made_up_and_spoofed_ids_reach_nothing(b: &Daemon, id: &str) {
    // An id made up to name some other host is not a way out: only peers' URLs are reached.
    for made_up in ["evil.0123456789ab", "127.0.0.1.0123456789ab"] {
        let body = Some(json!({"session_id": made_up, "code": "1", "language": "python"}));
        let (status, r) = call(b, "POST", "/session/execute", "t1", body).await;
        assert_eq!((status, r["error_code"].as_str()), (404, Some("Executor.NotFound")), "{made_up}: {r}");
    }
    // A name that makes a peer's URL (port 1 here) is a peer that cannot be reached.
    let body = Some(json!({"session_id": "1.0123456789ab", "code": "1", "language": "python"}));
    let (status, r) = call(b, "POST", "/session/execute", "t1", body).await;
    assert_eq!(
        (status, r["error_code"].as_str(), r["peer"].as_str()),
        (503, Some("Executor.PeerUnavailable"), Some("1"))
    );
    // A caller cannot pass a call off as forwarded to have another daemon's id served here.
    let spoofed = b
        .client()
        .post(format!("{}/session/execute", b.base))
        .bearer_auth(TOKEN)
        .header("X-Tenant-ID", "t1")
        .header("x-executor-forwarded-by", "x")
        .json(&json!({"session_id": id, "code": "x", "language": "python"}))
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status().as_u16(), 404, "served where it is not: unknown");
}

/// The daemon that owns a session checks the token of a forwarded call itself: a peer that
/// took another token cannot pass its callers through.
#[tokio::test]
async fn the_owner_checks_the_token_of_a_forwarded_call() {
    let (owner_port, other_port) = (common::free_port(), common::free_port());
    let owner = peer(owner_port).await;
    let other = peer_with_token(other_port, "another-token").await;
    if !common::sandbox_or_skip(&owner).await {
        return;
    }
    let (status, created) = call(&owner, "POST", "/session/create", "t1", Some(json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["session_id"].as_str().unwrap();
    let forwarded = other
        .client()
        .post(format!("{}/session/execute", other.base))
        .bearer_auth("another-token")
        .header("X-Tenant-ID", "t1")
        .json(&json!({"session_id": id, "code": "1", "language": "python"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status().as_u16(), 401, "the owner refuses a token that is not its own");
}

#[tokio::test]
async fn a_streamed_cell_comes_through_a_peer_as_it_goes() {
    let ports = [common::free_port(), common::free_port()];
    let (a, b) = (peer(ports[0]).await, peer(ports[1]).await);
    if !common::sandbox_or_skip(&a).await {
        return;
    }
    let (status, created) = call(&a, "POST", "/session/create", "t1", Some(json!({}))).await;
    assert_eq!(status, 201, "{created}");
    let id = created["session_id"].as_str().unwrap().to_string();
    let code = "import os, time\nprint('waiting', flush=True)\nwhile not os.path.exists('go'):\n    time.sleep(0.01)";
    let request = b.client().post(format!("{}/session/execute", b.base)).bearer_auth(TOKEN);
    let request = request.header("X-Tenant-ID", "t1").header("Accept", "text/event-stream");
    let response = request.json(&json!({"session_id": id, "code": code})).send().await.expect("POST");
    let mut events = crate::streaming::Events::of(response);
    // The first chunk comes through b while the cell, on a, still waits for the file.
    events.until_stdout("waiting\n").await;
    let (status, r) = call(&b, "PUT", &format!("/session/{id}/files/go"), "t1", Some(json!(""))).await;
    assert!(status < 300, "{status} {r}");
    let (_, done) = events.rest().await;
    assert_eq!((done["status"].as_str(), done["stdout"].as_str()), (Some("success"), Some("waiting\n")), "{done}");
}

/// A session's processes are reached through a peer as on their own daemon: started, listed,
/// fed, their events streamed to the exit (and no more), their output read after their end.
#[tokio::test]
async fn a_sessions_processes_are_reached_through_a_peer() {
    let ports = [common::free_port(), common::free_port()];
    let (a, b) = (peer(ports[0]).await, peer(ports[1]).await);
    if !common::sandbox_or_skip(&a).await {
        return;
    }
    let (_, created) = call(&a, "POST", "/session/create", "t1", Some(json!({}))).await;
    let processes = format!("/session/{}/processes", created["session_id"].as_str().unwrap());
    let (status, r) = call(&b, "POST", &processes, "t1", Some(json!({"argv": ["cat"], "stdin": true}))).await;
    assert_eq!(status, 201, "{r}");
    let pid = r["pid"].as_i64().unwrap();
    let (_, listed) = call(&b, "GET", &processes, "t1", None).await;
    assert_eq!(listed["processes"][0]["pid"], pid, "{listed}");
    let (status, r) = call(&b, "GET", &processes, "t2", None).await;
    assert_eq!((status, r["error_code"].as_str()), (404, Some("Executor.NotFound")), "{r}");
    let events = b.client().get(format!("{}{processes}/{pid}/events", b.base)).bearer_auth(TOKEN);
    let events = events.header("X-Tenant-ID", "t1").send().await.unwrap();
    let stdin = Some(json!({"data": "through b\n", "eof": true}));
    let (status, r) = call(&b, "POST", &format!("{processes}/{pid}/stdin"), "t1", stdin).await;
    assert_eq!(status, 200, "{r}");
    let streamed = tokio::time::timeout(Duration::from_secs(20), events.text()).await.unwrap().unwrap();
    assert!(streamed.contains("{\"text\":\"through b\\n\"}"), "{streamed}");
    assert!(streamed.trim_end().ends_with("event: exit\ndata: {\"exit_code\":0,\"signal\":null}"), "{streamed}");
    let (_, output) = call(&b, "GET", &format!("{processes}/{pid}/output?from=8"), "t1", None).await;
    assert_eq!((output["chunks"][0]["text"].as_str(), output["running"].as_bool()), (Some("b\n"), Some(false)));
}
