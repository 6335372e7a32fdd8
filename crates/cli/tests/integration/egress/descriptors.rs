//! Descriptors: every connection a run holds open through its door holds two of the daemon's
//! descriptors, so a run may hold only so many open at once, and all runs together only so
//! many; past either, one more connection is refused, the run goes on, and other tenants'
//! runs are untouched. The daemon raises its own soft limit to the hard one at start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Daemon};

/// A TCP server on 127.0.0.1 that takes connections and holds them open, counting them.
struct Holder {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Holder {
    async fn start() -> Holder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Holder { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits until `at_least` connections came and no more came for a second.
    async fn settled(&self, at_least: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = (usize::MAX, Instant::now());
        loop {
            let now = self.accepted();
            if now != last.0 {
                last = (now, Instant::now());
            } else if now >= at_least && last.1.elapsed() > Duration::from_secs(1) {
                return now;
            }
            assert!(Instant::now() < deadline, "{now} connections held, waiting for {at_least}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Python that opens `n` CONNECT tunnels to `origin.test:port`, keeps those that were
/// established, prints how many got each answer, and holds them for `hold` seconds.
fn hold(port: u16, n: usize, hold: u64) -> String {
    format!(
        "import socket, time, collections\n\
         held, seen = [], collections.Counter()\n\
         for i in range({n}):\n\
         \x20   try:\n\
         \x20       s = socket.create_connection(('127.0.0.1', 3128), timeout=20)\n\
         \x20       s.sendall(b'CONNECT origin.test:{port} HTTP/1.1\\r\\n\\r\\n')\n\
         \x20       line = s.recv(200).split(b'\\r\\n')[0].decode()\n\
         \x20       seen[line.split(' ')[1] if line else 'closed'] += 1\n\
         \x20       held.append(s) if line.startswith('HTTP/1.1 200') else s.close()\n\
         \x20   except OSError as e:\n\
         \x20       seen[type(e).__name__] += 1\n\
         print(sorted(seen.items()), flush=True)\n\
         time.sleep({hold})\n"
    )
}

/// A daemon mapping origin.test to 127.0.0.1, started with `soft`:`hard` descriptors.
async fn daemon(extra: &[(&str, &str)], soft: u64, hard: u64) -> Option<Daemon> {
    let mut env = vec![("EGRESS_ALLOW_PRIVATE", "true"), ("EGRESS_HOSTS", "origin.test=127.0.0.1")];
    env.extend_from_slice(extra);
    let d = Daemon::start_with_nofile(&env, soft, hard).await;
    common::sandbox_or_skip(&d).await.then_some(d)
}

/// Runs `body` as `tenant`, within a minute; the status and the body.
async fn execute_as(d: &Daemon, tenant: &str, body: Value) -> (u16, Value) {
    let request = d.client().post(format!("{}/execute", d.base)).header("X-Tenant-ID", tenant).json(&body);
    let response = request.timeout(Duration::from_secs(60)).send().await;
    let response = response.unwrap_or_else(|e| panic!("{tenant}'s run got no answer: {e}\n{}", d.log()));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `[("200", 64), ("429", 536)]` as the run printed it, as a map of answer to count.
fn answers(result: &Value) -> std::collections::BTreeMap<String, u64> {
    let line = common::text(result, "stdout").lines().next().unwrap_or_default().to_owned();
    let pairs = line.trim_matches(['[', ']']).split("), (").filter(|p| !p.is_empty());
    pairs
        .map(|p| {
            let (k, v) = p.trim_matches(['(', ')']).split_once(", ").unwrap_or_else(|| panic!("{result}"));
            (k.trim_matches('\'').to_owned(), v.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_run_holding_hundreds_of_connections_is_refused_past_its_cap_and_other_tenants_run_on() {
    let holder = Holder::start().await;
    // soft = hard = 1024, systemd's default soft limit: nothing to raise.
    let Some(d) = daemon(&[], 1024, 1024).await else { return };
    let port = holder.port;
    let greedy = json!({"code": hold(port, 600, 20), "language": "python",
                        "egress": [format!("origin.test:{port}")], "timeout": 90});
    let runner = {
        let (client, base) = (d.client().clone(), d.base.clone());
        tokio::spawn(async move {
            let request = client.post(format!("{base}/execute")).header("X-Tenant-ID", "greedy").json(&greedy);
            request.send().await.unwrap().json::<Value>().await.unwrap()
        })
    };
    let held = holder.settled(64).await;
    assert_eq!(held, 64, "the run holds as many connections as its cap (64 by default)");
    for body in [
        json!({"code": "print('ok')", "language": "python"}),
        json!({"code": "print(open('in.txt').read())", "language": "python", "files": {"in.txt": "ok"}}),
        json!({"code": "console.log('ok')", "language": "javascript"}),
        json!({"code": "echo ok", "language": "shell"}),
    ] {
        let (status, r) = execute_as(&d, "neighbour", body).await;
        assert_eq!((status, r["status"].as_str()), (200, Some("success")), "{r}");
        assert_eq!(common::text(&r, "stdout"), "ok\n", "{r}");
    }
    let r = runner.await.unwrap();
    assert_eq!(r["status"], "success", "the run goes on past the refusals: {r}");
    assert_eq!(answers(&r), [("200".to_owned(), 64), ("429".to_owned(), 536)].into(), "{r}");
    assert_eq!(r["network"]["peak_open"], 64, "{r}");
    assert_eq!(r["network"]["connections"], 600, "{r}");
    assert!(r["network"]["limit_exceeded"].is_null(), "{r}");
    let refused = r["network"]["attempts"].as_array().unwrap().iter().filter(|a| a["allowed"] == false).count();
    assert_eq!(refused, 536, "each refusal is listed: {r}");
    assert!(r["network"]["attempts"][64]["reason"].as_str().unwrap().contains("64 connections open"), "{r}");
    assert!(!d.log().contains("panicked"), "{}", d.log());
    assert_eq!(d.get("/health").await.status, 200);
}

#[tokio::test]
async fn the_daemon_raises_its_soft_descriptor_limit_to_the_hard_one_and_says_so() {
    let Some(d) = daemon(&[], 1024, 4096).await else { return };
    let info = d.get("/info").await.body;
    assert_eq!(info["daemon_open_files"], json!({"soft": 4096, "hard": 4096}), "{info}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_owned();
    assert_eq!(line.split_whitespace().collect::<Vec<_>>()[3..5], ["4096", "4096"], "{line}");
    // A quarter of the descriptors' worth of egress connections, at most 1024.
    assert_eq!(info["egress"]["max_open_connections"], 1024, "{info}");
    assert_eq!(info["egress"]["max_open_connections_per_run"], 64, "{info}");
    let Some(small) = daemon(&[], 1024, 1024).await else { return };
    assert_eq!(small.get("/info").await.body["egress"]["max_open_connections"], 256);
}

#[tokio::test]
async fn the_daemon_wide_cap_counts_every_runs_open_connections() {
    let holder = Holder::start().await;
    let caps = [("EGRESS_MAX_OPEN", "10"), ("EGRESS_MAX_OPEN_PER_RUN", "8")];
    let Some(d) = daemon(&caps, 4096, 4096).await else { return };
    let port = holder.port;
    let policy = json!([format!("origin.test:{port}")]);
    let first = json!({"code": hold(port, 12, 15), "language": "python", "egress": policy, "timeout": 60});
    let runner = {
        let (client, base) = (d.client().clone(), d.base.clone());
        tokio::spawn(async move {
            let request = client.post(format!("{base}/execute")).header("X-Tenant-ID", "first").json(&first);
            request.send().await.unwrap().json::<Value>().await.unwrap()
        })
    };
    assert_eq!(holder.settled(8).await, 8, "the first run holds its own cap");
    let second = json!({"code": hold(port, 6, 0), "language": "python", "egress": policy, "timeout": 60});
    let (status, r) = execute_as(&d, "second", second).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("success")), "{r}");
    assert_eq!(answers(&r), [("200".to_owned(), 2), ("503".to_owned(), 4)].into(), "{r}");
    let reasons: Vec<&str> =
        r["network"]["attempts"].as_array().unwrap().iter().filter_map(|a| a["reason"].as_str()).collect();
    assert_eq!(reasons.len(), 4, "{r}");
    assert!(reasons.iter().all(|why| why.contains("the server has 10 egress connections open")), "{r}");
    let r = runner.await.unwrap();
    assert_eq!(answers(&r), [("200".to_owned(), 8), ("429".to_owned(), 4)].into(), "{r}");
    // Both runs are over: their connections no longer count.
    let third = json!({"code": hold(port, 3, 0), "language": "python", "egress": policy, "timeout": 60});
    let (_, r) = execute_as(&d, "third", third).await;
    assert_eq!(answers(&r), [("200".to_owned(), 3)].into(), "{r}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = d.client().get(format!("{}/metrics", d.base)).send().await.unwrap().text().await.unwrap();
        if metrics.lines().any(|l| l == "sandbox_egress_open_connections 0") {
            break;
        }
        assert!(Instant::now() < deadline, "connections still counted open after every run:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_daemon_out_of_descriptors_answers_503_or_runs_never_500_and_its_door_stays_open() {
    let holder = Holder::start().await;
    // Caps above what 1024 descriptors hold: the run takes every descriptor the daemon has.
    let caps = [("EGRESS_MAX_OPEN", "5000"), ("EGRESS_MAX_OPEN_PER_RUN", "5000")];
    let Some(d) = daemon(&caps, 1024, 1024).await else { return };
    // The neighbour's connection to the API is made now: later there is no descriptor to accept it.
    let (status, _) = execute_as(&d, "neighbour", json!({"code": "print('ok')", "language": "python"})).await;
    assert_eq!(status, 200);
    let port = holder.port;
    let greedy = json!({"code": hold(port, 700, 25), "language": "python",
                        "egress": [format!("origin.test:{port}")], "timeout": 90});
    let runner = {
        let (client, base) = (d.client().clone(), d.base.clone());
        tokio::spawn(async move { client.post(format!("{base}/execute")).json(&greedy).send().await.unwrap() })
    };
    let held = holder.settled(300).await;
    let mut answered = std::collections::BTreeMap::new();
    for body in [
        json!({"code": "print('ok')", "language": "python"}),
        json!({"code": "print(open('in.txt').read())", "language": "python", "files": {"in.txt": "ok"}}),
        json!({"code": "echo ok", "language": "shell"}),
    ] {
        for _ in 0..4 {
            let request = d.client().post(format!("{}/execute", d.base)).header("X-Tenant-ID", "neighbour");
            let response = request.json(&body).timeout(Duration::from_secs(60)).send().await.expect("an answer");
            let (status, retry) = (response.status().as_u16(), response.headers().contains_key("retry-after"));
            let r: Value = response.json().await.unwrap();
            match status {
                200 => assert_eq!((r["status"].as_str(), common::text(&r, "stdout")), (Some("success"), "ok\n"), "{r}"),
                503 => assert!(r["error_code"] == "Executor.ResourcesExhausted" && retry, "{r}"),
                _ => panic!("{status}: {r}"),
            }
            *answered.entry(status).or_insert(0) += 1;
        }
    }
    eprintln!("{held} connections held; the neighbour's answers: {answered:?}");
    let r: Value = runner.await.unwrap().json().await.unwrap();
    assert_eq!(r["status"], "success", "{r}");
    let connections = r["network"]["connections"].as_u64().unwrap();
    assert_eq!(connections, 700, "every connection, lost ones too, is counted: {r}");
    assert!(!d.log().contains("panicked"), "{}", d.log());
    assert_eq!(d.get("/health").await.status, 200);
}
