//! Peers that freeze (SIGSTOP: the kernel still accepts their connections, nothing answers)
//! or die during a call. A call through another daemon answers 503 `Executor.PeerUnavailable`
//! naming the owner, with `Retry-After`, within its configured deadline, not a hang and not a
//! 404; the calls in flight to one peer (and one tenant's share of them) are
//! bounded, and their plain answers' size; a streamed answer relayed from a peer
//! that goes silent or dies ends with a `done` event carrying that error.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Daemon};
use crate::peers::{call, peer_with, TOKEN};
use crate::streaming::Events;

/// A daemon stopped with SIGSTOP, continued when this is dropped, whatever the test's end.
struct Frozen<'a>(&'a Daemon);

impl<'a> Frozen<'a> {
    fn new(daemon: &'a Daemon) -> Self {
        daemon.signal("STOP");
        Frozen(daemon)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        self.0.signal("CONT");
    }
}

/// A cell sent through `via`, as tenant t1: its status, `Retry-After` and JSON body.
async fn cell_through(client: reqwest::Client, via: String, session: String) -> (u16, Option<String>, Value) {
    cell_as(client, via, session, "t1").await
}

async fn cell_as(client: reqwest::Client, via: String, session: String, tenant: &str) -> (u16, Option<String>, Value) {
    let body = json!({"session_id": session, "code": "1", "language": "python"});
    let request = client.post(format!("{via}/session/execute")).bearer_auth(TOKEN).header("X-Tenant-ID", tenant);
    let response = request.json(&body).send().await.expect("the call is answered");
    let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry, response.json().await.unwrap_or(Value::Null))
}

async fn session_on(owner: &Daemon) -> String {
    let (status, created) = call(owner, "POST", "/session/create", "t1", Some(json!({}))).await;
    assert_eq!(status, 201, "{created}");
    created["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_frozen_owner_is_answered_for_with_503_naming_it() {
    let ports = [common::free_port(), common::free_port()];
    let a = peer_with(ports[0], &[]).await;
    let limits = [
        ("EXECUTOR_PEER_TIMEOUT_SECS", "2"),
        ("EXECUTOR_PEER_MAX_IN_FLIGHT", "4"),
        ("EXECUTOR_PEER_MAX_ANSWER_MB", "1"),
    ];
    let b = peer_with(ports[1], &limits).await;
    if !common::sandbox_or_skip(&a).await {
        return;
    }
    let (owner, session) = (ports[0].to_string(), session_on(&a).await);
    let (status, accepted) =
        call(&a, "POST", "/execute", "t1", Some(json!({"code": "echo hi", "language": "shell", "async": true}))).await;
    assert_eq!(status, 202, "{accepted}");
    let run = accepted["execution_id"].as_str().unwrap().to_owned();
    // A plain answer over the peer's cap is not relayed.
    let big_cell = json!({"session_id": session, "code": "print('x' * (2 << 20))", "language": "python"});
    let (status, r) = call(&b, "POST", "/session/execute", "t1", Some(big_cell)).await;
    assert_eq!((status, r["error_code"].as_str()), (502, Some("Executor.PeerAnswerTooLarge")), "{}", r["error_detail"]);
    // A file's bytes are no plain answer: they stream through whole, whatever their size.
    let file = format!("/session/{session}/files/big.txt");
    let (status, r) = call(&a, "PUT", &file, "t1", Some(Value::String("x".repeat(2 << 20)))).await;
    assert!(status < 300, "{status} {r}");
    let download = b.client().get(format!("{}{file}", b.base)).bearer_auth(TOKEN).header("X-Tenant-ID", "t1");
    let download = download.send().await.expect("the download is answered");
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.bytes().await.expect("the whole file").len(), 2 << 20);
    {
        let _frozen = Frozen::new(&a);
        // One call waits for the frozen owner; a second one of the tenant finds no place (a
        // tenant has a quarter of the 4 calls a peer may have), another tenant's does.
        let first = tokio::spawn(cell_through(b.client().clone(), b.base.clone(), session.clone()));
        // It holds its place for the 2 s of its wait and the 2 s of the health probe.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let other = tokio::spawn(cell_as(b.client().clone(), b.base.clone(), session.clone(), "t2"));
        let (status, retry, second) = cell_through(b.client().clone(), b.base.clone(), session.clone()).await;
        assert_eq!((status, second["error_code"].as_str()), (503, Some("Executor.PeerUnavailable")), "{second}");
        assert!(retry.is_some(), "{second}");
        assert!(second["error_detail"].as_str().unwrap().contains("in flight"), "{second}");
        let (status, _, other) = other.await.unwrap();
        assert_eq!(status, 503, "{other}");
        assert!(other["error_detail"].as_str().unwrap().contains("health probe"), "waited its turn: {other}");

        let (status, retry, first) = first.await.unwrap();
        assert_eq!((status, first["error_code"].as_str()), (503, Some("Executor.PeerUnavailable")), "{first}");
        assert_eq!((retry.as_deref(), first["peer"].as_str()), (Some("2"), Some(owner.as_str())), "{first}");
        let detail = first["error_detail"].as_str().unwrap();
        assert!(detail.contains(&owner) && detail.contains("health probe"), "{first}");

        let (status, read) = call(&b, "GET", &format!("/executions/{run}"), "t1", None).await;
        assert_eq!((status, read["peer"].as_str()), (503, Some(owner.as_str())), "{read}");
    }
    // Continued, the owner serves its session and its execution through the peer again.
    let (status, _, answer) = cell_through(b.client().clone(), b.base.clone(), session).await;
    assert_eq!((status, answer["return_value"].clone()), (200, json!(1)), "{answer}");
    let (status, read) = call(&b, "GET", &format!("/executions/{run}"), "t1", None).await;
    assert_eq!(status, 200, "{read}");
}

/// A streamed cell through `via` on `session` that prints `waiting` and then waits, read up
/// to that first chunk.
async fn waiting_stream(via: &Daemon, session: &str) -> Events {
    let code = "import os, time\nprint('waiting', flush=True)\nwhile not os.path.exists('go'):\n    time.sleep(0.01)";
    let request = via.client().post(format!("{}/session/execute", via.base)).bearer_auth(TOKEN);
    let request = request.header("X-Tenant-ID", "t1").header("Accept", "text/event-stream");
    let response = request.json(&json!({"session_id": session, "code": code})).send().await.expect("POST");
    let mut events = Events::of(response);
    events.until_stdout("waiting\n").await;
    events
}

/// The final `done` event of `events`, which must come within a minute.
async fn final_done(events: Events) -> Value {
    let rest = tokio::time::timeout(Duration::from_secs(60), events.rest()).await;
    rest.expect("the relayed stream ends").1
}

#[tokio::test]
async fn a_stream_relayed_from_an_owner_that_freezes_or_dies_ends_with_an_error() {
    let ports = [common::free_port(), common::free_port()];
    let a = peer_with(ports[0], &[]).await;
    let b = peer_with(ports[1], &[("EXECUTOR_PEER_STREAM_IDLE_SECS", "3")]).await;
    if !common::sandbox_or_skip(&a).await {
        return;
    }
    let owner = ports[0].to_string();
    let (first, second) = (session_on(&a).await, session_on(&a).await);

    let events = waiting_stream(&b, &first).await;
    let done = {
        let _frozen = Frozen::new(&a);
        final_done(events).await
    };
    assert_eq!(
        (done["error_code"].as_str(), done["peer"].as_str()),
        (Some("Executor.PeerUnavailable"), Some(owner.as_str()))
    );
    assert!(done["error_detail"].as_str().unwrap().contains("silent"), "{done}");

    let events = waiting_stream(&b, &second).await;
    let state = a.kill_hard();
    let done = final_done(events).await;
    assert_eq!(
        (done["error_code"].as_str(), done["peer"].as_str()),
        (Some("Executor.PeerUnavailable"), Some(owner.as_str()))
    );
    // A daemon on the dead one's state clears what it left.
    drop(Daemon::start_in(state, &[("SANDBOX_WARM_POOL", "0")]).await);
}
