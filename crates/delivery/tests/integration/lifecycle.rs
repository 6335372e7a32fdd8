//! Heartbeats and container events against a stand-in control plane.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use delivery::{Deliverer, DeliveryError};

#[tokio::test]
async fn heartbeats_for_each_running_execution() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(200)).await;
    let deliverer = Deliverer::new(open_store(tmp.path()), config(&cp.url, tmp.path())).unwrap();
    let running: delivery::RunningExecutions = Arc::new(|| {
        vec![("exec-a".to_owned(), Duration::from_millis(1500)), ("exec-b".to_owned(), Duration::from_millis(20))]
    });
    let beats = deliverer.start_heartbeats(running);

    // Interval 200 ms in tests: a few rounds in a second.
    assert!(eventually(Duration::from_secs(2), || cp.received_on("/exec-b/heartbeat").len() >= 3).await);
    deliverer.stop();
    beats.await.unwrap();

    let a = cp.received_on("/executions/exec-a/heartbeat");
    assert!(a.len() >= 3);
    assert_eq!(a[0].path, "/api/v1/internal/executions/exec-a/heartbeat");
    assert_eq!(a[0].header("authorization"), Some("Bearer test-token"));
    assert_eq!(a[0].body["progress"]["elapsed_ms"], 1500);
    let timestamp = a[0].body["timestamp"].as_str().unwrap();
    assert!(timestamp.len() == 24 && timestamp.ends_with('Z') && timestamp.contains('T'), "{timestamp}");
    let gap = a[1].at - a[0].at;
    assert!(gap >= Duration::from_millis(150), "beats {gap:?} apart");

    let after_stop = cp.received().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cp.received().len(), after_stop, "no beat after stop()");
}

#[tokio::test]
async fn failed_heartbeats_are_not_retried_and_do_not_stop_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![Reply::status(500), Reply::status(404)], Reply::status(200)).await;
    let deliverer = Deliverer::new(open_store(tmp.path()), config(&cp.url, tmp.path())).unwrap();
    let beats = deliverer.start_heartbeats(Arc::new(|| vec![("exec-a".to_owned(), Duration::from_secs(1))]));
    assert!(eventually(Duration::from_secs(2), || cp.received().len() >= 3).await);
    let received = cp.received();
    // One beat per interval: the failures were not retried in between.
    assert!(received[1].at - received[0].at >= Duration::from_millis(150));
    deliverer.stop();
    beats.await.unwrap();
}

#[tokio::test]
async fn ready_and_exited_events() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![Reply::status(503)], Reply::status(200)).await;
    let deliverer = Deliverer::new(open_store(tmp.path()), config(&cp.url, tmp.path())).unwrap();

    deliverer.report_ready().await.unwrap();
    deliverer.report_exited(143, "sigterm").await.unwrap();

    let ready = cp.received_on("/containers/ready");
    assert_eq!(ready.len(), 2, "retried after the 503");
    assert_eq!(ready[1].path, "/api/v1/internal/containers/ready");
    assert_eq!(ready[1].header("authorization"), Some("Bearer test-token"));
    let body = &ready[1].body;
    assert_eq!(body["event_type"], "ready");
    assert_eq!(body["container_id"], "container-1");
    assert_eq!(body["pod_name"], "pod-1");
    assert_eq!(body["executor_port"], 8080);
    assert!(body["ready_at"].as_str().unwrap().ends_with('Z'));

    let exited = cp.received_on("/containers/exited");
    assert_eq!(exited.len(), 1);
    let body = &exited[0].body;
    assert_eq!(body["event_type"], "exited");
    assert_eq!(body["exit_code"], 143);
    assert_eq!(body["exit_reason"], "sigterm");
    assert_eq!(body["container_id"], "container-1");
    assert!(body["exited_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn lifecycle_events_give_up_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(401).with_body("{\"detail\":\"bad token\"}")).await;
    let deliverer = Deliverer::new(open_store(tmp.path()), config(&cp.url, tmp.path())).unwrap();
    let refused = deliverer.report_ready().await.unwrap_err();
    assert!(matches!(refused, DeliveryError::Rejected { status: 401, .. }), "{refused}");
    assert_eq!(cp.received().len(), 1, "a rejection is not retried");

    // Nobody listening: a few quick attempts, then an error.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let deliverer = Deliverer::new(open_store(&tmp.path().join("b")), config(&url, tmp.path())).unwrap();
    let started = std::time::Instant::now();
    let unreachable = deliverer.report_exited(0, "normal").await.unwrap_err();
    assert!(matches!(unreachable, DeliveryError::Unreachable(_)), "{unreachable}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
