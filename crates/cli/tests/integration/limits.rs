//! Limits that must hold whatever the code does: the timeout kills the whole process tree,
//! output floods are capped without the daemon growing, and runs proceed concurrently.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::Daemon;
use serde_json::json;

#[tokio::test]
async fn timeout_kills_double_forked_and_setsid_children() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let marker = format!("se-orphan-{}", std::process::id());
    let code = format!(
        "(setsid bash -c 'exec -a {marker} sleep 300' &); (bash -c 'exec -a {marker} sleep 300' &) & sleep 300"
    );
    let started = Instant::now();
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 2})).await;
    let took = started.elapsed();
    assert_eq!(r["status"], "timeout", "{r}");
    assert_eq!(r["process_status"], "timeout");
    assert_eq!(r["exit_code"], -1);
    assert!(took < Duration::from_secs(10), "the timed-out request took {took:?}");
    let survivors = std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(
        survivors.stdout.is_empty(),
        "processes survived the timeout: {}",
        String::from_utf8_lossy(&survivors.stdout)
    );
}

#[tokio::test]
async fn a_killed_daemon_leaves_no_sandbox_running() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let marker = format!("se-daemon-gone-{}", std::process::id());
    let url = format!("{}/execute", d.base);
    let body = json!({"code": format!("exec -a {marker} sleep 300"), "language": "shell", "timeout": 300});
    let pending = tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await });
    let running = || {
        let out = std::process::Command::new("pgrep").args(["-f", &format!("^{marker}")]).output().unwrap();
        !out.stdout.is_empty()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(running(), "the sandboxed program never started");
    let state = d.kill_hard();
    let deadline = Instant::now() + Duration::from_secs(5);
    while running() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!running(), "the sandbox outlived its daemon");
    assert!(pending.await.unwrap().is_err(), "the request cannot have been answered");
    // The dead daemon's workspace mount is still there; a daemon started on the same state
    // clears it before serving.
    if common::is_root() {
        assert!(!common::mounts_under(state.path()).is_empty(), "expected the killed run's workspace mount");
    }
    // One that starts no sandbox of its own, so that only leftovers could show.
    let d = Daemon::start_in(state, &[("SANDBOX_WARM_POOL", "0")]).await;
    assert_eq!(d.mounts_under_state(), Vec::<String>::new(), "leftover workspace mounts after a restart");
}

fn daemon_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn twenty_megabytes_of_output_are_capped_and_the_run_completes() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let code = "head -c 20000000 /dev/zero | tr '\\0' x; echo finished >&2";
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 60})).await;
    assert_eq!(r["status"], "success", "{}", r["stderr"]);
    assert_eq!(r["stdout"].as_str().unwrap().len(), 10 * 1024 * 1024);
    assert_eq!(r["truncated"], json!({"stdout": true, "stderr": false}));
    assert_eq!(r["stderr"], "finished\n");
    // A smaller cap asked for by the request applies too.
    let r = d
        .execute(json!({"code": code, "language": "shell", "timeout": 60, "limits": {"max_output_bytes": 1000}}))
        .await;
    assert_eq!(r["stdout"].as_str().unwrap().len(), 1000);
    // A flood the daemon drops instead of keeping does not grow it by anywhere near its size.
    let before = daemon_rss_kb(d.pid());
    let flood = "head -c 300000000 /dev/zero";
    let r = d.execute(json!({"code": flood, "language": "shell", "timeout": 120})).await;
    assert_eq!(r["truncated"]["stdout"], true);
    let grown_mb = daemon_rss_kb(d.pid()).saturating_sub(before) / 1024;
    assert!(grown_mb < 100, "the daemon grew by {grown_mb} MiB while dropping 300 MB of output");
}

#[tokio::test]
async fn invalid_utf8_output_is_replaced_not_fatal() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let r = d.execute(json!({"code": "printf 'ok \\377\\376 end'", "language": "shell"})).await;
    assert_eq!(r["status"], "success");
    assert_eq!(r["stdout"], "ok \u{fffd}\u{fffd} end");
}

#[tokio::test]
async fn five_concurrent_two_second_runs_overlap() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    // Each run notes when it started and ended sleeping (the sandbox shares the host's clock).
    let code = "date +%s.%N; sleep 2; date +%s.%N";
    let runs = (0..5).map(|i| {
        d.execute(json!({"code": code, "language": "shell", "timeout": 10, "execution_id": format!("concurrent_{i}")}))
    });
    let results = futures::future::join_all(runs).await;
    let spans: Vec<(f64, f64)> = results
        .iter()
        .map(|r| {
            let times: Vec<f64> = common::text(r, "stdout").lines().map(|l| l.parse().unwrap()).collect();
            assert_eq!(times.len(), 2, "{r}");
            (times[0], times[1])
        })
        .collect();
    // They ran at the same time: every run started before any of them ended.
    let last_start = spans.iter().map(|s| s.0).fold(f64::MIN, f64::max);
    let first_end = spans.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    assert!(last_start < first_end, "the runs did not overlap: {spans:?}");
}

/// A limit too small for the interpreter, or even for the sandbox itself, is the caller's
/// limit: the run comes back killed at it, never as a host fault (500).
#[tokio::test]
async fn a_memory_limit_too_small_to_start_in_is_reported_as_that_limit() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    for (language, code) in [("python", "print(1)"), ("javascript", "console.log(1)")] {
        for warm in [true, false] {
            for _ in 0..5 {
                let body = json!({"language": language, "code": code, "warm": warm,
                    "limits": {"memory_mb": 1, "max_processes": 1}});
                let reply = d.post("/execute", &body).await;
                let r = reply.body;
                assert_eq!(reply.status, 200, "{language} warm={warm}: {r}");
                assert_eq!(r["status"], "killed", "{language} warm={warm}: {r}");
                assert_eq!(r["termination_reason"], "memory_limit", "{language} warm={warm}: {r}");
            }
        }
    }
}
