//! A process killed while writing loses nothing it acknowledged, and leaves no half-written
//! result: the test binary re-runs itself as a writer that aborts mid-way (SIGABRT, no
//! destructors, no checkpoint), then reopens the database the writer left behind.
//!
//! Process death is what this exercises (commit-before-acknowledge, WAL recovery on the next
//! open); power loss, which `synchronous=FULL` guards against, cannot be simulated here.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use executor::{ExecutionRecorder, ExecutionState};

use super::{db_path, open, raw, result, start};

/// Set in the writer's environment: the database it writes to.
const WRITER_DB: &str = "STORE_CRASH_TEST_DB";
/// The writer's name, as the test harness filters it.
const WRITER_TEST: &str = "tests::crash::writer_aborted_mid_way";
const ACK: &str = "ACK ";

/// The writer (run by the test below, ignored otherwise): records results as fast as it can
/// and prints each id once `finished()` returned, until another thread aborts the process.
#[test]
#[ignore = "run as a child process by acknowledged_results_survive_an_abort"]
fn writer_aborted_mid_way() {
    let Some(path) = std::env::var_os(WRITER_DB) else { return };
    let store = open(std::path::Path::new(&path), true);
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&acknowledged);
    std::thread::spawn(move || {
        let armed = Instant::now();
        while counter.load(Ordering::SeqCst) < 20 && armed.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // A varying delay, so the abort lands at varying points of a transaction.
        let jitter = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        std::thread::sleep(Duration::from_micros(u64::from(jitter.subsec_micros() % 20_000)));
        std::process::abort();
    });
    // Straight to the file descriptor: the harness captures `println!`, not `stdout()`.
    let mut out = std::io::stdout().lock();
    for i in 0.. {
        let id = format!("crash-{i}");
        store.started(&start(&id, executor::recorder::now_ms())).expect("started");
        store.finished(&result(&id, &"output line\n".repeat(i % 50))).expect("finished");
        writeln!(out, "{ACK}{id}").and_then(|()| out.flush()).expect("stdout");
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn acknowledged_results_survive_an_abort() {
    let (_dir, path) = db_path();
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([WRITER_TEST, "--exact", "--ignored", "--test-threads=1"])
        .env(WRITER_DB, &path)
        .output()
        .expect("run the writer");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.signal(), Some(libc::SIGABRT), "the writer aborted: {stdout}\n{stderr}");
    // libtest prints "test <name> ... " without a newline before the writer's first line.
    let acked: Vec<&str> = stdout.lines().filter_map(|line| line.split_once(ACK).map(|(_, id)| id)).collect();
    assert!(acked.len() >= 20, "the writer acknowledged {} results", acked.len());

    let store = open(&path, true);
    for id in &acked {
        let record = store.lookup(id).expect("lookup").unwrap_or_else(|| panic!("{id} was lost"));
        assert_eq!(record.state, ExecutionState::Finished, "{id}");
    }
    {
        let conn = raw(&path);
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity");
        assert_eq!(check, "ok");
        // Atomicity: a finished result has exactly its one entry, a running one none.
        let torn: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM executions e
                 WHERE (SELECT COUNT(*) FROM outbox o WHERE o.execution_id = e.execution_id)
                       != (CASE e.state WHEN 'finished' THEN 1 ELSE 0 END)",
                [],
                |r| r.get(0),
            )
            .expect("torn writes");
        assert_eq!(torn, 0);
    }
    // At most the run being written when the abort came is left running; recovery ends it.
    let recovered = store.recover_interrupted().expect("recover");
    assert!(recovered.len() <= 1, "{recovered:?}");
    let executions: i64 = raw(&path).query_row("SELECT COUNT(*) FROM executions", [], |r| r.get(0)).expect("count");
    assert!(executions as usize >= acked.len());
    assert_eq!(store.counts().expect("counts").pending as i64, executions, "every result is queued");
}
