//! Every curl example of the quickstart seeds (000 and 001), with the request bodies as printed
//! there, and what our daemon must answer to each.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::Daemon;
use serde_json::json;

#[tokio::test]
async fn health_and_info_answer_the_seed_fields() {
    let d = Daemon::start().await;
    // Seed 000, step 2: `curl http://localhost:8080/health`.
    let r = d.get("/health").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "healthy");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(r.body["uptime_seconds"].as_f64().is_some_and(|s| s >= 0.0), "{}", r.body);
    assert_eq!(r.body["active_executions"], 0, "{}", r.body);
    // Seed 001: `curl http://localhost:8080/info`.
    let info = d.get("/info").await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.body["version"], r.body["version"]);
    assert_eq!(info.body["platform"]["os"], "linux");
    assert!(info.body["isolation"].is_object(), "{}", info.body);
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    // active_executions counts real runs.
    let run = d.execute(json!({"code": "sleep 1", "language": "shell", "timeout": 5}));
    let probe = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        d.get("/health").await
    };
    let (result, during) = tokio::join!(run, probe);
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(during.body["active_executions"], 1, "{}", during.body);
    assert_eq!(d.get("/health").await.body["active_executions"], 0);
}

#[tokio::test]
async fn step_3_python_handler_gets_stdin_as_its_event() {
    let Some(d) = common::sandboxed().await else { return };
    let r = d
        .execute(json!({
          "code": "def handler(event):\n    return {\"message\": \"Hello\", \"input\": event.get(\"name\", \"World\")}",
          "language": "python",
          "timeout": 10,
          "stdin": "{\"name\": \"Alice\"}",
          "execution_id": "exec_test_001"
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["return_value"], json!({"message": "Hello", "input": "Alice"}), "{r}");
    // The result travels on a private channel: no SANDBOX_RESULT markers in stdout.
    assert_eq!(r["stdout"], "", "{r}");
    assert_eq!(r["stderr"], "", "{r}");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["execution_id"], "exec_test_001");
    assert!(r["error"].is_null(), "{r}");
    for metric in ["duration_ms", "cpu_time_ms", "peak_memory_mb"] {
        let value = r["metrics"][metric].as_f64().unwrap_or_else(|| panic!("{metric} is not a number: {r}"));
        assert!(value > 0.0, "{metric} = {value}: {r}");
    }
    assert!(r["execution_time"].as_f64().is_some_and(|t| t > 0.0 && t < 10.0), "{r}");
    assert_eq!(r["artifacts"], json!([]), "{r}");
}

#[tokio::test]
async fn step_4_syntax_error_fails_with_the_interpreters_message() {
    let Some(d) = common::sandboxed().await else { return };
    // The seed posts this to /health, a typo: /execute is meant.
    let r = d
        .execute(json!({
          "code": "def handler(event:\n    return x",
          "language": "python",
          "timeout": 10,
          "stdin": "{}",
          "execution_id": "exec_test_002"
        }))
        .await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["exit_code"], 1, "{r}");
    assert_eq!(r["stdout"], "", "{r}");
    let stderr = common::text(&r, "stderr");
    assert!(stderr.contains("File \"<string>\", line 1"), "{stderr}");
    assert!(stderr.contains("def handler(event:"), "{stderr}");
    assert!(stderr.contains("SyntaxError"), "{stderr}");
    assert!(r["return_value"].is_null(), "{r}");
    assert_eq!(r["error"]["type"], "SyntaxError", "{r}");
    assert_eq!(r["artifacts"], json!([]), "{r}");
}

#[tokio::test]
async fn file_output_example_reports_its_artifact() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "\nimport json\n\ndef handler(event):\n    data = {\"results\": [1, 2, 3]}\n    with open(\"output.json\", \"w\") as f:\n        json.dump(data, f)\n    return {\"status\": \"ok\", \"file\": \"output.json\"}\n";
    let r = d
        .execute(json!({
          "code": code,
          "language": "python",
          "timeout": 10,
          "stdin": "{}",
          "execution_id": "exec_test_003"
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["return_value"], json!({"status": "ok", "file": "output.json"}), "{r}");
    let written = br#"{"results": [1, 2, 3]}"#;
    let artifacts = r["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{r}");
    assert_eq!(artifacts[0]["path"], "output.json");
    assert_eq!(artifacts[0]["mime_type"], "application/json");
    assert_eq!(artifacts[0]["size"], written.len());
    assert_eq!(artifacts[0]["sha256"], common::sha256_hex(written), "{r}");
}

#[tokio::test]
async fn javascript_and_shell_examples() {
    let Some(d) = common::sandboxed().await else { return };
    let r = d
        .execute(json!({
          "code": "console.log(\"Hello from Node.js\"); process.exit(0);",
          "language": "javascript",
          "timeout": 5,
          "stdin": "",
          "execution_id": "exec_test_004"
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["stdout"], "Hello from Node.js\n", "{r}");
    assert_eq!((r["stderr"].as_str(), r["exit_code"].as_i64()), (Some(""), Some(0)), "{r}");
    assert_eq!(r["execution_id"], "exec_test_004");

    let r = d
        .execute(json!({
          "code": "echo \"Hello from Bash\" && date",
          "language": "shell",
          "timeout": 5,
          "stdin": "",
          "execution_id": "exec_test_005"
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    let out = common::text(&r, "stdout");
    assert!(out.starts_with("Hello from Bash\n"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    // `date`: e.g. "Sun Nov 22 03:51:34 UTC 2026".
    let year = lines[1].split_whitespace().last().unwrap();
    assert!(year.len() == 4 && year.parse::<u32>().is_ok_and(|y| y >= 2024), "{out}");
    assert!(lines[1].split_whitespace().any(|w| w.len() == 8 && w.matches(':').count() == 2), "{out}");
}

#[tokio::test]
async fn timeout_example_is_enforced() {
    let Some(d) = common::sandboxed().await else { return };
    // The seed's body with timeout 2 instead of 10, to keep the test fast; the code sleeps 60 s.
    let started = Instant::now();
    let r = d
        .execute(json!({
          "code": "import time; time.sleep(60); print(\"Done\")",
          "language": "python",
          "timeout": 2,
          "stdin": "{}",
          "execution_id": "exec_test_006"
        }))
        .await;
    assert_eq!(r["status"], "timeout", "{r}");
    assert_eq!(r["exit_code"], -1, "{r}");
    assert!(!common::text(&r, "stdout").contains("Done"), "{r}");
    let t = r["execution_time"].as_f64().unwrap();
    assert!((1.9..5.0).contains(&t), "execution_time {t}: {r}");
    // Far from the 60 s the code asked for: the answer came at the timeout, not at the end.
    assert!(started.elapsed() < Duration::from_secs(30), "the answer took {:?}", started.elapsed());
}

#[tokio::test]
async fn isolation_example_sees_a_synthesized_passwd() {
    let Some(d) = common::sandboxed().await else { return };
    let r = d
        .execute(json!({
          "code": "with open(\"/etc/passwd\", \"r\") as f: print(f.read())",
          "language": "python",
          "timeout": 5,
          "stdin": "{}",
          "execution_id": "exec_test_007"
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    let out = common::text(&r, "stdout");
    let names: Vec<&str> = out.lines().filter(|l| !l.is_empty()).map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["root", "sandbox", "nobody"], "{out}");
    let host = std::fs::read_to_string("/etc/passwd").unwrap();
    let host_users: Vec<&str> = host
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|n| !n.is_empty() && !["root", "nobody", "sandbox"].contains(n))
        .collect();
    for user in host_users {
        assert!(!out.lines().any(|l| l.starts_with(&format!("{user}:"))), "host user {user} is visible: {out}");
    }
}

#[tokio::test]
async fn seed_001_handler_and_shell_examples() {
    let Some(d) = common::sandboxed().await else { return };
    let r = d
        .execute(json!({
          "execution_id": "exec_001",
          "session_id": "session_001",
          "code": "def handler(event):\n    return {\"message\": \"Hello World!\"}",
          "language": "python",
          "timeout": 10
        }))
        .await;
    assert_eq!((r["status"].as_str(), r["execution_id"].as_str()), (Some("success"), Some("exec_001")), "{r}");
    assert_eq!(r["return_value"], json!({"message": "Hello World!"}), "{r}");

    // The `requests` example.
    let r = d
        .execute(json!({
          "execution_id": "exec_002",
          "session_id": "session_001",
          "code": "\ndef handler(event):\n    name = event.get('name', 'World')\n    return {'greeting': f'Hello, {name}!'}\n",
          "language": "python",
          "timeout": 10,
          "event": {"name": "Alice"}
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["return_value"], json!({"greeting": "Hello, Alice!"}), "{r}");

    let r = d
        .execute(json!({
          "execution_id": "exec_js_001",
          "session_id": "session_001",
          "code": "module.exports.handler = (event) => ({ message: `Hello ${event.name}!` });",
          "language": "javascript",
          "timeout": 10,
          "event": {"name": "Bob"}
        }))
        .await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["return_value"], json!({"message": "Hello Bob!"}), "{r}");
    assert_eq!(r["stdout"], "", "{r}");

    let r = d
        .execute(json!({
          "execution_id": "exec_shell_001",
          "session_id": "session_001",
          "code": "echo \"Hello from shell!\" && ls -la /tmp",
          "language": "shell",
          "timeout": 10
        }))
        .await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("success"), Some(0)), "{r}");
    let out = common::text(&r, "stdout");
    assert!(out.starts_with("Hello from shell!\ntotal "), "{out}");
    // The sandbox's own /tmp, sticky and world-writable.
    assert!(out.lines().any(|l| l.starts_with("drwxrwxrwt") && l.ends_with(" .")), "{out}");
}

#[tokio::test]
async fn seed_001_concurrency_example() {
    let Some(d) = common::sandboxed().await else { return };
    let body = |i: usize, code: &str| {
        json!({
          "execution_id": format!("concurrent_{i}"),
          "session_id": "test",
          "code": code,
          "language": "python",
          "timeout": 10
        })
    };
    // As printed, the code is not valid Python (`; def` on one line): it must fail at once.
    let r = d.execute(body(0, "import time; time.sleep(2); def handler(e): return {'done': True}")).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["type"], "SyntaxError", "{r}");
    assert!(common::text(&r, "stderr").contains("SyntaxError"), "{r}");
    assert!(r["execution_time"].as_f64().unwrap() < 1.9, "the sleep must never have run: {r}");

    // What it meant, five times at once: the runs overlap.
    let fixed = "import time\ntime.sleep(2)\ndef handler(e): return {'done': True}";
    let results = futures::future::join_all((1..=5).map(|i| d.execute(body(i, fixed)))).await;
    let mut spans = Vec::new();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["status"], "success", "{r}");
        assert_eq!(r["return_value"], json!({"done": true}), "{r}");
        assert_eq!(r["execution_id"], format!("concurrent_{}", i + 1));
        assert!(r["execution_time"].as_f64().unwrap() >= 2.0, "{r}");
        // The records say when each run started and finished (RFC 3339, UTC, fixed width).
        let record = d.get(&format!("/executions/concurrent_{}", i + 1)).await.body;
        spans.push((
            record["started_at"].as_str().unwrap().to_string(),
            record["finished_at"].as_str().unwrap().to_string(),
        ));
    }
    // They ran at the same time: every run started before any of them finished.
    let last_start = spans.iter().map(|s| &s.0).max().unwrap();
    let first_end = spans.iter().map(|s| &s.1).min().unwrap();
    assert!(last_start < first_end, "the runs did not overlap: {spans:?}");
}
