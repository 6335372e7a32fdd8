//! The warm launch path: runs served by pre-started sandboxes give the same results as cold
//! runs, never see anything of an earlier run, keep their own timeout, and requests a
//! pre-started sandbox cannot serve exactly go cold (and say so).

use crate::common;
use std::time::{Duration, Instant};

use crate::common::Daemon;
use serde_json::{json, Value};

/// A daemon with the warm path on (the default), or None when the sandbox cannot run here.
pub(crate) async fn warm_daemon() -> Option<Daemon> {
    let daemon = Daemon::start().await;
    common::sandbox_or_skip(&daemon).await.then_some(daemon)
}

/// Ready sandboxes of one pool, as `GET /info` says.
async fn ready(d: &Daemon, language: &str, template: Option<&str>) -> u64 {
    let info = d.get("/info").await.body;
    let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
    let pool = pools.iter().find(|p| p["language"] == language && p["template"].as_str() == template);
    pool.and_then(|p| p["ready"].as_u64()).unwrap_or(0)
}

/// Waits until a pool has a ready sandbox (pools start and refill in the background).
pub(crate) async fn until_ready(d: &Daemon, language: &str, template: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while ready(d, language, template).await == 0 {
        assert!(
            Instant::now() < deadline,
            "no warm {language} {template:?} sandbox after 180 s: {}",
            d.get("/info").await.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The run's launch path, a zygote's two ways as one: `forked` whether its sandbox was
/// forked for it or built ahead (`prebuilt`), which depends on whether one was ready.
pub(crate) fn path_of(r: &Value) -> &str {
    match r["metrics"]["path"].as_str().unwrap_or_else(|| panic!("no metrics.path: {r}")) {
        "prebuilt" => "forked",
        path => path,
    }
}

/// The warm path of a language: Python and shell runs are forked by a zygote, JavaScript
/// runs take a pre-started sandbox.
fn warm_path(language: &str) -> &'static str {
    if language != "javascript" {
        "forked"
    } else {
        "warm"
    }
}

/// Runs `body` warm (waiting for a ready sandbox first) and cold, and checks both give the
/// same result, the launch path aside; returns the warm one.
pub(crate) async fn same_warm_and_cold(d: &Daemon, body: Value) -> Value {
    let language = body["language"].as_str().unwrap_or("python");
    let template = body["template"].as_str();
    let mut cold_body = body.clone();
    cold_body["warm"] = json!(false);
    let cold = d.execute(cold_body).await;
    // Shell runs are forked by the Python zygote.
    until_ready(d, if language == "shell" { "python" } else { language }, template).await;
    let warm = d.execute(body.clone()).await;
    assert_eq!((path_of(&warm), path_of(&cold)), (warm_path(language), "cold"), "{warm}\n{cold}");
    for field in
        ["status", "process_status", "termination_reason", "stdout", "stderr", "exit_code", "return_value", "error"]
    {
        assert_eq!(warm[field], cold[field], "{field} differs for {body}:\nwarm {warm}\ncold {cold}");
    }
    assert_eq!(warm["truncated"], cold["truncated"]);
    assert_eq!(warm["isolation"], cold["isolation"], "the same layers hold on both paths");
    let files = |r: &Value| -> Vec<(Value, Value)> {
        let mut files: Vec<(Value, Value)> =
            r["artifacts"].as_array().unwrap().iter().map(|a| (a["path"].clone(), a["type"].clone())).collect();
        files.sort_by_key(|f| f.0.to_string());
        files
    };
    assert_eq!(files(&warm), files(&cold), "artifacts differ:\nwarm {warm}\ncold {cold}");
    warm
}

#[tokio::test]
async fn a_warm_run_gives_the_cold_runs_result() {
    let Some(d) = warm_daemon().await else { return };
    let info = d.get("/info").await.body;
    assert_eq!(info["warm"]["enabled"], true, "{info}");

    let script = "import sys\nprint('out')\nprint('err', file=sys.stderr)";
    let r = same_warm_and_cold(&d, json!({"code": script, "language": "python"})).await;
    assert_eq!((r["stdout"].as_str(), r["stderr"].as_str()), (Some("out\n"), Some("err\n")), "{r}");

    let handler = "def handler(event, context):\n    return [event, context.memory_limit_in_mb, context.function_name]";
    let r = same_warm_and_cold(&d, json!({"code": handler, "language": "python", "event": {"n": 7}})).await;
    assert_eq!(r["return_value"], json!([{"n": 7}, 512, "handler"]), "{r}");

    let js = "exports.handler = async (event, ctx) => ({ got: event, mb: ctx.memory_limit_in_mb });";
    let r = same_warm_and_cold(&d, json!({"code": js, "language": "javascript", "event": {"a": [1]}})).await;
    assert_eq!(r["return_value"], json!({"got": {"a": [1]}, "mb": 512}), "{r}");

    let r = same_warm_and_cold(&d, json!({"code": "import sys\nprint('x')\nsys.exit(3)", "language": "python"})).await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("failed"), Some(3)), "{r}");

    let raising = "def f():\n    raise ValueError('bad value')\nf()";
    let r = same_warm_and_cold(&d, json!({"code": raising, "language": "python"})).await;
    assert_eq!(r["error"]["type"], "ValueError", "{r}");
    assert!(r["stderr"].as_str().unwrap().contains("line 2, in f"), "{r}");

    let throwing = "function f() { throw new TypeError('nope'); }\nf();";
    let r = same_warm_and_cold(&d, json!({"code": throwing, "language": "javascript"})).await;
    assert_eq!(r["error"]["type"], "TypeError", "{r}");

    // Variables reach the code and its subprocesses.
    let env = "import os, subprocess\nprint(os.environ['GREETING'])\n\
               print(subprocess.run(['sh', '-c', 'echo $GREETING'], capture_output=True, text=True).stdout, end='')";
    let r = same_warm_and_cold(&d, json!({"code": env, "language": "python", "env_vars": {"GREETING": "hello"}})).await;
    assert_eq!(r["stdout"], "hello\nhello\n", "{r}");
    let js_env =
        "console.log(process.env.GREETING, require('child_process').execSync('echo $GREETING').toString().trim())";
    let r =
        same_warm_and_cold(&d, json!({"code": js_env, "language": "javascript", "env_vars": {"GREETING": "hi"}})).await;
    assert_eq!(r["stdout"], "hi hi\n", "{r}");

    // Files in, artifacts out.
    let files = "data = open('in/data.txt').read()\nopen('out.txt', 'w').write(data.upper())\n\
                 import os\nos.makedirs('output', exist_ok=True)\nopen('output/r.txt', 'w').write('r')";
    let r = same_warm_and_cold(&d, json!({"code": files, "language": "python", "files": {"in/data.txt": "abc"}})).await;
    let paths: Vec<&str> = r["artifacts"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"out.txt") && paths.contains(&"output/r.txt"), "{r}");
}

#[tokio::test]
async fn a_chart_comes_back_from_a_warm_python_data_run() {
    let Some(d) = warm_daemon().await else { return };
    let chart = "import pandas as pd\nimport matplotlib.pyplot as plt\n\
                 df = pd.DataFrame({'x': [1, 2, 3], 'y': [2, 4, 8]})\nplt.plot(df.x, df.y)\nplt.show()\nprint(df.y.sum())";
    let body = json!({"code": chart, "language": "python", "template": "python-data", "timeout": 300});
    // The first use of a template builds it (when needed) and starts its pool.
    let first = d.post("/execute", &body).await;
    if first.status != 200 {
        eprintln!("SKIP: no python-data template here: {}", first.body);
        return;
    }
    let r = same_warm_and_cold(&d, body).await;
    assert_eq!(r["stdout"], "14\n", "{r}");
    let plot = r["artifacts"].as_array().unwrap().iter().find(|a| a["path"] == "output/plot_0.png").cloned();
    let plot = plot.unwrap_or_else(|| panic!("no chart: {r}"));
    assert_eq!(plot["type"], "image/png", "{plot}");
    assert!(plot["content"].as_str().is_some_and(|c| c.starts_with("iVBORw0KGgo")), "{plot}");
}

/// What run B finds of run A: A leaves tokens in /tmp, the workspace and /dev/shm, in its
/// environment and in a background process; B must find none.
#[tokio::test]
async fn a_warm_run_sees_nothing_of_the_run_before() {
    let Some(d) = warm_daemon().await else { return };
    let token = format!("warm-token-{}", std::process::id());
    let plant = format!(
        "import os, subprocess\n\
         for p in ['/tmp/t', '/workspace/t', '/dev/shm/t']:\n    open(p, 'w').write('{token}')\n\
         os.environ['LEFT'] = '{token}'\n\
         subprocess.Popen(['sh', '-c', 'sleep 300 # {token}'], start_new_session=True)\n\
         print('planted')"
    );
    let look = format!(
        "import os\n\
         found = [p for p in ['/tmp/t', '/workspace/t', '/dev/shm/t'] if os.path.exists(p)]\n\
         if 'LEFT' in os.environ: found.append('env')\n\
         for pid in filter(str.isdigit, os.listdir('/proc')):\n\
         \x20   try:\n\
         \x20       if b'{token}' in open(f'/proc/{{pid}}/cmdline', 'rb').read(): found.append('process ' + pid)\n\
         \x20   except OSError: pass\n\
         print('found', found)"
    );
    for round in 0..3 {
        until_ready(&d, "python", None).await;
        let a = d.execute(json!({"code": plant, "language": "python"})).await;
        assert_eq!((a["stdout"].as_str(), path_of(&a)), (Some("planted\n"), "forked"), "{a}");
        until_ready(&d, "python", None).await;
        let b = d.execute(json!({"code": look, "language": "python"})).await;
        assert_eq!((b["stdout"].as_str(), path_of(&b)), (Some("found []\n"), "forked"), "round {round}: {b}");
    }
}

#[tokio::test]
async fn a_warm_run_keeps_its_own_timeout() {
    let Some(d) = warm_daemon().await else { return };
    let body =
        json!({"code": "import time\nprint('start', flush=True)\ntime.sleep(60)", "language": "python", "timeout": 1});
    let r = same_warm_and_cold(&d, body).await;
    assert_eq!(
        (r["status"].as_str(), r["termination_reason"].as_str(), r["exit_code"].as_i64()),
        (Some("timeout"), Some("timeout"), Some(-1)),
        "{r}"
    );
    assert_eq!(r["stdout"], "start\n", "{r}");
    let took = r["execution_time"].as_f64().unwrap();
    assert!((1.0..30.0).contains(&took), "the run's time counts from its claim: {r}");
}

#[tokio::test]
async fn requests_a_pre_started_sandbox_cannot_serve_exactly_go_cold() {
    let Some(d) = warm_daemon().await else { return };
    let py = |extra: Value| {
        let mut body = json!({"code": "import sys\nprint(sys.stdin.read() or 'none')", "language": "python"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for (why, body) in [
        ("asked cold", py(json!({"warm": false}))),
        ("interpreter variable", py(json!({"env_vars": {"PYTHONHASHSEED": "1"}}))),
        ("ES module", json!({"code": "import fs from 'fs';\nconsole.log('none')", "language": "javascript"})),
        ("JavaScript stdin", json!({"code": "console.log('none')", "language": "javascript", "stdin": "abc"})),
    ] {
        until_ready(&d, "python", None).await;
        until_ready(&d, "javascript", None).await;
        let r = d.execute(body).await;
        assert_eq!(r["status"], "success", "{why}: {r}");
        assert_eq!(path_of(&r), "cold", "{why}: {r}");
    }
}

/// What the seeds send most (stdin, a session's workspace, shell, limits of its own) is
/// forked, with the cold run's result.
#[tokio::test]
async fn stdin_session_workspaces_shell_and_own_limits_are_forked_alike() {
    let Some(d) = warm_daemon().await else { return };
    let handler = "def handler(event, context):\n    return {'n': event['n'] + 1}";
    let r = same_warm_and_cold(&d, json!({"code": handler, "language": "python", "stdin": "{\"n\": 3}"})).await;
    assert_eq!(r["return_value"], json!({"n": 4}), "the JSON on stdin is the handler's event: {r}");
    let reader = "import sys\nprint(input())\nprint(sys.stdin.read().upper(), end='')";
    let r = same_warm_and_cold(&d, json!({"code": reader, "language": "python", "stdin": "one\ntwo\n"})).await;
    assert_eq!(r["stdout"], "one\nTWO\n", "{r}");
    let limited = json!({"code": "print('small')", "language": "python", "limits": {"memory_mb": 200}});
    same_warm_and_cold(&d, limited).await;

    let session = json!({"code": "open('kept.txt', 'w').write('x')", "language": "python", "session_id": "warm-s1"});
    assert_eq!(path_of(&d.execute(session).await), "forked");
    let listing = "import os\nprint(sorted(os.listdir('.')))";
    let r = same_warm_and_cold(&d, json!({"code": listing, "language": "python", "session_id": "warm-s1"})).await;
    assert_eq!(r["stdout"], "['kept.txt']\n", "the session's workspace is the forked run's: {r}");

    for shell in [
        "echo \"$0 $HOME\"; pwd; cat; exit 3",
        // SIGPIPE kills `yes` as on a fresh start: the interpreter's ignored signals are not kept.
        "yes | head -n 1; echo \"${PIPESTATUS[@]}\"; trap -p",
        "echo \"$GREETING\"; ls -a; ulimit -n; umask; id -u",
    ] {
        let body = json!({"code": shell, "language": "shell", "stdin": "in\n", "env_vars": {"GREETING": "hi"}});
        let r = same_warm_and_cold(&d, body).await;
        assert_eq!(r["stderr"], "", "{r}");
    }
    let r = d.execute(json!({"code": "yes | head -n 1; echo \"${PIPESTATUS[@]}\"", "language": "shell"})).await;
    assert_eq!(r["stdout"], "y\n141 0\n", "a shell run starts with SIGPIPE at its default: {r}");
}

#[tokio::test]
async fn pools_refill_after_each_run() {
    let Some(d) = warm_daemon().await else { return };
    for (language, code) in [("python", "print(1)"), ("javascript", "console.log(1)")] {
        for n in 0..4 {
            until_ready(&d, language, None).await;
            let r = d.execute(json!({"code": code, "language": language})).await;
            let expected = (Some("1\n"), warm_path(language));
            assert_eq!((r["stdout"].as_str(), path_of(&r)), expected, "{language} run {n}: {r}");
        }
    }
}

#[tokio::test]
async fn with_no_pool_every_run_is_cold() {
    let d = Daemon::start_with(&[("SANDBOX_WARM_POOL", "0")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let info = d.get("/info").await.body;
    assert_eq!((info["warm"]["enabled"].as_bool(), info["warm"]["pool_size"].as_u64()), (Some(false), Some(0)));
    for language in ["python", "javascript"] {
        let r = d.execute(json!({"code": "print(1)", "language": language})).await;
        assert_eq!(path_of(&r), "cold", "{r}");
    }
}

#[tokio::test]
async fn shutdown_ends_the_pre_started_sandboxes_and_removes_their_workspaces() {
    let Some(mut d) = warm_daemon().await else { return };
    until_ready(&d, "python", None).await;
    until_ready(&d, "javascript", None).await;
    let waiting = common::waiting_sandboxes(d.pid());
    assert!(!waiting.is_empty(), "no pre-started sandbox among the daemon's processes");
    if common::is_root() {
        assert!(!d.mounts_under_state().is_empty(), "pre-started sandboxes have their workspaces");
    }
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(30)).await.expect("the daemon exits");
    assert_eq!(status.code(), Some(0));
    // Their processes may take a moment to be reaped.
    let alive = || -> Vec<String> {
        waiting
            .iter()
            .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok().filter(|c| !c.is_empty()))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !alive().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(alive(), Vec::<String>::new(), "pre-started sandboxes outlived the daemon");
    assert_eq!(common::mounts_under(d.state.path()), Vec::<String>::new(), "workspaces left after shutdown");
}

/// A forked run is held to its own limits, whatever the zygote's: its own cgroup and rlimits.
#[tokio::test]
async fn a_forked_run_keeps_its_own_limits() {
    let Some(d) = warm_daemon().await else { return };
    let hog = "x = []\nwhile True:\n    x.append(bytearray(16 << 20))";
    let bomb =
        "import os, time\nfor _ in range(100):\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)";
    for (code, limits, reason) in
        [(hog, json!({"memory_mb": 128}), "memory_limit"), (bomb, json!({"max_processes": 10}), "process_limit")]
    {
        until_ready(&d, "python", None).await;
        let r = d.execute(json!({"code": code, "language": "python", "limits": limits, "timeout": 20})).await;
        assert_eq!((path_of(&r), r["termination_reason"].as_str()), ("forked", Some(reason)), "{r}");
    }
    until_ready(&d, "python", None).await;
    let r = d.execute(json!({"code": "print('after')", "language": "python"})).await;
    assert_eq!((path_of(&r), r["stdout"].as_str()), ("forked", Some("after\n")), "{r}");
}

/// A zygote that dies costs no run: requests go cold until its replacement is ready.
#[tokio::test]
async fn a_dead_zygote_is_replaced_and_no_run_fails() {
    let Some(d) = warm_daemon().await else { return };
    until_ready(&d, "python", None).await;
    let zygotes = common::zygotes(d.pid());
    assert_eq!(zygotes.len(), 1, "one Python zygote: {zygotes:?}");
    let killed = std::process::Command::new("kill").args(["-KILL", &zygotes[0].to_string()]).status().unwrap();
    assert!(killed.success());
    for n in 0..3 {
        let r = d.execute(json!({"code": "print('still')", "language": "python"})).await;
        assert_eq!(r["stdout"], "still\n", "run {n} after the zygote died: {r}");
    }
    until_ready(&d, "python", None).await;
    let r = d.execute(json!({"code": "print('again')", "language": "python"})).await;
    assert_eq!((path_of(&r), r["stdout"].as_str()), ("forked", Some("again\n")), "{r}");
}

/// Without the zygote library, Python runs take pre-started sandboxes as JavaScript does.
#[tokio::test]
async fn without_the_zygote_library_python_runs_on_pre_started_sandboxes() {
    let d = Daemon::start_with(&[("SANDBOX_ZYGOTE_LIB", "off")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    until_ready(&d, "python", None).await;
    let pools = d.get("/info").await.body["warm"]["pools"].clone();
    let python = pools.as_array().unwrap().iter().find(|p| p["language"] == "python").cloned().unwrap();
    assert_eq!(python["kind"], "pre-start", "{pools}");
    let r = d.execute(json!({"code": "print(1)", "language": "python"})).await;
    assert_eq!((path_of(&r), r["stdout"].as_str()), ("warm", Some("1\n")), "{r}");
}
