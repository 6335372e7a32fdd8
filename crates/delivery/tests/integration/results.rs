//! Result delivery through the outbox against a stand-in control plane.

use std::time::Duration;

use crate::common::*;
use delivery::Deliverer;
use executor::ExecutionStatus;
use serde_json::json;

#[tokio::test]
async fn delivers_to_the_contract_url_with_headers_and_body() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(201)).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    let worker = deliverer.start();

    commit(&store, "exec-killed", ExecutionStatus::Killed);
    assert!(eventually(Duration::from_secs(3), || store.counts().unwrap().delivered == 1).await);

    let received = cp.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/api/v1/internal/executions/exec-killed/result");
    assert_eq!(request.header("authorization"), Some("Bearer test-token"));
    assert_eq!(request.header("idempotency-key"), Some("exec-killed"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = &request.body;
    assert_eq!(body["status"], "crashed", "our killed is the contract's crashed");
    assert_eq!(body["stdout"], "hello\n");
    assert_eq!(body["stderr"], "");
    assert_eq!(body["exit_code"], 137);
    assert_eq!(body["execution_time"], 0.25);
    assert_eq!(body["return_value"]["answer"], 42);
    let exact = format!(r#""return_value":{RETURN_VALUE}"#);
    assert!(request.text.contains(&exact), "the return value was not sent exactly: {}", request.text);
    assert_eq!(body["metrics"], json!({"duration_ms": 250.0, "cpu_time_ms": 120.5, "peak_memory_mb": 12.0}));
    assert_eq!(body["artifacts"], json!(["out/report.csv"]));
    assert_eq!(body["execution_id"], "exec-killed");
    assert_eq!(body["termination_reason"], "signal");
    assert_eq!(body["artifact_metadata"][0]["mime_type"], "text/csv");
    assert!(body["artifact_metadata"][0].get("content").is_none(), "file contents are not sent: {body}");
    assert!(!tmp.path().join("results").join("exec-killed.json").exists(), "delivered at once: no fallback file");

    deliverer.stop();
    worker.await.unwrap();
}

#[tokio::test]
async fn retries_through_server_errors_then_delivers() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![Reply::status(500), Reply::status(503), Reply::status(502)], Reply::status(201)).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();

    commit(&store, "exec-retry", ExecutionStatus::Success);
    assert!(eventually(Duration::from_secs(30), || store.counts().unwrap().delivered == 1).await);
    let received = cp.received();
    assert_eq!(received.len(), 4, "three failures, then the success");
    assert!(received.iter().all(|r| r.header("idempotency-key") == Some("exec-retry")));
    assert_eq!(received[3].body["status"], "success");
    assert_eq!(store.counts().unwrap().pending, 0);
    deliverer.stop();
}

#[tokio::test]
async fn a_duplicate_answered_200_counts_as_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(200).with_body("{\"message\":\"Result already recorded\"}")).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();
    commit(&store, "exec-dup", ExecutionStatus::Failed);
    assert!(eventually(Duration::from_secs(3), || store.counts().unwrap().delivered == 1).await);
    assert_eq!(cp.received()[0].body["status"], "failed");
    deliverer.stop();
}

#[tokio::test]
async fn waits_for_a_control_plane_that_comes_up_and_keeps_the_fallback_file_meanwhile() {
    let tmp = tempfile::tempdir().unwrap();
    // A port nobody listens on: bound, then released.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&url, tmp.path())).unwrap();
    deliverer.start();

    commit(&store, "exec-down", ExecutionStatus::Success);
    let file = tmp.path().join("results").join("exec-down.json");
    assert!(eventually(Duration::from_secs(3), || file.exists()).await, "fallback file written while unreachable");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!(r#""return_value":{RETURN_VALUE}"#)), "not kept exactly: {text}");
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["execution_id"], "exec-down");
    assert_eq!(saved["result"]["status"], "success");
    assert_eq!(saved["control_plane_url"], url);
    assert!(saved["persisted_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(pending(&store), 1);

    // The control plane comes up on that port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let cp = StandIn::serve(listener, vec![], Reply::status(201));
    assert!(eventually(Duration::from_secs(30), || store.counts().unwrap().delivered == 1).await);
    assert_eq!(cp.received_on("/executions/exec-down/result").len(), 1);
    assert!(eventually(Duration::from_secs(1), || !file.exists()).await, "fallback file removed once delivered");
    deliverer.stop();
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![Reply::status(429).with_header("retry-after", "1")], Reply::status(201)).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();

    commit(&store, "exec-busy", ExecutionStatus::Success);
    assert!(eventually(Duration::from_secs(4), || store.counts().unwrap().delivered == 1).await);
    let received = cp.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}, before Retry-After's 1 s");
    assert!(!tmp.path().join("results").join("exec-busy.json").exists(), "a busy control plane is reachable");
    deliverer.stop();
}

#[tokio::test]
async fn a_client_error_is_dead_lettered_at_once_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(400).with_body("{\"detail\":\"Invalid status: crashed\"}")).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();

    commit(&store, "exec-bad", ExecutionStatus::Killed);
    assert!(eventually(Duration::from_secs(3), || store.counts().unwrap().dead == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cp.received().len(), 1, "never retried");
    let dead = store.dead_letters("default", 10).unwrap();
    assert_eq!(dead[0].execution_id, "exec-bad");
    assert!(dead[0].reason.contains("400"), "{}", dead[0].reason);
    assert!(dead[0].reason.contains("Invalid status: crashed"), "{}", dead[0].reason);
    assert_eq!(dead[0].attempts, 1, "the rejected attempt counts");
    deliverer.stop();
}

#[tokio::test]
async fn gives_up_when_the_entry_is_older_than_max_age() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(503)).await;
    let store = open_store(tmp.path());
    let mut config = config(&cp.url, tmp.path());
    config.max_age = Duration::from_secs(2);
    let deliverer = Deliverer::new(store.clone(), config).unwrap();
    deliverer.start();

    commit(&store, "exec-old", ExecutionStatus::Success);
    assert!(eventually(Duration::from_secs(1), || cp.received().len() >= 2).await, "retried meanwhile");
    assert_eq!(store.counts().unwrap().dead, 0);
    assert!(eventually(Duration::from_secs(4), || store.counts().unwrap().dead == 1).await);
    let dead = store.dead_letters("default", 10).unwrap();
    assert!(dead[0].reason.contains("undelivered after"), "{}", dead[0].reason);
    assert!(dead[0].reason.contains("503"), "{}", dead[0].reason);
    assert_eq!(dead[0].attempts as usize, cp.received().len(), "every attempt counts, the last one too");
    // Not delivered: the operators' copy stays.
    assert!(tmp.path().join("results").join("exec-old.json").exists());
    deliverer.stop();
}
