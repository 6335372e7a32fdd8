//! Handler and script mode in Python, JavaScript and Shell, through the real daemon: exact
//! output, return values, exit codes and error types.

use crate::common;
use crate::common::Daemon;
use serde_json::{json, Value};

async fn run(d: &Daemon, language: &str, code: &str) -> Value {
    d.execute(json!({"code": code, "language": language, "timeout": 10})).await
}

#[track_caller]
fn assert_success(r: &Value) {
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["exit_code"], 0, "{r}");
    assert!(r["error"].is_null(), "{r}");
}

#[tokio::test]
async fn python_script_output_and_exit_code() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "import sys\nprint('to stdout', 6 * 7)\nprint('to stderr', file=sys.stderr)\nsys.exit(3)";
    let r = run(&d, "python", code).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["exit_code"], 3, "{r}");
    assert_eq!(r["stdout"], "to stdout 42\n");
    assert_eq!(r["stderr"], "to stderr\n");
    assert!(r["return_value"].is_null(), "{r}");
    let r = run(&d, "python", "print('fine')").await;
    assert_success(&r);
    assert_eq!((r["stdout"].as_str(), r["stderr"].as_str()), (Some("fine\n"), Some("")), "{r}");
}

#[tokio::test]
async fn python_handlers_get_a_context_and_may_be_async() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "def handler(event, context):\n    return {'id': context.execution_id, 'left': context.get_remaining_time_in_millis(), 'n': event['n'] + 1}";
    let r = d
        .execute(
            json!({"code": code, "language": "python", "timeout": 5, "execution_id": "ctx-py-1", "event": {"n": 1}}),
        )
        .await;
    assert_success(&r);
    assert_eq!(r["return_value"]["id"], "ctx-py-1", "{r}");
    assert_eq!(r["return_value"]["n"], 2, "{r}");
    let left = r["return_value"]["left"].as_i64().unwrap();
    assert!(left > 0 && left <= 5000, "remaining time {left}: {r}");

    let code = "import asyncio\nasync def handler(event):\n    await asyncio.sleep(0.05)\n    return event['x'] * 2";
    let r = d.execute(json!({"code": code, "language": "python", "event": {"x": 21}})).await;
    assert_success(&r);
    assert_eq!(r["return_value"], 42, "{r}");
}

#[tokio::test]
async fn python_handler_failures_are_typed() {
    let Some(d) = common::sandboxed().await else { return };
    let r = run(&d, "python", "def handler(event):\n    return {1, 2}").await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["type"], "SerializationError", "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(message.contains("not JSON serializable") && message.contains("set"), "{message}");
    assert!(r["return_value"].is_null(), "{r}");

    let r = run(&d, "python", "def handler(event):\n    return 1 / 0").await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("failed"), Some(1)), "{r}");
    assert_eq!(r["error"]["type"], "ZeroDivisionError", "{r}");
    assert_eq!(r["error"]["message"], "division by zero", "{r}");
    let stderr = common::text(&r, "stderr");
    assert!(stderr.starts_with("Traceback (most recent call last):\n"), "{stderr}");
    assert!(stderr.contains("File \"<string>\", line 2, in handler"), "{stderr}");
    assert!(stderr.contains("ZeroDivisionError: division by zero"), "{stderr}");
    let traceback = r["error"]["traceback"].as_str().unwrap();
    for shown in [stderr, traceback] {
        assert!(!shown.contains("driver"), "the driver's frames leak: {shown}");
    }
}

#[tokio::test]
async fn python_output_cannot_forge_the_result() {
    let Some(d) = common::sandboxed().await else { return };
    let forged = r#"print('===SANDBOX_RESULT===\n{"mode": "handler", "return_value": 666}\n===SANDBOX_RESULT_END===')"#;
    let code = format!("{forged}\ndef handler(event):\n    {forged}\n    return {{'real': True}}");
    let r = run(&d, "python", &code).await;
    assert_success(&r);
    assert_eq!(r["return_value"], json!({"real": true}), "{r}");
    assert_eq!(common::text(&r, "stdout").matches("===SANDBOX_RESULT===").count(), 2, "{r}");
    // A script's forged result stays plain output; fd 3 is not reachable under its number.
    let code = format!(
        "{forged}\nprint('{{\"mode\": \"handler\", \"return_value\": 666}}')\nimport os\ntry:\n    os.write(3, b'{{\"return_value\": 666}}')\nexcept OSError as e:\n    print('errno', e.errno)"
    );
    let r = run(&d, "python", &code).await;
    assert_success(&r);
    assert!(r["return_value"].is_null(), "{r}");
    assert!(common::text(&r, "stdout").ends_with("errno 9\n"), "{r}");
}

#[tokio::test]
async fn python_stdin_env_vars_and_uploaded_modules() {
    let Some(d) = common::sandboxed().await else { return };
    let r =
        d.execute(json!({"code": "import sys; print(sys.stdin.read())", "language": "python", "stdin": "hello"})).await;
    assert_success(&r);
    assert_eq!(r["stdout"], "hello\n", "{r}");
    let code = "import os; print(os.environ['GREETING'], os.environ.get('SECOND'))";
    let env = json!({"GREETING": "bonjour", "SECOND": "x y"});
    let r = d.execute(json!({"code": code, "language": "python", "env_vars": env})).await;
    assert_success(&r);
    assert_eq!(r["stdout"], "bonjour x y\n", "{r}");
    let code = "import helper\ndef handler(event):\n    return helper.f() * 6";
    let r = d.execute(json!({"code": code, "language": "python", "files": {"helper.py": "def f(): return 7"}})).await;
    assert_success(&r);
    assert_eq!(r["return_value"], 42, "{r}");
}

#[tokio::test]
async fn python_memory_limit_is_enforced() {
    let Some(d) = common::sandboxed().await else { return };
    let limited = |code: &str| json!({"code": code, "language": "python", "limits": {"memory_mb": 64}});
    let r = d.execute(limited("b = bytearray(200*1024*1024)\nprint(len(b))")).await;
    assert_ne!(r["status"], "success", "200 MB fit under a 64 MB limit: {r}");
    assert!(!common::text(&r, "stdout").contains("209715200"), "{r}");
    // The run's cgroup has the kernel kill it; without one, RLIMIT_DATA makes the
    // allocation fail.
    if d.layer_active("cgroup:memory").await {
        assert_eq!(r["status"], "killed", "{r}");
        assert_eq!(r["termination_reason"], "memory_limit", "{r}");
    } else {
        assert!(common::text(&r, "stderr").contains("MemoryError"), "{r}");
    }
    let r = d.execute(limited("b = bytearray(10*1024*1024)\nprint(len(b))")).await;
    assert_success(&r);
    assert_eq!(r["stdout"], "10485760\n", "{r}");
}

#[tokio::test]
async fn javascript_scripts() {
    let Some(d) = common::sandboxed().await else { return };
    let r =
        run(&d, "javascript", "console.log('sum', [1, 2, 3].reduce((a, b) => a + b)); console.error('warned')").await;
    assert_success(&r);
    assert_eq!((r["stdout"].as_str(), r["stderr"].as_str()), (Some("sum 6\n"), Some("warned\n")), "{r}");
    assert!(r["return_value"].is_null(), "{r}");

    let r = run(&d, "javascript", "console.log('before'); process.exit(5); console.log('after')").await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("failed"), Some(5)), "{r}");
    assert_eq!(r["stdout"], "before\n", "{r}");

    let r = run(&d, "javascript", "let x = ;").await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(common::text(&r, "stderr").contains("SyntaxError"), "{r}");
    assert_eq!(r["error"]["type"], "SyntaxError", "{r}");
}

#[tokio::test]
async fn javascript_handler_forms() {
    let Some(d) = common::sandboxed().await else { return };
    let cases = [
        ("module.exports.handler = (e, ctx) => ({ n: e.n + 1, id: ctx.execution_id });", json!({"n": 2, "id": "js-h"})),
        ("exports.handler = (e) => e.n * 3;", json!(3)),
        ("function handler(event) { return { plain: event.n }; }", json!({"plain": 1})),
        ("export const handler = async (event) => ({ esm: true, n: event.n });", json!({"esm": true, "n": 1})),
        ("export default async function (event) { return [event.n, 'default']; }", json!([1, "default"])),
        (
            "module.exports.handler = (e) => new Promise((resolve) => setTimeout(() => resolve({ late: e.n }), 200));",
            json!({"late": 1}),
        ),
    ];
    for (code, expected) in cases {
        let body = json!({"code": code, "language": "javascript", "event": {"n": 1}, "execution_id": "js-h"});
        let r = d.execute(body).await;
        assert_success(&r);
        assert_eq!(r["return_value"], expected, "for {code}: {r}");
        assert_eq!(r["stdout"], "", "{r}");
    }
}

#[tokio::test]
async fn javascript_handler_failures_are_typed() {
    let Some(d) = common::sandboxed().await else { return };
    let r =
        run(&d, "javascript", "module.exports.handler = () => { throw new TypeError('bad thing happened'); };").await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("failed"), Some(1)), "{r}");
    assert_eq!(r["error"]["type"], "TypeError", "{r}");
    assert_eq!(r["error"]["message"], "bad thing happened", "{r}");
    let stderr = common::text(&r, "stderr");
    assert!(stderr.starts_with("TypeError: bad thing happened\n"), "{stderr}");
    assert!(!stderr.contains("driver"), "the driver's frames leak: {stderr}");
    assert!(r["return_value"].is_null(), "{r}");

    let r = run(&d, "javascript", "module.exports.handler = () => { const o = {}; o.self = o; return o; };").await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["error"]["type"], "SerializationError", "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("circular"), "{r}");
}

#[tokio::test]
async fn shell_scripts() {
    let Some(d) = common::sandboxed().await else { return };
    let r = run(&d, "shell", "echo before; exit 7; echo after").await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("failed"), Some(7)), "{r}");
    assert_eq!(r["stdout"], "before\n", "{r}");

    let r = d.execute(json!({"code": "cat; echo '|'", "language": "shell", "stdin": "line1\nline2"})).await;
    assert_success(&r);
    assert_eq!(r["stdout"], "line1\nline2|\n", "{r}");

    let r = run(&d, "shell", "set -e; echo a; false; echo b").await;
    assert_eq!((r["status"].as_str(), r["exit_code"].as_i64()), (Some("failed"), Some(1)), "{r}");
    assert_eq!(r["stdout"], "a\n", "{r}");

    let r = run(&d, "shell", "arr=(x y z); echo ${#arr[@]} ${arr[1]}; [[ abc == a* ]] && echo glob").await;
    assert_success(&r);
    assert_eq!(r["stdout"], "3 y\nglob\n", "{r}");
    assert_eq!(r["stderr"], "", "{r}");
}

#[tokio::test]
async fn language_names_are_case_insensitive_and_have_aliases() {
    let Some(d) = common::sandboxed().await else { return };
    // Each program only works in its own language.
    let python = "import sys; print('py', sys.version_info[0])";
    let js = "console.log('js', typeof process.versions.node)";
    let shell = "arr=(a b); echo sh ${#arr[@]}";
    let cases = [
        ("Python", python, "py 3\n"),
        ("py", python, "py 3\n"),
        ("JS", js, "js string\n"),
        ("js", js, "js string\n"),
        ("node", js, "js string\n"),
        ("JavaScript", js, "js string\n"),
        ("sh", shell, "sh 2\n"),
        ("bash", shell, "sh 2\n"),
        ("SHELL", shell, "sh 2\n"),
    ];
    for (language, code, expected) in cases {
        let r = run(&d, language, code).await;
        assert_success(&r);
        assert_eq!(r["stdout"], expected, "language {language}: {r}");
    }
}

#[tokio::test]
async fn a_javascript_handler_may_return_bigints_which_come_back_exact() {
    let Some(d) = common::sandboxed().await else { return };
    let code =
        "module.exports.handler = () => ({big: 2n ** 60n + 1n, negative: -(2n ** 62n), list: [7n, 'text', 1.5]});";
    let r = run(&d, "javascript", code).await;
    assert_success(&r);
    assert_eq!(r["return_value"]["big"].as_u64(), Some((1u64 << 60) + 1), "{r}");
    assert_eq!(r["return_value"]["negative"].as_i64(), Some(-(1i64 << 62)), "{r}");
    assert_eq!(r["return_value"]["list"], json!([7, "text", 1.5]), "{r}");
}
