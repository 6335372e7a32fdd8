//! Results reach the control plane, exactly once as it sees them, through failures, a closed
//! port, an outage, and a daemon killed with 100 results still pending.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::control_plane::{ClosedPort, ControlPlane};
use crate::common::Daemon;
use serde_json::json;

const TOKEN: &str = "cp-test-token";

fn env<'a>(url: &'a str, fallback: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("CONTROL_PLANE_URL", url),
        ("INTERNAL_API_TOKEN", TOKEN),
        ("DELIVERY_BACKOFF_MAX_SECS", "0.5"),
        ("HEARTBEAT_INTERVAL_SECS", "0.5"),
        ("RESULTS_FALLBACK_DIR", fallback),
    ]
}

#[tokio::test]
async fn results_heartbeats_and_lifecycle_reach_the_control_plane() {
    let cp = ControlPlane::start().await;
    let fallback = tempfile::tempdir().unwrap();
    let url = cp.url();
    let mut d = Daemon::start_with(&env(&url, fallback.path().to_str().unwrap())).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let code =
        "import time\ndef handler(event):\n    time.sleep(1.5)\n    print('out')\n    return {'n': event['n'] + 1}";
    let r = d.execute(json!({"code": code, "event": {"n": 1}, "execution_id": "cp-1"})).await;
    assert_eq!(r["status"], "success", "{r}");
    assert!(cp.wait_for(Duration::from_secs(10), |cp| cp.accepted().contains_key("cp-1")).await, "{:?}", cp.calls());
    let call = cp.calls_to("/executions/cp-1/result").remove(0);
    assert_eq!(call.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(call.headers["idempotency-key"], "cp-1");
    assert_eq!(call.body["status"], "success");
    assert_eq!(call.body["stdout"], "out\n");
    assert_eq!(call.body["return_value"], json!({"n": 2}));
    assert_eq!(call.body["exit_code"], 0);
    assert!(call.body["metrics"]["duration_ms"].as_f64().unwrap() > 1000.0);
    assert!(call.body["artifacts"].is_array());
    let beats = cp.calls_to("/executions/cp-1/heartbeat");
    assert!(beats.len() >= 2, "expected heartbeats during a 1.5 s run, got {}", beats.len());
    assert!(beats[0].body["timestamp"].is_string());
    let ready = cp.calls_to("/containers/ready");
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].body["event_type"], "ready");
    assert_eq!(ready[0].body["executor_port"], d.port);

    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(20)).await.expect("the daemon stops on SIGTERM");
    assert_eq!(status.code(), Some(0));
    let exited = cp.calls_to("/containers/exited");
    assert_eq!(exited.len(), 1, "{:?}", cp.calls());
    assert_eq!(exited[0].body["exit_reason"], "sigterm");
    assert_eq!(exited[0].body["exit_code"], 0);
}

#[tokio::test]
async fn delivery_retries_through_server_errors() {
    let cp = ControlPlane::start().await;
    cp.fail_next_results(3);
    let fallback = tempfile::tempdir().unwrap();
    let url = cp.url();
    let d = Daemon::start_with(&env(&url, fallback.path().to_str().unwrap())).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    d.execute(json!({"code": "echo hi", "language": "shell", "execution_id": "retry-1"})).await;
    assert!(cp.wait_for(Duration::from_secs(15), |cp| cp.accepted().contains_key("retry-1")).await);
    assert_eq!(cp.calls_to("/executions/retry-1/result").len(), 4, "three 500s, then the delivery");
}

#[tokio::test]
async fn a_refused_result_is_dead_lettered_at_once_and_visible() {
    let cp = ControlPlane::start().await;
    cp.reject_results();
    let fallback = tempfile::tempdir().unwrap();
    let url = cp.url();
    let d = Daemon::start_with(&env(&url, fallback.path().to_str().unwrap())).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    d.execute(json!({"code": "true", "language": "shell", "execution_id": "refused-1"})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut outbox = d.get("/outbox").await.body;
    while outbox["dead"] != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        outbox = d.get("/outbox").await.body;
    }
    assert_eq!(outbox["dead"], 1, "{outbox}");
    assert_eq!(outbox["dead_letters"][0]["execution_id"], "refused-1");
    assert!(outbox["dead_letters"][0]["reason"].as_str().unwrap().contains("400"), "{outbox}");
    assert_eq!(outbox["dead_letters"][0]["attempts"], 1, "the rejected attempt counts: {outbox}");
    let other = d.client().get(format!("{}/outbox", d.base)).header("X-Tenant-ID", "t2").send().await.unwrap();
    let other: serde_json::Value = other.json().await.unwrap();
    assert_eq!(other["dead_letters"], json!([]), "another tenant sees none of its dead letters: {other}");
    assert_eq!(cp.calls_to("/executions/refused-1/result").len(), 1, "a 400 is not retried");
    let text = d.client().get(format!("{}/metrics", d.base)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("sandbox_outbox_dead 1"), "{text}");
}

#[tokio::test]
async fn results_wait_in_fallback_files_until_a_closed_port_opens() {
    let port = ClosedPort::new();
    let url = port.url();
    let fallback = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&env(&url, fallback.path().to_str().unwrap())).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    for i in 0..3 {
        d.execute(json!({"code": "echo waiting", "language": "shell", "execution_id": format!("closed-{i}")})).await;
    }
    let file = fallback.path().join("closed-0.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).expect("fallback file")).unwrap();
    assert_eq!(saved["execution_id"], "closed-0");
    assert_eq!(saved["result"]["stdout"], "waiting\n");
    let cp = ControlPlane::start_on(port).await;
    let all = |cp: &ControlPlane| (0..3).all(|i| cp.accepted().contains_key(&format!("closed-{i}")));
    assert!(cp.wait_for(Duration::from_secs(15), all).await, "{:?}", cp.accepted());
    let deadline = Instant::now() + Duration::from_secs(5);
    while file.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!file.exists(), "the fallback file stays after delivery");
}

#[tokio::test]
async fn a_daemon_killed_with_100_results_pending_delivers_them_all_after_restart() {
    let port = ClosedPort::new();
    let url = port.url();
    let fallback = tempfile::tempdir().unwrap();
    let fallback_dir = fallback.path().to_str().unwrap().to_string();
    let d = Daemon::start_with(&env(&url, &fallback_dir)).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let ids: Vec<String> = (0..100).map(|i| format!("pending-{i:03}")).collect();
    for batch in ids.chunks(10) {
        let runs = batch.iter().map(|id| d.execute(json!({"code": "true", "language": "shell", "execution_id": id})));
        futures::future::join_all(runs).await;
    }
    let state = d.kill_hard();
    let cp = ControlPlane::start_on(port).await;
    let _d = Daemon::start_in(state, &env(&url, &fallback_dir)).await;
    let all = |cp: &ControlPlane| cp.accepted().len() == 100;
    assert!(cp.wait_for(Duration::from_secs(60), all).await, "delivered {} of 100", cp.accepted().len());
    let accepted = cp.accepted();
    for id in &ids {
        assert_eq!(accepted.get(id), Some(&1), "{id} was not accepted exactly once");
    }
}

/// The scenario as written: the control plane is down for the first minute of a run.
#[tokio::test]
async fn a_control_plane_down_for_the_first_minute_misses_nothing() {
    let port = ClosedPort::new();
    let url = port.url();
    let fallback = tempfile::tempdir().unwrap();
    let mut vars = env(&url, fallback.path().to_str().unwrap());
    vars.retain(|(k, _)| *k != "DELIVERY_BACKOFF_MAX_SECS");
    vars.push(("DELIVERY_BACKOFF_MAX_SECS", "5"));
    let d = Daemon::start_with(&vars).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let started = Instant::now();
    let mut ids = Vec::new();
    while started.elapsed() < Duration::from_secs(55) {
        let id = format!("outage-{}", ids.len());
        let r = d.execute(json!({"code": "date +%s", "language": "shell", "execution_id": id})).await;
        assert_eq!(r["status"], "success", "{r}");
        ids.push(id);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(started.elapsed())).await;
    let cp = ControlPlane::start_on(port).await;
    let all = |cp: &ControlPlane| ids.iter().all(|id| cp.accepted().contains_key(id));
    assert!(cp.wait_for(Duration::from_secs(20), all).await, "delivered {:?} of {ids:?}", cp.accepted());
    assert!(cp.accepted().values().all(|n| *n == 1));
}

/// An empty `CONTROL_PLANE_URL` (a compose file's `${CONTROL_PLANE_URL:-}`) is no control
/// plane: the daemon starts standalone, as without the variable, and delivers nothing.
#[tokio::test]
async fn an_empty_control_plane_url_runs_standalone() {
    let d = Daemon::start_with(&[("CONTROL_PLANE_URL", "")]).await;
    let outbox = d.get("/outbox").await;
    assert_eq!(outbox.status, 404, "an empty URL must not deliver: {}", outbox.body);
}
