//! The NVIDIA local sandbox's dialect (seed 004): `generated_code` + `timeout` in,
//! `process_status`/`stdout`/`stderr` out, through the real daemon. Its test scenarios with
//! numpy, pandas and plotly are in `templates.rs`, with the `python-data` template they need.
//!
//! Dialect requests run in `python-data`: the suite's first one waits for its build (shared by
//! every daemon of the suite), so tests that time a request warm up first.

use crate::common;
use std::time::Duration;

use crate::common::{assert_error_body, Daemon};
use serde_json::{json, Value};

async fn generated(d: &Daemon, code: &str, timeout: f64) -> Value {
    d.execute(json!({"generated_code": code, "timeout": timeout, "language": "python"})).await
}

/// Waits until the dialect's template is built, so that what follows can be timed.
async fn warm_up(d: &Daemon) {
    assert_completed(&generated(d, "print('warm')", 30.0).await, "warm\n");
}

/// A success case: completed, the exact stdout, and (as the seed expects) an empty stderr.
#[track_caller]
fn assert_completed(r: &Value, stdout: &str) {
    assert_eq!(r["process_status"], "completed", "{r}");
    assert_eq!(r["stdout"], stdout, "{r}");
    assert_eq!(r["stderr"], "", "{r}");
    assert_eq!(r["exit_code"], 0, "{r}");
}

#[track_caller]
fn assert_error(r: &Value, in_stderr: &str) {
    assert_eq!(r["process_status"], "error", "{r}");
    assert_eq!(r["status"], "failed", "{r}");
    assert!(common::text(r, "stderr").contains(in_stderr), "stderr lacks {in_stderr}: {r}");
}

#[tokio::test]
async fn print_and_arithmetic_complete() {
    let Some(d) = common::sandboxed().await else { return };
    assert_completed(&generated(&d, "print(\"Hello, World!\")", 30.0).await, "Hello, World!\n");
    // `language` is optional; python is the default.
    let r =
        d.execute(json!({"generated_code": "print(2 + 3 * 4)\nprint(10 / 4)\nprint(2 ** 10)", "timeout": 10})).await;
    assert_completed(&r, "14\n2.5\n1024\n");
    let r = generated(&d, "s = 'sandbox'\nprint(s.upper(), s[::-1], len(s))", 10.0).await;
    assert_completed(&r, "SANDBOX xobdnas 7\n");
}

#[tokio::test]
async fn syntax_runtime_and_import_errors() {
    let Some(d) = common::sandboxed().await else { return };
    let r = generated(&d, "print(\"unclosed\"", 10.0).await;
    assert_error(&r, "SyntaxError");
    assert_eq!(r["stdout"], "", "{r}");
    let r = generated(&d, "print('before')\nx = 1 / 0", 10.0).await;
    assert_error(&r, "ZeroDivisionError: division by zero");
    assert_eq!(r["stdout"], "before\n", "{r}");
    let r = generated(&d, "import nonexistent_module_xyz", 10.0).await;
    assert_error(&r, "ModuleNotFoundError: No module named 'nonexistent_module_xyz'");
}

#[tokio::test]
async fn mixed_output_and_a_long_loop() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nprint('out again')";
    let r = generated(&d, code, 10.0).await;
    assert_eq!(r["process_status"], "completed", "{r}");
    assert_eq!((r["stdout"].as_str(), r["stderr"].as_str()), (Some("to out\nout again\n"), Some("to err\n")), "{r}");

    let code = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.5)\nprint('finished')";
    let r = generated(&d, code, 5.0).await;
    assert_completed(&r, "0\n1\n2\nfinished\n");
    assert!(r["execution_time"].as_f64().unwrap() >= 1.5, "{r}");
}

#[tokio::test]
async fn dict_and_markdown_inputs_are_unwrapped() {
    let Some(d) = common::sandboxed().await else { return };
    let r = generated(&d, "{'generated_code': 'print(\"Hello from dict format\")'}", 30.0).await;
    assert_completed(&r, "Hello from dict format\n");
    let r = generated(&d, "```python\nprint('Hello from markdown')\n```", 30.0).await;
    assert_completed(&r, "Hello from markdown\n");
}

#[tokio::test]
async fn files_in_the_working_directory_and_across_requests() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "import os\nwith open('scratch.txt', 'w') as f:\n    f.write('scratch data')\nprint(open('scratch.txt').read())\nos.remove('scratch.txt')\nprint(os.path.exists('scratch.txt'))";
    assert_completed(&generated(&d, code, 10.0).await, "scratch data\nFalse\n");

    let write = "import csv\nwith open('persist.txt', 'w') as f:\n    f.write('kept across requests')\nwith open('data.csv', 'w', newline='') as f:\n    csv.writer(f).writerows([['name', 'score'], ['ada', 90], ['bob', 85]])\nprint('written')";
    assert_completed(&generated(&d, write, 10.0).await, "written\n");
    // A separate request sees the files: the dialect's working directory is shared.
    let read = "import csv\nprint(open('persist.txt').read())\nrows = list(csv.reader(open('data.csv')))\nprint(rows[1:], sum(int(r[1]) for r in rows[1:]))";
    let r = generated(&d, read, 10.0).await;
    assert_completed(&r, "kept across requests\n[['ada', '90'], ['bob', '85']] 175\n");

    let code = "import json\ndata = {'name': 'test', 'values': [1, 2, 3], 'nested': {'ok': True}}\ns = json.dumps(data, sort_keys=True)\nprint(s)\nprint(json.loads(s) == data)";
    let r = generated(&d, code, 10.0).await;
    assert_completed(&r, "{\"name\": \"test\", \"nested\": {\"ok\": true}, \"values\": [1, 2, 3]}\nTrue\n");
}

#[tokio::test]
async fn sleeping_past_the_timeout_times_out() {
    let Some(d) = common::sandboxed().await else { return };
    warm_up(&d).await;
    let r = generated(&d, "import time\nprint('start', flush=True)\ntime.sleep(2)\nprint('end')", 1.0).await;
    assert_eq!(r["process_status"], "timeout", "{r}");
    assert_eq!(r["status"], "timeout", "{r}");
    assert!(common::text(&r, "stderr").contains("Timed out"), "{r}");
    assert!(!common::text(&r, "stdout").contains("end"), "{r}");
    // Killed at the deadline, not when the 2 s sleep would have ended.
    let t = r["execution_time"].as_f64().unwrap();
    assert!((0.9..1.9).contains(&t), "execution_time {t}: {r}");
}

#[tokio::test]
async fn malformed_requests_are_refused() {
    let d = Daemon::start().await;
    // Without a timeout: 400, in both vocabularies.
    let r = d.post("/execute", &json!({"generated_code": "print(1)", "language": "python"})).await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
    assert_eq!(r.body["process_status"], "error", "{}", r.body);
    assert_eq!(r.body["stdout"], "", "{}", r.body);
    let stderr = r.body["stderr"].as_str().unwrap();
    assert!(stderr.contains("timeout"), "{}", r.body);

    let r = d.post_raw("/execute", Some("application/json"), br#"{"generated_code": "print(1)", "#.to_vec()).await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
    assert_eq!(r.body["process_status"], "error", "{}", r.body);
    assert!(!r.body["stderr"].as_str().unwrap().is_empty(), "{}", r.body);

    let r = d.post_raw("/execute", Some("text/plain"), b"print('Hello, World!')".to_vec()).await;
    assert_eq!(assert_error_body(&r, 415), "Executor.UnsupportedMediaType");
}

#[tokio::test]
async fn sys_exit_does_not_hang() {
    let Some(d) = common::sandboxed().await else { return };
    warm_up(&d).await;
    let request = generated(&d, "import sys\nprint('bye')\nsys.exit()\nprint('unreachable')", 5.0);
    let r = tokio::time::timeout(Duration::from_secs(30), request).await.expect("sys.exit() hung the request");
    assert_completed(&r, "bye\n");
    assert!(r["execution_time"].as_f64().unwrap() < 2.0, "{r}");
}

#[tokio::test]
async fn timeouts_under_a_second_are_taken_and_say_timed_out() {
    let Some(d) = common::sandboxed().await else { return };
    warm_up(&d).await;
    // NVIDIA's client sends float timeouts such as 0.05 s.
    let r = generated(&d, "import time\nprint('start', flush=True)\ntime.sleep(30)", 0.05).await;
    assert_eq!(r["process_status"], "timeout", "{r}");
    assert!(common::text(&r, "stderr").contains("Timed out"), "{r}");
    // Not positive, or over the maximum: still refused, in both vocabularies.
    for bad in [json!(0), json!(-0.5), json!(3601)] {
        let r = d.post("/execute", &json!({"generated_code": "print(1)", "timeout": bad})).await;
        assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError", "timeout {bad}");
        assert_eq!(r.body["process_status"], "error", "{}", r.body);
        assert!(r.body["stderr"].as_str().unwrap().contains("timeout"), "{}", r.body);
    }
    // Our own API takes fractional seconds within its range.
    let r = d.execute(json!({"code": "print('ok')", "timeout": 1.5})).await;
    assert_eq!(r["status"], "success", "{r}");
}

#[tokio::test]
async fn a_syntax_errors_stderr_is_a_traceback_as_nvidia_prints_it() {
    let Some(d) = common::sandboxed().await else { return };
    for code in ["print(\"unclosed\"", "if True:\nprint('not indented')"] {
        let r = generated(&d, code, 10.0).await;
        assert_eq!(r["process_status"], "error", "{r}");
        let stderr = common::text(&r, "stderr");
        assert!(stderr.starts_with("Traceback (most recent call last):\n"), "{r}");
        assert!(stderr.contains("Error"), "{r}");
    }
    // A runtime error's traceback has the header once.
    let r = generated(&d, "x = 1 / 0", 10.0).await;
    let stderr = common::text(&r, "stderr");
    assert!(stderr.starts_with("Traceback (most recent call last):\n"), "{r}");
    assert_eq!(stderr.matches("Traceback (most recent call last):").count(), 1, "{r}");
    // Our own API keeps Python's own wording: no header on a syntax error.
    let r = d.execute(json!({"code": "print(\"unclosed\"", "language": "python"})).await;
    assert!(!common::text(&r, "stderr").starts_with("Traceback"), "{r}");
}
