//! The daemon in production: API tokens, backpressure, async runs that survive a crash,
//! metrics, structured logs, and an orderly end on SIGTERM.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::control_plane::ControlPlane;
use crate::common::{assert_error_body, Daemon};
use serde_json::json;

#[tokio::test]
async fn every_endpoint_but_health_needs_the_api_token() {
    let d = Daemon::start_with(&[("EXECUTOR_API_TOKEN", "s3cret")]).await;
    assert_eq!(d.get("/health").await.status, 200);
    for path in ["/info", "/openapi.json", "/metrics", "/executions/x"] {
        let r = d.get(path).await;
        assert_eq!(assert_error_body(&r, 401), "Executor.Unauthorized", "{path}");
    }
    let r = d.post("/execute", &json!({"code": "true", "language": "shell"})).await;
    assert_eq!(assert_error_body(&r, 401), "Executor.Unauthorized");
    let url = format!("{}/info", d.base);
    for (header, value) in [("authorization", "Bearer s3cret"), ("x-api-key", "s3cret")] {
        let response = d.client().get(&url).header(header, value).send().await.unwrap();
        assert_eq!(response.status(), 200, "{header}");
    }
    let wrong = d.client().get(&url).header("authorization", "Bearer s3cre").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn an_open_api_is_refused_beyond_loopback() {
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .env_remove("EXECUTOR_API_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("EXECUTOR_API_TOKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn past_the_queue_requests_get_503_with_retry_after() {
    let d = Daemon::start_with(&[("EXECUTOR_MAX_CONCURRENT", "1"), ("EXECUTOR_MAX_QUEUE", "1")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let slow = json!({"code": "sleep 2", "language": "shell", "async": true});
    assert_eq!(d.post("/execute", &slow).await.status, 202);
    assert_eq!(d.post("/execute", &slow).await.status, 202);
    let r = d.post("/execute", &json!({"code": "true", "language": "shell"})).await;
    assert_eq!(assert_error_body(&r, 503), "Executor.QueueFull");
    assert!(r.headers.get("retry-after").is_some(), "no Retry-After header");
    let stats =
        d.client().get(format!("{}/metrics", d.base)).header("accept", "application/json").send().await.unwrap();
    let stats: serde_json::Value = stats.json().await.unwrap();
    assert_eq!(stats["metrics"]["queued_executions"], 1, "{stats}");
}

#[tokio::test]
async fn a_full_queue_is_logged_once_per_refusal_as_a_warning() {
    let d = Daemon::start_logged(&[("EXECUTOR_MAX_CONCURRENT", "1"), ("EXECUTOR_MAX_QUEUE", "1")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let slow = json!({"code": "sleep 5", "language": "shell", "async": true});
    assert_eq!(d.post("/execute", &slow).await.status, 202);
    assert_eq!(d.post("/execute", &slow).await.status, 202);
    const REFUSED: usize = 5;
    for i in 0..REFUSED {
        let response = d
            .client()
            .post(format!("{}/execute", d.base))
            .header("x-request-id", format!("queue-full-{i}"))
            .json(&json!({"code": "true", "language": "shell"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
    }
    // Each refusal's lines carry its request id: one warning, no error.
    let log = d.log();
    let lines: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for i in 0..REFUSED {
        let id = format!("queue-full-{i}");
        let of_request: Vec<&serde_json::Value> = lines.iter().filter(|l| l.to_string().contains(&id)).collect();
        let at = |level: &str| of_request.iter().filter(|l| l["level"] == level).count();
        assert_eq!(at("ERROR"), 0, "{id}: {of_request:?}");
        assert_eq!(at("WARN"), 1, "{id}: {of_request:?}");
        let warning = of_request.iter().find(|l| l["level"] == "WARN").unwrap();
        assert_eq!(warning["code"], "Executor.QueueFull", "{warning}");
    }
}

#[tokio::test]
async fn async_runs_answer_202_and_their_results_survive_a_crash() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let r = d
        .post(
            "/execute",
            &json!({"code": "sleep 1; echo later", "language": "shell", "async": true, "execution_id": "bg-1"}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["execution_id"], "bg-1");
    let running = d.get("/executions/bg-1").await;
    assert_eq!(running.body["state"], "running", "{}", running.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut record = running.body;
    while record["state"] != "finished" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        record = d.get("/executions/bg-1").await.body;
    }
    assert_eq!(record["result"]["stdout"], "later\n", "{record}");
    assert_eq!(d.get("/executions/unknown-id").await.status, 404);
    // The record is in the store: a daemon killed and restarted still has it.
    let state = d.kill_hard();
    let d = Daemon::start_in(state, &[]).await;
    let again = d.get("/executions/bg-1").await;
    assert_eq!(again.body["result"]["stdout"], "later\n", "{}", again.body);
}

#[tokio::test]
async fn sigterm_lets_short_runs_finish_and_kills_long_ones_after_the_grace_period() {
    let cp = ControlPlane::start().await;
    let url = cp.url();
    let mut d = Daemon::start_with(&[
        ("CONTROL_PLANE_URL", url.as_str()),
        ("EXECUTOR_SHUTDOWN_GRACE_SECS", "3"),
        ("DELIVERY_BACKOFF_MAX_SECS", "0.5"),
    ])
    .await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let short_body = json!({"code": "sleep 2; echo done", "language": "shell", "execution_id": "short", "timeout": 60});
    let long_body = json!({"code": "sleep 60", "language": "shell", "execution_id": "long", "timeout": 120});
    let short = d.post("/execute", &short_body);
    let long = d.post("/execute", &long_body);
    // Both runs are taken on well before the signal; the short one ends inside the grace period.
    let signal = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        d.signal("TERM");
    };
    let (short, long, ()) = tokio::join!(short, long, signal);
    assert_eq!(short.body["status"], "success", "{}", short.body);
    assert_eq!(long.body["status"], "killed", "{}", long.body);
    assert_eq!(long.body["termination_reason"], "shutdown");
    let status = d.wait_exit(Duration::from_secs(20)).await.expect("the daemon exits");
    assert_eq!(status.code(), Some(0));
    let accepted = cp.accepted();
    assert!(accepted.contains_key("short") && accepted.contains_key("long"), "{accepted:?}");
    let long_result = cp.calls_to("/executions/long/result").remove(0);
    assert_eq!(long_result.body["status"], "crashed");
    assert_eq!(cp.calls_to("/containers/exited")[0].body["exit_reason"], "sigterm");
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let mut d = Daemon::start_with(&[("EXECUTOR_SHUTDOWN_GRACE_SECS", "60")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let r = d.post("/execute", &json!({"code": "sleep 60", "language": "shell", "async": true})).await;
    assert_eq!(r.status, 202);
    d.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(d.wait_exit(Duration::from_millis(100)).await.is_none(), "the first signal waits for the run");
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(3)).await.is_some(), "the second signal did not end the daemon");
    // What the abrupt exit left (the run's workspace, the pre-started sandboxes' ones) is
    // cleared by the next start (one that starts none itself).
    let d = Daemon::start_in(d.kill_hard(), &[("SANDBOX_WARM_POOL", "0")]).await;
    assert_eq!(d.mounts_under_state(), Vec::<String>::new());
}

#[tokio::test]
async fn metrics_and_structured_logs() {
    let d = Daemon::start_logged(&[]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let response = d
        .client()
        .post(format!("{}/execute", d.base))
        .header("x-request-id", "req-log-check")
        .json(&json!({"code": "print(1)", "execution_id": "log-check"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = d.client().get(format!("{}/metrics", d.base)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"sandbox_executions_total{language="python",status="success"} 1"#), "{text}");
    assert!(text.contains("sandbox_execution_duration_seconds_bucket"), "{text}");
    let json = d.client().get(format!("{}/metrics", d.base)).header("accept", "application/json").send().await.unwrap();
    let json: serde_json::Value = json.json().await.unwrap();
    assert_eq!(json["metrics"]["executions_succeeded"], 1, "{json}");
    // Every line about the run carries both ids.
    let log = d.log();
    let lines: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let finished =
        lines.iter().find(|l| l["message"] == "finished").unwrap_or_else(|| panic!("no finished line in {log}"));
    let text = finished.to_string();
    assert!(text.contains("req-log-check") && text.contains("log-check"), "{text}");
}

/// Every one-shot result says where its time went, and the metrics have a histogram per phase.
#[tokio::test]
async fn results_carry_their_phases_and_the_metrics_a_histogram_of_each() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    for (code, language) in [("print('hi')", "python"), ("echo hi", "shell"), ("console.log('hi')", "javascript")] {
        let r = d.execute(json!({"code": code, "language": language})).await;
        let metrics = &r["metrics"];
        let phases = &metrics["phases"];
        for phase in ["queue_ms", "launch_ms", "run_ms", "collect_ms", "store_ms"] {
            let ms = phases[phase].as_f64().unwrap_or(-1.0);
            assert!(ms >= 0.0, "{language}: {phase} in {metrics}");
        }
        assert_eq!(phases["run_ms"], metrics["duration_ms"], "the run phase is the run's own time: {metrics}");
        assert!(phases["launch_ms"].as_f64().unwrap() > 0.0, "a sandbox takes time to get ready: {metrics}");
    }
    let text = d.client().get(format!("{}/metrics", d.base)).send().await.unwrap().text().await.unwrap();
    for phase in ["queue", "launch", "run", "collect", "store"] {
        let line = format!("sandbox_execution_phase_seconds_count{{phase=\"{phase}\"}} 3");
        assert!(text.contains(&line), "{line} in:\n{text}");
    }
}
