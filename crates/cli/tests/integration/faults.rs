//! Faults around a run, and how they are reported or survived: the daemon's sandboxes killed
//! from outside, host files replaced under the daemon, a second daemon on the same state.

use crate::common;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Daemon;
use crate::warm::path_of;
use serde_json::{json, Value};

/// Polls `GET /executions/{id}` until the run is finished (at most `within`).
async fn finished(d: &Daemon, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let record = d.get(&format!("/executions/{id}")).await.body;
        if record["state"] == "finished" || Instant::now() >= deadline {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The fresh workspace of the run `id` once it exists, as the host sees it.
async fn workspace_of(d: &Daemon, id: &str) -> std::path::PathBuf {
    let runs = d.state.path().join("workspaces").join("runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = std::fs::read_dir(&runs).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{id}-"))))
        });
        if let Some(path) = found {
            return path;
        }
        assert!(Instant::now() < deadline, "no workspace for {id} under {}", runs.display());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ready sandboxes of one pool, as `GET /info` says.
async fn ready(d: &Daemon, language: &str) -> u64 {
    let info = d.get("/info").await.body;
    let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
    let pool = pools.iter().find(|p| p["language"] == language && p["template"].is_null());
    pool.and_then(|p| p["ready"].as_u64()).unwrap_or(0)
}

/// Waits until the pool of `language` (system interpreter) has a ready sandbox.
async fn until_ready(d: &Daemon, language: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while ready(d, language).await == 0 {
        assert!(Instant::now() < deadline, "no warm {language} sandbox after 180 s: {}", d.get("/info").await.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the pool of `language` is full, so that no sandbox of it is still starting
/// (one that became ready later would not be among those a test looked at).
async fn until_full(d: &Daemon, language: &str) {
    let size = d.get("/info").await.body["warm"]["pool_size"].as_u64().expect("warm.pool_size");
    let deadline = Instant::now() + Duration::from_secs(180);
    while ready(d, language).await < size {
        assert!(
            Instant::now() < deadline,
            "the {language} pool is not full after 180 s: {}",
            d.get("/info").await.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(signal: &str, pids: impl IntoIterator<Item = u32>) {
    for pid in pids {
        let _ = Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status();
    }
}

fn kill(pids: impl IntoIterator<Item = u32>) {
    signal("KILL", pids);
}

/// The zygote killed under a forked run: the run had started, so it is a run cut short (200,
/// `killed`, `sandbox_lost`, what it printed kept), not a sandbox that could not start.
#[tokio::test]
async fn a_forked_run_whose_zygote_is_killed_is_reported_cut_short() {
    let Some(d) = common::sandboxed().await else { return };
    until_ready(&d, "python").await;
    let zygotes = common::zygotes(d.pid());
    assert_eq!(zygotes.len(), 1, "one Python zygote: {zygotes:?}");
    let old = common::sandbox_of(d.pid(), zygotes[0]);
    assert!(old.is_some(), "the zygote runs in a sandbox of the daemon");
    let marker = format!("zygote-fault-{}", std::process::id());
    let code = format!(
        "import subprocess\nprint('started', flush=True)\n\
         subprocess.run(['sh', '-c', 'sleep 300; : {marker}'])\nprint('not reached')"
    );
    let body = json!({"code": code, "language": "python", "timeout": 60});
    let run = d.post("/execute", &body);
    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while common::descendants_matching(d.pid(), &marker).is_empty() {
            assert!(Instant::now() < deadline, "the run never reached its subprocess");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kill(zygotes.clone());
    };
    let (r, ()) = tokio::join!(run, killer);
    assert_eq!(r.status, 200, "a run that started is a result, not an error: {}", r.body);
    let r = r.body;
    assert_eq!(path_of(&r), "forked", "{r}");
    assert_eq!(
        (r["status"].as_str(), r["termination_reason"].as_str(), r["exit_code"].as_i64()),
        (Some("killed"), Some("sandbox_lost"), Some(-1)),
        "{r}"
    );
    assert_eq!(r["stdout"], "started\n", "{r}");
    assert!(
        common::text(&r, "stderr").ends_with("its sandbox was killed from outside the run before it finished\n"),
        "{r}"
    );
    // The pool replaces its zygote (in a sandbox of its own: the old one's forks, orphaned for
    // the moment they take to die, are no new zygote), and forked runs go on.
    let deadline = Instant::now() + Duration::from_secs(180);
    while common::zygotes(d.pid()).iter().all(|p| common::sandbox_of(d.pid(), *p) == old) {
        assert!(Instant::now() < deadline, "no new zygote after 180 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_ready(&d, "python").await;
    let again = d.execute(json!({"code": "print('again')", "language": "python"})).await;
    assert_eq!((path_of(&again), again["stdout"].as_str()), ("forked", Some("again\n")), "{again}");
}

fn cmdline(pid: u32) -> String {
    String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ")
}

/// Whether a socket of `pid` has bytes waiting to be read (as `ss` shows them), or None
/// when `ss` is not there to ask.
fn socket_has_input(pid: u32) -> Option<bool> {
    let out = Command::new("ss").args(["-xpn"]).output().ok().filter(|o| o.status.success())?;
    let owner = format!("pid={pid},");
    let text = String::from_utf8_lossy(&out.stdout);
    let queued = |line: &str| line.split_whitespace().nth(2).and_then(|q| q.parse::<u64>().ok()).unwrap_or(0);
    Some(text.lines().any(|line| line.contains(&owner) && queued(line) > 0))
}

/// Pre-started sandboxes killed while they wait, or after the daemon handed them a run they
/// had not yet taken, cost no run: it is served by another one or cold, and succeeds.
#[tokio::test]
async fn a_run_never_fails_for_pre_started_sandboxes_killed_before_it() {
    let Some(d) = common::sandboxed().await else { return };
    let body = json!({"code": "console.log('served')", "language": "javascript"});
    let served = |r: &common::Response, what: &str| {
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        let got = (r.body["status"].as_str(), r.body["stdout"].as_str());
        assert_eq!(got, (Some("success"), Some("served\n")), "{what}: {}", r.body);
    };
    for round in 0..2 {
        until_ready(&d, "javascript").await;
        let waiting = common::waiting_sandboxes(d.pid());
        assert!(!waiting.is_empty(), "no pre-started sandbox among the daemon's processes");
        kill(waiting);
        served(&d.post("/execute", &body).await, &format!("killed while waiting, round {round}"));
    }
    // Killed between the hand-off and the run: the drivers are stopped so that the run
    // reaches one of them (its socket holds the run) before they are killed. The pool is full
    // first, so every sandbox the run may claim is among the stopped ones.
    until_full(&d, "javascript").await;
    let waiting = common::waiting_sandboxes(d.pid());
    let drivers: Vec<u32> =
        waiting.iter().copied().filter(|p| cmdline(*p).contains(" /sandbox/driver.js --warm")).collect();
    assert!(!drivers.is_empty(), "no waiting JavaScript driver: {waiting:?}");
    signal("STOP", drivers.clone());
    let run = d.post("/execute", &body);
    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        while drivers.iter().all(|p| socket_has_input(*p) == Some(false)) {
            assert!(Instant::now() < deadline, "the run never reached a stopped driver");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        kill(waiting.clone());
    };
    let (r, ()) = tokio::join!(run, killer);
    served(&r, "killed after the hand-off");
}

/// Replaces a host file the way `ldconfig` and package upgrades do: a new file (here with
/// the same bytes, so nothing else on the host notices) renamed over the old one.
fn replace_by_rename(path: &str) {
    let next = format!("{path}.faults-test-{}", std::process::id());
    std::fs::copy(path, &next).unwrap_or_else(|e| panic!("copy {path}: {e}"));
    std::fs::rename(&next, path).unwrap_or_else(|e| panic!("rename over {path}: {e}"));
}

/// `/etc/ld.so.cache` replaced on the host (as by `ldconfig`) between runs: runs on every
/// path still succeed, and the warm pools come back with sandboxes that bind the new file.
#[tokio::test]
async fn runs_survive_the_host_replacing_a_file_bound_into_sandboxes() {
    const CACHE: &str = "/etc/ld.so.cache";
    if !common::is_root() || !std::path::Path::new(CACHE).exists() {
        eprintln!("SKIP: replacing {CACHE} needs root and the file");
        return;
    }
    let Some(d) = common::sandboxed().await else { return };
    let runs = [
        ("python", "print('ran')", "forked"),
        ("javascript", "console.log('ran')", "warm"),
        ("shell", "echo ran", "forked"),
    ];
    for round in 0..2 {
        until_ready(&d, "python").await;
        until_ready(&d, "javascript").await;
        for (language, code, path) in runs {
            let r = d.execute(json!({"code": code, "language": language})).await;
            assert_eq!((r["stdout"].as_str(), path_of(&r)), (Some("ran\n"), path), "round {round}: {r}");
        }
        replace_by_rename(CACHE);
        // Every path, at once after the replacement: a sandbox started before it is stale.
        for (language, code, _) in runs {
            let r = d.post("/execute", &json!({"code": code, "language": language})).await;
            assert_eq!(r.status, 200, "round {round}, {language} after {CACHE} was replaced: {}", r.body);
            assert_eq!(
                (r.body["status"].as_str(), r.body["stdout"].as_str()),
                (Some("success"), Some("ran\n")),
                "round {round}, {language}: {}",
                r.body
            );
        }
    }
}

#[tokio::test]
async fn a_second_daemon_on_the_same_state_directory_is_refused() {
    let Some(d) = common::sandboxed().await else { return };
    // A run in flight that ends only when the test lets it: after the second daemon is gone.
    let body = json!({
        "code": "while [ ! -e release ]; do sleep 0.05; done; echo released",
        "language": "shell",
        "async": true,
        "execution_id": "held-run",
        "timeout": 120,
    });
    assert_eq!(d.post("/execute", &body).await.status, 202);
    let workspace = workspace_of(&d, "held-run").await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut second = Command::new(common::BIN)
        .arg("serve")
        .env("EXECUTOR_HOST", "127.0.0.1")
        .env("EXECUTOR_PORT", port.to_string())
        .env("STATE_DIR", d.state.path())
        .env("WORKSPACE_PATH", d.state.path().join("workspaces"))
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a second daemon");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = second.kill();
            let _ = second.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr = std::io::read_to_string(second.stderr.take().unwrap()).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("the second daemon did not exit: it serves beside the first"));
    assert!(!status.success(), "the second daemon exited {status}: {stderr}");
    let dir = d.state.path().display().to_string();
    let pid = format!("pid {}", d.pid());
    assert!(stderr.contains(&dir) && stderr.contains(&pid), "the refusal names the directory and {pid}: {stderr}");

    std::fs::write(workspace.join("release"), b"").unwrap();
    let record = finished(&d, "held-run", Duration::from_secs(60)).await;
    assert_eq!(record["state"], "finished", "{record}");
    assert_eq!(record["result"]["status"], "success", "{record}");
    assert_eq!(record["result"]["stdout"], "released\n", "{record}");
}
