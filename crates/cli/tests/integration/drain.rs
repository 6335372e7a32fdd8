//! A drain: SIGTERM while a run and a session's call are live. Readiness flips first, new
//! work (runs, sessions, session calls) is refused, what was accepted finishes and is
//! delivered, and the daemon exits 0 having reported it exited.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::control_plane::ControlPlane;
use crate::common::{self, assert_error_body, Daemon};

#[tokio::test]
async fn sigterm_turns_not_ready_refuses_new_work_and_loses_nothing_accepted() {
    let cp = ControlPlane::start().await;
    let url = cp.url();
    let env = [("CONTROL_PLANE_URL", url.as_str()), ("EXECUTOR_SHUTDOWN_GRACE_SECS", "20")];
    let mut d = Daemon::start_with(&env).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    assert_eq!(d.get("/ready").await.status, 200);
    let r = d.post("/session/create", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let session = r.body["session_id"].as_str().unwrap().to_string();
    let cell = |code: &str| json!({"session_id": session, "code": code, "language": "python"});
    assert_eq!(d.post("/session/execute", &cell("x = 41")).await.body["status"], "success");

    let put = d.client().put(format!("{}/session/{session}/files/keep.txt", d.base)).body("kept").send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let run = json!({"code": "sleep 2; echo done", "language": "shell", "execution_id": "drain-run", "timeout": 60});
    let queued =
        json!({"code": "sleep 2; echo queued", "language": "shell", "execution_id": "drain-async", "async": true});
    assert_eq!(d.post("/execute", &queued).await.status, 202, "an async run accepted before the drain");
    let slow_cell = cell("import time\ntime.sleep(2)\nx + 1");
    let live_run = d.post("/execute", &run);
    let live_cell = d.post("/session/execute", &slow_cell);
    let drain = drain_while_work_is_live(&d, &session);
    let (run, cell_result, ()) = tokio::join!(live_run, live_cell, drain);
    assert_eq!((run.body["status"].as_str(), run.body["stdout"].as_str()), (Some("success"), Some("done\n")));
    assert_eq!(cell_result.status, 200, "{}", cell_result.body);
    assert_eq!(cell_result.body["return_value"], 42, "the call in flight finished: {}", cell_result.body);

    let status = d.wait_exit(Duration::from_secs(30)).await.expect("the daemon exits");
    assert_eq!(status.code(), Some(0));
    let delivered = cp.calls_to("/executions/drain-run/result");
    assert_eq!(delivered.first().map(|c| c.body["status"].clone()), Some(json!("success")), "{delivered:?}");
    let cell_id = cell_result.body["execution_id"].as_str().unwrap();
    assert!(cp.accepted().contains_key(cell_id), "the session call's result was delivered: {:?}", cp.accepted());
    let queued = cp.calls_to("/executions/drain-async/result");
    assert_eq!(queued.first().map(|c| c.body["stdout"].clone()), Some(json!("queued\n")), "{queued:?}");
    assert_eq!(cp.calls_to("/containers/exited")[0].body["exit_reason"], "sigterm");
}

/// SIGTERM, then what a drain must show while the accepted work is live: readiness flips at
/// once, new work is refused, and a session's caller is told the session ends.
async fn drain_while_work_is_live(d: &Daemon, session: &str) {
    tokio::time::sleep(Duration::from_millis(700)).await;
    d.signal("TERM");
    // Readiness flips at once, well before the accepted work is done.
    let deadline = Instant::now() + Duration::from_secs(1);
    while d.get("/ready").await.status != 503 {
        assert!(Instant::now() < deadline, "still ready after SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let refused = [
        d.post("/execute", &json!({"code": "echo late", "language": "shell"})).await,
        d.post("/session/create", &json!({})).await,
        d.post("/session/execute", &json!({"session_id": session, "code": "x", "language": "python"})).await,
    ];
    for r in &refused {
        let text = assert_error_body(r, 503);
        assert!(text.contains("Executor.ShuttingDown"), "{text}");
    }
    // The session's caller is told it ends with the daemon, and can still take its files.
    let told = refused[2].body.to_string();
    assert!(told.contains(&format!("session {session} ends with it")), "{told}");
    let kept = d.client().get(format!("{}/session/{session}/files/keep.txt", d.base)).send().await.unwrap();
    assert_eq!(kept.text().await.unwrap(), "kept", "files can be taken during the drain");
}
