//! Execution records: start, finish, lookup, id reuse, crash recovery, the database settings.

use std::sync::Arc;

use executor::{
    ExecutionRecorder, ExecutionState, ExecutionStatus, Language, ProcessStatus, StartedExecution, TerminationReason,
};

use super::{db_path, fields, json, open, raw, result, run, start, RETURN_VALUE};
use crate::{Store, INTERRUPTED_STDERR};

#[test]
fn a_started_execution_is_running() {
    let (_dir, path) = db_path();
    let store = open(&path, false);
    store.started(&start("e1", 1_795_320_600_123)).expect("started");
    let record = store.lookup("e1").expect("lookup").expect("known");
    assert_eq!(record.state, ExecutionState::Running);
    assert_eq!(record.language, Language::Python);
    assert_eq!(record.started_at, "2026-11-22T04:10:00.123Z");
    assert_eq!(record.finished_at, None);
    assert!(record.result.is_none());
    assert!(store.lookup("unknown").expect("lookup").is_none());
}

#[test]
fn a_finished_execution_keeps_its_result() {
    let (_dir, path) = db_path();
    let store = open(&path, false);
    let done = result("e1", "line one\nline two ✓\n");
    store.started(&start("e1", executor::recorder::now_ms())).expect("started");
    store.finished(&done).expect("finished");
    let record = store.lookup("e1").expect("lookup").expect("known");
    assert_eq!(record.state, ExecutionState::Finished);
    assert_eq!(record.result, Some(json(&done)));
    let text = record.result.as_ref().expect("result").get();
    assert!(text.contains(&format!(r#""return_value":{RETURN_VALUE}"#)), "not kept exactly: {text}");
    let finished_at = record.finished_at.expect("finished_at");
    assert!(finished_at.ends_with('Z') && finished_at.len() == 24, "{finished_at}");
    assert!(store.finished(&done).is_err(), "a second finish of the same run is refused");
}

#[test]
fn a_result_without_a_start_is_kept() {
    let (_dir, path) = db_path();
    let store = open(&path, true);
    store.finished(&result("direct", "out")).expect("finished");
    assert_eq!(store.due(i64::MAX, 10).expect("due").len(), 1);
    // Its language was never recorded, which the lookup says rather than invent one.
    let err = store.lookup("direct").expect_err("no language").to_string();
    assert!(err.contains("language"), "{err}");
}

#[test]
fn an_id_can_be_reused_after_its_run_finished() {
    let (_dir, path) = db_path();
    let store = open(&path, true);
    run(&store, "reused", "first run");
    let running = store.started(&start("reused", executor::recorder::now_ms()));
    running.expect("reuse of a finished id");
    let record = store.lookup("reused").expect("lookup").expect("known");
    assert_eq!(record.state, ExecutionState::Running);
    assert!(record.result.is_none());
    let err = store.started(&start("reused", executor::recorder::now_ms())).expect_err("already running");
    assert!(matches!(err, executor::ExecuteError::AlreadyRunning(_)), "{err}");

    // The first run's pending delivery still carries the first run's result.
    let due = store.due(i64::MAX, 10).expect("due");
    assert_eq!(due.len(), 1);
    assert!(due[0].result.contains("first run"));

    store.finished(&result("reused", "second run")).expect("finished");
    let due = store.due(i64::MAX, 10).expect("due");
    let results: Vec<&str> = due.iter().map(|d| d.result.as_str()).collect();
    assert_eq!(results.len(), 2);
    assert!(results[0].contains("first run") && results[1].contains("second run"), "{results:?}");
    let record = store.lookup("reused").expect("lookup").expect("known");
    assert_eq!(fields(record.result)["stdout"], "second run");
}

#[test]
fn another_tenants_id_is_refused_and_its_record_kept() {
    let (_dir, path) = db_path();
    let store = open(&path, true);
    let of = |id: &str, tenant: &str| StartedExecution { tenant_id: tenant.into(), ..start(id, 0) };
    store.started(&of("running", "a")).expect("started");
    run(&store, "finished", "a's result");
    for id in ["running", "finished"] {
        let err = store.started(&of(id, "b")).expect_err("another tenant's id");
        assert!(matches!(&err, executor::ExecuteError::IdTaken(taken) if taken == id), "{err}");
    }
    assert_eq!(store.lookup("running").expect("lookup").expect("kept").state, ExecutionState::Running);
    let finished = store.lookup("finished").expect("lookup").expect("kept");
    assert_eq!(
        (finished.tenant_id.as_str(), &fields(finished.result)["stdout"]),
        ("default", &serde_json::json!("a's result"))
    );
}

#[test]
fn recovery_finishes_interrupted_runs_as_killed() {
    let (_dir, path) = db_path();
    let started_at = executor::recorder::now_ms() - 1_500;
    {
        let store = open(&path, true);
        store.started(&start("interrupted", started_at)).expect("started");
        run(&store, "completed", "fine");
        // Dropped while "interrupted" is running: the daemon died.
    }
    let store = open(&path, true);
    assert_eq!(store.recover_interrupted().expect("recover"), vec!["interrupted".to_string()]);
    assert!(store.recover_interrupted().expect("recover again").is_empty());

    let record = store.lookup("interrupted").expect("lookup").expect("known");
    assert_eq!(record.state, ExecutionState::Finished);
    let text = record.result.expect("result");
    let recovered: executor::ExecutionResult = serde_json::from_str(text.get()).expect("a valid result");
    assert_eq!(recovered.status, ExecutionStatus::Killed);
    assert_eq!(recovered.process_status, ProcessStatus::Error);
    assert_eq!(recovered.termination_reason, Some(TerminationReason::Shutdown));
    assert_eq!(recovered.exit_code, -1);
    assert_eq!(recovered.stderr, INTERRUPTED_STDERR);
    assert!(recovered.stdout.is_empty() && recovered.artifacts.is_empty());
    assert!((1.5..60.0).contains(&recovered.execution_time), "{}", recovered.execution_time);

    let due = store.due(i64::MAX, 10).expect("due");
    let ids: Vec<&str> = due.iter().map(|d| d.execution_id.as_str()).collect();
    assert_eq!(ids, ["completed", "interrupted"]);
}

#[test]
fn the_database_is_in_wal_mode_with_the_current_schema() {
    let (_dir, path) = db_path();
    let store = open(&path, false);
    let conn = store.conn();
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("journal_mode");
    assert_eq!(mode, "wal");
    // 2 = FULL.
    let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).expect("synchronous");
    assert_eq!(sync, 2);
    let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).expect("foreign_keys");
    assert_eq!(fk, 1);
    drop(conn);
    drop(store);
    let version: i64 = raw(&path).pragma_query_value(None, "user_version", |r| r.get(0)).expect("version");
    assert_eq!(version, crate::schema::SCHEMA_VERSION);
    // Opening again migrates nothing and keeps the data.
    let store = open(&path, false);
    store.started(&start("after-reopen", 0)).expect("started");
}

#[test]
fn tenant_and_scope_are_recorded_and_a_version_1_database_is_migrated() {
    let (_dir, path) = db_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // A database as version 1 left it: no tenant columns.
    let conn = raw(&path);
    conn.execute_batch(crate::schema::V1).expect("version 1 schema");
    conn.pragma_update(None, "user_version", 1).expect("version 1");
    conn.execute(
        "INSERT INTO executions (execution_id, language, state, timeout_ms, started_at_ms) VALUES ('old', 'python', 'running', 1000, 0)",
        [],
    )
    .expect("a version 1 row");
    drop(conn);
    let store = open(&path, false);
    let old = store.lookup("old").expect("lookup").expect("the old row survives");
    assert_eq!((old.tenant_id.as_str(), old.scope.as_deref()), ("default", None));
    let mut new = start("new", 0);
    new.tenant_id = "acme".into();
    new.scope = Some("user:7".into());
    store.started(&new).expect("started");
    let new = store.lookup("new").expect("lookup").expect("recorded");
    assert_eq!((new.tenant_id.as_str(), new.scope.as_deref()), ("acme", Some("user:7")));
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let (_dir, path) = db_path();
    drop(open(&path, false));
    raw(&path).pragma_update(None, "user_version", 99).expect("set version");
    match Store::open(&path, false) {
        Err(crate::StoreError::UnsupportedSchema { found: 99, .. }) => {}
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

#[test]
fn concurrent_finishes_do_not_collide() {
    let (_dir, path) = db_path();
    // Two stores on one file, as two connections would be: exercises the busy timeout too.
    let stores = [Arc::new(open(&path, true)), Arc::new(open(&path, true))];
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&stores[t % 2]);
            std::thread::spawn(move || {
                for i in 0..40 {
                    run(&store, &format!("t{t}-{i}"), "concurrent");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no thread failed");
    }
    assert_eq!(stores[0].counts().expect("counts").pending, 320);
    assert_eq!(stores[1].due(i64::MAX, 1000).expect("due").len(), 320);
}
