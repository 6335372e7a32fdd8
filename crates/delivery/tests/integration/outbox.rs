//! The outbox worker's scheduling: resuming after a restart, flushing at shutdown, delivering
//! a backlog concurrently without sending an entry twice at once, and its latency.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::*;
use delivery::{Deliverer, FlushSummary};
use executor::ExecutionStatus;

#[tokio::test]
async fn pending_results_resume_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    {
        // The daemon dies before delivering anything: results committed, nobody sending.
        let store = open_store(tmp.path());
        for i in 0..5 {
            commit(&store, &format!("exec-{i}"), ExecutionStatus::Success);
        }
    }
    let cp = StandIn::start(vec![], Reply::status(201)).await;
    let store = open_store(tmp.path());
    assert_eq!(pending(&store), 5);
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();
    assert!(eventually(Duration::from_secs(3), || store.counts().unwrap().delivered == 5).await);
    assert_eq!(cp.received().len(), 5);
    deliverer.stop();
}

#[tokio::test]
async fn flush_attempts_entries_that_are_not_due_yet() {
    let tmp = tempfile::tempdir().unwrap();
    // The first three attempts are told to come back in a minute; later ones succeed.
    let busy = Reply::status(503).with_header("retry-after", "60");
    let cp = StandIn::start(vec![busy.clone(), busy.clone(), busy], Reply::status(201)).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    let worker = deliverer.start();
    for i in 0..3 {
        commit(&store, &format!("exec-{i}"), ExecutionStatus::Success);
    }
    assert!(eventually(Duration::from_secs(3), || cp.received().len() == 3).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pending(&store), 3, "all waiting for their Retry-After");

    deliverer.stop();
    worker.await.unwrap();
    let summary = deliverer.flush(Duration::from_secs(3)).await;
    assert_eq!(summary, FlushSummary { delivered: 3, retrying: 0, dead: 0, unattempted: 0 });
    assert_eq!(store.counts().unwrap().delivered, 3);
}

#[tokio::test]
async fn flush_stops_when_time_is_up() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(201).after(Duration::from_secs(1))).await;
    let store = open_store(tmp.path());
    for i in 0..3 {
        commit(&store, &format!("exec-{i}"), ExecutionStatus::Success);
    }
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    let started = Instant::now();
    let summary = deliverer.flush(Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(summary.unattempted, 3);
    assert_eq!(pending(&store), 3, "left pending for the next start");
}

#[tokio::test]
async fn a_slow_entry_does_not_hold_up_the_backlog() {
    let tmp = tempfile::tempdir().unwrap();
    let slow = Reply::status(201).after(Duration::from_millis(1500));
    let cp = StandIn::start(vec![slow], Reply::status(201)).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();

    commit(&store, "exec-slow", ExecutionStatus::Success);
    assert!(eventually(Duration::from_secs(1), || cp.received().len() == 1).await);
    for i in 0..20 {
        commit(&store, &format!("exec-{i}"), ExecutionStatus::Success);
    }
    assert!(
        eventually(Duration::from_secs(1), || store.counts().unwrap().delivered == 20).await,
        "the others were delivered while the slow one was under way"
    );
    assert_eq!(pending(&store), 1);
    assert!(eventually(Duration::from_secs(3), || store.counts().unwrap().delivered == 21).await);
    deliverer.stop();
}

#[tokio::test]
async fn no_entry_is_sent_twice_at_once_by_the_worker_and_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(201).after(Duration::from_millis(100))).await;
    let store = open_store(tmp.path());
    for i in 0..30 {
        commit(&store, &format!("exec-{i}"), ExecutionStatus::Success);
    }
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();
    let (a, b) = tokio::join!(deliverer.flush(Duration::from_secs(5)), deliverer.flush(Duration::from_secs(5)));
    assert!(eventually(Duration::from_secs(30), || store.counts().unwrap().delivered == 30).await);
    let mut sent: HashMap<String, usize> = HashMap::new();
    for request in cp.received() {
        *sent.entry(request.path).or_default() += 1;
    }
    assert_eq!(sent.len(), 30);
    assert!(sent.values().all(|&n| n == 1), "an entry was sent twice: {sent:?}");
    assert!(a.delivered + b.delivered <= 30);
    deliverer.stop();
}

#[tokio::test]
async fn delivery_latency_to_a_loopback_control_plane() {
    let tmp = tempfile::tempdir().unwrap();
    let cp = StandIn::start(vec![], Reply::status(201)).await;
    let store = open_store(tmp.path());
    let deliverer = Deliverer::new(store.clone(), config(&cp.url, tmp.path())).unwrap();
    deliverer.start();

    let mut committed = Vec::new();
    for i in 0..200 {
        let id = format!("exec-{i}");
        let store = store.clone();
        let at = tokio::task::spawn_blocking(move || {
            commit(&store, &id, ExecutionStatus::Success);
            Instant::now()
        })
        .await
        .unwrap();
        committed.push(at);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(eventually(Duration::from_secs(10), || store.counts().unwrap().delivered == 200).await);
    let received: HashMap<String, Instant> = cp.received().into_iter().map(|r| (r.path, r.at)).collect();
    let mut latencies: Vec<Duration> = (0..200)
        .map(|i| {
            received[&format!("/api/v1/internal/executions/exec-{i}/result")].saturating_duration_since(committed[i])
        })
        .collect();
    latencies.sort();
    println!(
        "commit-to-control-plane latency over 200 results: p50 {:?}, p95 {:?}, max {:?}",
        latencies[100], latencies[190], latencies[199]
    );
    deliverer.stop();
}
