//! Sandboxes built ahead of their runs: a Python zygote keeps a few forks with their
//! namespaces, root, /tmp and cgroup made, and a run's claim brings the rest. Such a run gives
//! the cold run's result (stdin, environment, event, files, a session's workspace, its own
//! limits and timeout), each sandbox serves one run, the daemon builds new ones in the
//! background, and `GET /info` counts them.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Daemon};
use crate::warm::same_warm_and_cold;

/// Sandboxes the Python pool of `d` has built ahead, as `GET /info` says.
async fn built(d: &Daemon) -> u64 {
    let info = d.get("/info").await.body;
    let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
    let python = pools.iter().find(|p| p["language"] == "python" && p["template"].is_null());
    python.and_then(|p| p["prebuilt"].as_u64()).unwrap_or(0)
}

/// Waits until `d` has `n` sandboxes built ahead for Python.
async fn until_built(d: &Daemon, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while built(d).await < n {
        assert!(Instant::now() < deadline, "not {n} built ahead after 180 s: {}", d.get("/info").await.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A root daemon (only root can hand a fork its workspace), or None where it cannot run.
async fn daemon(env: &[(&str, &str)]) -> Option<Daemon> {
    if !common::is_root() {
        eprintln!("SKIP: only a root daemon hands forks their workspaces");
        return None;
    }
    let d = Daemon::start_with(env).await;
    common::sandbox_or_skip(&d).await.then_some(d)
}

/// Runs `body` on a sandbox built ahead (waiting for one first) and cold, checks both give
/// the same result, and returns the pre-built one.
async fn prebuilt_like_cold(d: &Daemon, body: Value) -> Value {
    until_built(d, 1).await;
    let r = same_warm_and_cold(d, body.clone()).await;
    assert_eq!(r["metrics"]["path"], "prebuilt", "{body}\n{r}");
    r
}

#[tokio::test]
async fn a_claimed_run_gets_the_cold_runs_result_with_its_stdin_environment_event_and_files() {
    let Some(d) = daemon(&[]).await else { return };
    let handler = "import os, sys\n\
                   print(sys.stdin.read().strip(), os.environ['GREETING'], open('in.txt').read(), os.getcwd())\n\
                   open('out.txt', 'w').write('made')\n\
                   def handler(event):\n    return {'twice': event['n'] * 2}";
    let body = json!({
        "code": handler, "language": "python", "stdin": "from-stdin\n", "event": {"n": 21},
        "env_vars": {"GREETING": "hello"}, "files": {"in.txt": "given"},
    });
    let r = prebuilt_like_cold(&d, body).await;
    assert_eq!(r["stdout"], "from-stdin hello given /workspace\n", "{r}");
    assert_eq!(r["return_value"], json!({"twice": 42}), "{r}");
    // A shell run claims one too: its command line, stdin and exit status are its own.
    let shell = json!({"code": "read -r x; echo \"got $x $PWD\"; exit 3", "language": "shell", "stdin": "in\n"});
    let r = prebuilt_like_cold(&d, shell).await;
    let (stdout, code) = (r["stdout"].as_str(), r["exit_code"].as_i64());
    assert_eq!((stdout, code), (Some("got in /workspace\n"), Some(3)), "{r}");
    assert!(r["return_value"].is_null(), "a shell run has no channel: {r}");
}

#[tokio::test]
async fn a_session_workspace_is_attached_at_the_claim() {
    let Some(d) = daemon(&[]).await else { return };
    let session = format!("prebuilt-{}", std::process::id());
    for (code, expected) in [
        ("open('kept.txt', 'w').write('first run')\nprint('wrote')", "wrote\n"),
        ("print(open('kept.txt').read())", "first run\n"),
    ] {
        until_built(&d, 1).await;
        let r = d.execute(json!({"code": code, "language": "python", "session_id": session})).await;
        assert_eq!((r["metrics"]["path"].as_str(), r["stdout"].as_str()), (Some("prebuilt"), Some(expected)), "{r}");
    }
}

#[tokio::test]
async fn a_claimed_run_keeps_its_own_limits_and_timeout() {
    let Some(d) = daemon(&[]).await else { return };
    let output = json!({"code": "print('x' * 100000)", "language": "python", "limits": {"max_output_bytes": 1000}});
    let r = prebuilt_like_cold(&d, output).await;
    assert_eq!((r["stdout"].as_str().map(str::len), &r["truncated"]["stdout"]), (Some(1000), &json!(true)), "{r}");
    let nproc = json!({"code": "import resource\nprint(resource.getrlimit(resource.RLIMIT_NPROC))", "language": "python",
                       "limits": {"max_processes": 24}});
    prebuilt_like_cold(&d, nproc).await;
    until_built(&d, 1).await;
    let sleeper =
        json!({"code": "import time\nprint('start', flush=True)\ntime.sleep(30)", "language": "python", "timeout": 1});
    let r = d.execute(sleeper).await;
    assert_eq!(r["metrics"]["path"], "prebuilt", "{r}");
    assert_eq!((r["status"].as_str(), r["termination_reason"].as_str()), (Some("timeout"), Some("timeout")), "{r}");
    let took = r["metrics"]["duration_ms"].as_f64().unwrap();
    assert!((1000.0..5000.0).contains(&took), "the run's own timeout, from its claim: {took} ms");
    let layers = d.get("/info").await.body["isolation"]["layers"].clone();
    let memory = layers.as_array().unwrap().iter().any(|l| l["name"] == "cgroup:memory" && l["active"] == true);
    if memory {
        until_built(&d, 1).await;
        let bomb = "kept = []\nwhile True:\n    kept.append(bytearray(8 << 20))";
        let r =
            d.execute(json!({"code": bomb, "language": "python", "timeout": 60, "limits": {"memory_mb": 96}})).await;
        assert_eq!(r["metrics"]["path"], "prebuilt", "{r}");
        assert_eq!(
            (r["status"].as_str(), r["termination_reason"].as_str()),
            (Some("killed"), Some("memory_limit")),
            "{r}"
        );
        assert!(r["metrics"]["peak_memory_mb"].as_f64().unwrap() <= 97.0, "held to the run's 96 MiB: {r}");
    }
}

#[tokio::test]
async fn each_sandbox_serves_one_run_and_the_daemon_builds_new_ones() {
    let Some(d) = daemon(&[]).await else { return };
    until_built(&d, 2).await;
    let mut paths = Vec::new();
    for n in 0..6 {
        let r = d.execute(json!({"code": format!("import os\nprint({n}, os.getpid())"), "language": "python"})).await;
        assert_eq!(r["stdout"].as_str().and_then(|s| s.split(' ').next()), Some(n.to_string().as_str()), "{r}");
        paths.push(r["metrics"]["path"].as_str().unwrap_or("").to_string());
    }
    assert!(paths.iter().all(|p| p == "prebuilt" || p == "forked"), "{paths:?}");
    assert_eq!(paths[0], "prebuilt", "{paths:?}");
    // Refilled in the background, to the configured number.
    until_built(&d, 2).await;
    assert_eq!(built(&d).await, 2, "never more than configured");
}

#[tokio::test]
async fn with_none_built_ahead_a_zygote_forks_each_run() {
    let Some(d) = daemon(&[("SANDBOX_WARM_PREBUILT", "0")]).await else { return };
    crate::warm::until_ready(&d, "python", None).await;
    let r = d.execute(json!({"code": "print('forked')", "language": "python"})).await;
    assert_eq!((r["metrics"]["path"].as_str(), r["stdout"].as_str()), (Some("forked"), Some("forked\n")), "{r}");
    assert_eq!(built(&d).await, 0);
}

#[tokio::test]
async fn a_session_interpreter_starts_in_a_sandbox_built_ahead_and_ends_with_its_session() {
    let Some(d) = daemon(&[]).await else { return };
    until_built(&d, 2).await;
    let created = d.post("/session/create", &json!({})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let session = created.body["session_id"].as_str().expect("session_id").to_string();
    let marker = format!("prebuilt-session-{}", std::process::id());
    let cells = [
        format!("import subprocess\nkept = subprocess.Popen(['sh', '-c', 'sleep 300; : {marker}'])\nx = 41"),
        "print(x + 1)".to_string(),
    ];
    let mut last = Value::Null;
    for code in &cells {
        last = d.post("/session/execute", &json!({"session_id": session, "code": code})).await.body;
        assert_eq!(last["metrics"]["path"], "prebuilt", "{last}");
    }
    assert_eq!(last["stdout"], "42\n", "the interpreter keeps its state: {last}");
    assert!(!common::descendants_matching(d.pid(), &marker).is_empty(), "the session's process runs");
    let destroyed = d.post("/session/destroy", &json!({"session_id": session})).await;
    assert_eq!(destroyed.status, 200, "{}", destroyed.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !common::descendants_matching(d.pid(), &marker).is_empty() {
        assert!(Instant::now() < deadline, "the session's sandbox outlived its session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
