//! The outbox: queuing, due entries, retries, delivery, dead letters, restarts, purging, wake-ups.

use std::sync::Arc;
use std::time::Duration;

use executor::ExecutionRecorder;

use super::{db_path, json, open, result, run, start};
use crate::{DeadLetter, OutboxCounts};

#[test]
fn results_are_queued_only_when_delivering() {
    let (_dir, path) = db_path();
    let store = open(&path, false);
    run(&store, "quiet", "x");
    assert_eq!(store.counts().expect("counts"), OutboxCounts::default());
    assert_eq!(store.next_due_at().expect("next"), None);
    drop(store);

    let store = open(&path, true);
    let before = executor::recorder::now_ms();
    store.started(&start("loud", before)).expect("started");
    assert_eq!(store.counts().expect("counts").pending, 0, "nothing is queued before the result");
    let done = result("loud", "y");
    store.finished(&done).expect("finished");
    let due = store.due(executor::recorder::now_ms(), 10).expect("due");
    assert_eq!(due.len(), 1);
    let entry = &due[0];
    assert_eq!((entry.execution_id.as_str(), entry.attempts), ("loud", 0));
    assert!(entry.created_at_ms >= before);
    // What is delivered is the result's exact text: its big integers unrounded.
    assert_eq!(entry.result, json(&done).get());
}

#[test]
fn entries_go_through_retries_to_delivery_or_dead_letter() {
    let (_dir, path) = db_path();
    let store = open(&path, true);
    for id in ["a", "b", "c"] {
        run(&store, id, id);
    }
    let now = executor::recorder::now_ms();
    let due = store.due(now, 2).expect("due");
    let ids: Vec<_> = due.iter().map(|d| d.execution_id.as_str()).collect();
    assert_eq!(ids, ["a", "b"], "oldest first, at most the limit");
    let (a, b) = (due[0].id, due[1].id);
    let c = store.due(now, 10).expect("due")[2].id;

    store.retry_later(a, 1, now + 60_000, "connection refused").expect("retry");
    assert_eq!(store.due(now, 10).expect("due").len(), 2, "a is no longer due");
    store.mark_delivered(b, now).expect("delivered");
    assert_eq!(store.next_due_at().expect("next"), Some(store.due(now, 10).expect("due")[0].created_at_ms));
    store.dead_letter(c, 1, "401 Unauthorized", now + 5).expect("dead");
    assert_eq!(store.next_due_at().expect("next"), Some(now + 60_000));
    assert!(store.due(now, 10).expect("due").is_empty());

    let later = store.due(now + 60_000, 10).expect("due");
    assert_eq!((later.len(), later[0].attempts), (1, 1));
    assert_eq!(store.counts().expect("counts"), OutboxCounts { pending: 1, delivered: 1, dead: 1 });

    store.dead_letter(a, 2, "gave up after 2 attempts", now + 10).expect("dead");
    let dead = store.dead_letters("default", 10).expect("dead letters");
    let expected_a = DeadLetter {
        execution_id: "a".into(),
        reason: "gave up after 2 attempts".into(),
        attempts: 2,
        dead_at_ms: now + 10,
    };
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0], expected_a, "newest first");
    assert_eq!((dead[1].execution_id.as_str(), dead[1].attempts), ("c", 1), "the attempt that was rejected counts");
    assert_eq!(store.dead_letters("default", 1).expect("dead letters").len(), 1);
    assert!(store.dead_letters("acme", 10).expect("dead letters").is_empty(), "only the tenant's own");
    assert_eq!(store.next_due_at().expect("next"), None);

    // A late report about a settled entry changes nothing.
    store.mark_delivered(c, now).expect("late report");
    assert_eq!(store.counts().expect("counts"), OutboxCounts { pending: 0, delivered: 1, dead: 2 });
}

#[test]
fn pending_entries_survive_a_restart() {
    let (_dir, path) = db_path();
    let now = {
        let store = open(&path, true);
        run(&store, "r1", "one");
        run(&store, "r2", "two");
        let now = executor::recorder::now_ms();
        let first = store.due(now, 1).expect("due")[0].id;
        store.mark_delivered(first, now).expect("delivered");
        now
    };
    let store = open(&path, true);
    let due = store.due(now, 10).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].execution_id, "r2");
    assert_eq!(store.counts().expect("counts"), OutboxCounts { pending: 1, delivered: 1, dead: 0 });
}

#[test]
fn purging_keeps_what_is_pending_or_recent() {
    let (_dir, path) = db_path();
    let store = open(&path, true);
    for id in ["delivered", "dead", "pending"] {
        run(&store, id, id);
    }
    store.started(&start("running", 0)).expect("started");
    let now = executor::recorder::now_ms();
    let due = store.due(now, 10).expect("due");
    store.mark_delivered(due[0].id, now).expect("delivered");
    store.dead_letter(due[1].id, 1, "gone", now).expect("dead");

    assert_eq!(store.purge_finished_before(now - 60_000).expect("purge"), 0, "all are recent");
    assert_eq!(store.purge_finished_before(now + 1).expect("purge"), 2);
    for (id, kept) in [("delivered", false), ("dead", false), ("pending", true), ("running", true)] {
        assert_eq!(store.lookup(id).expect("lookup").is_some(), kept, "{id}");
    }
    assert_eq!(store.counts().expect("counts"), OutboxCounts { pending: 1, delivered: 0, dead: 0 });
    assert!(store.dead_letters("default", 10).expect("dead letters").is_empty());
}

#[tokio::test]
async fn a_waiting_deliverer_wakes_on_a_new_entry() {
    let (_dir, path) = db_path();
    let store = Arc::new(open(&path, true));
    let waiter = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.outbox_changed().await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "nothing was added yet");
    run(&store, "wake", "up");
    tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("woken").expect("task");
}

#[tokio::test]
async fn an_entry_added_before_the_wait_is_not_missed() {
    let (_dir, path) = db_path();
    let store = open(&path, true);
    let pending = tokio::time::timeout(Duration::from_millis(50), store.outbox_changed()).await;
    assert!(pending.is_err(), "no entry yet");
    // Two entries before anybody waits: one return reports both, the next call waits again.
    run(&store, "early-1", "x");
    run(&store, "early-2", "x");
    tokio::time::timeout(Duration::from_secs(5), store.outbox_changed()).await.expect("returns at once");
    let again = tokio::time::timeout(Duration::from_millis(50), store.outbox_changed()).await;
    assert!(again.is_err(), "both additions were reported by the first return");
}

#[tokio::test]
async fn recovery_and_non_delivering_stores_wake_as_they_should() {
    let (_dir, path) = db_path();
    {
        let quiet = open(&path, false);
        run(&quiet, "no-entry", "x");
        let woke = tokio::time::timeout(Duration::from_millis(50), quiet.outbox_changed()).await;
        assert!(woke.is_err(), "no entry was added");
        quiet.started(&start("left-running", 0)).expect("started");
    }
    let store = open(&path, true);
    assert_eq!(store.recover_interrupted().expect("recover").len(), 1);
    tokio::time::timeout(Duration::from_secs(5), store.outbox_changed()).await.expect("recovery queued an entry");
}
