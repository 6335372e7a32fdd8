//! `run_command` and `read_process_output` through the official MCP client: a command run to
//! its end, a background server another command reaches, output read after a process ended,
//! and another tenant kept out.

use serde_json::{json, Value};

use super::{call, client, over_http, over_stdio, python, refused, texts};
use crate::common;

fn steps() -> Value {
    let curl = "for i in $(seq 100); do curl -sf http://127.0.0.1:8766/ && exit 0; sleep 0.1; done; exit 1";
    json!([
        {"op": "call", "tool": "create_session", "args": {"ttl": 300}, "save": {"s": "/session_id"}},
        call("run_command", json!({"session_id": "$s", "command": "echo out; echo err >&2; exit 3"})),
        {"op": "call", "tool": "run_command", "save": {"p": "/pid"}, "args": {"session_id": "$s", "background": true,
            "command": "cd /tmp && exec python3 -m http.server 8766 --bind 127.0.0.1"}},
        call("run_command", json!({"session_id": "$s", "command": curl, "timeout": 30})),
        {"op": "call", "tool": "run_command", "save": {"q": "/pid"}, "args": {"session_id": "$s", "background": true,
            "command": "echo first; sleep 0.3; echo second"}},
        call("run_command", json!({"session_id": "$s", "command": "sleep 1.5"})),
        {"op": "call", "tool": "read_process_output", "save": {"n": "/next"}, "args": {"session_id": "$s", "pid": "$q"}},
        call("read_process_output", json!({"session_id": "$s", "pid": "$q", "from": "$n"})),
        call("read_process_output", json!({"session_id": "$s", "pid": "$p"})),
        call("run_command", json!({"session_id": "$s", "command": "echo $GREETING; pwd", "cwd": "/tmp",
                                   "env": {"GREETING": "hi"}})),
        call("run_command", json!({"session_id": "$s", "command": "sleep 1", "background": true, "timeout": 5})),
        call("run_command", json!({"session_id": "$s", "command": "true", "cwd": "relative"})),
        call("read_process_output", json!({"session_id": "$s", "pid": 999999})),
        call("run_command", json!({"session_id": "$s", "command": "sleep 30", "timeout": 1})),
    ])
}

fn check(r: &Value) -> (String, i64) {
    let r = r.as_array().unwrap_or_else(|| panic!("the client failed: {r}"));
    let session = r[0]["structured"]["session_id"].as_str().unwrap().to_owned();
    let failed = &r[1];
    assert_eq!((&failed["is_error"], &failed["structured"]["exit_code"]), (&json!(true), &json!(3)), "{failed}");
    assert_eq!((texts(failed).as_str()), "out\n\nstderr:\nerr\n\nexit code 3", "{failed}");
    let server = r[2]["structured"]["pid"].as_i64().unwrap_or_else(|| panic!("{}", r[2]));
    assert!(texts(&r[2]).contains(&format!("process {server}")), "{}", r[2]);
    assert_eq!(r[3]["structured"]["exit_code"], 0, "{}", r[3]);
    assert!(texts(&r[3]).contains("Directory listing"), "{}", r[3]);
    let later = &r[6];
    assert_eq!((&later["structured"]["running"], &later["structured"]["exit_code"]), (&json!(false), &json!(0)));
    assert!(texts(later).starts_with("first\nsecond\n") && texts(later).contains("exit code 0"), "{later}");
    assert!(texts(&r[7]).starts_with("(no new output)"), "{}", r[7]);
    assert_eq!(r[8]["structured"]["running"], true, "{}", r[8]);
    assert!(texts(&r[8]).contains("\"GET / HTTP/1.1\" 200"), "{}", r[8]);
    assert_eq!(r[9]["structured"]["stdout"], "hi\n/tmp\n", "{}", r[9]);
    refused(&r[10], "Executor.ValidationError");
    refused(&r[11], "Executor.ValidationError");
    refused(&r[12], "Executor.NotFound");
    assert_eq!((&r[13]["structured"]["timed_out"], &r[13]["is_error"]), (&json!(true), &json!(true)), "{}", r[13]);
    (session, server)
}

#[tokio::test]
async fn commands_run_in_the_foreground_and_background_and_their_output_is_read_later() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    let (session, server) = check(&client(&python, over_http(&d, json!({})), steps()).await);
    // Another tenant neither reads the server's output nor starts a command in its session.
    let intruder = json!([
        call("read_process_output", json!({"session_id": session, "pid": server})),
        call("run_command", json!({"session_id": session, "command": "kill -9 -1"})),
        call("run_command", json!({"session_id": session, "command": "kill -9 -1", "background": true})),
    ]);
    let r = client(&python, over_http(&d, json!({"X-Tenant-ID": "someone-else"})), intruder).await;
    for step in r.as_array().unwrap() {
        assert!(refused(step, "Executor.NotFound").contains("not found"), "{step}");
    }
    let owner = json!([call("read_process_output", json!({"session_id": session, "pid": server}))]);
    let r = client(&python, over_http(&d, json!({})), owner).await;
    assert_eq!(r[0]["structured"]["running"], true, "the owner's server runs on: {r}");
}

#[tokio::test]
async fn the_stdio_subcommand_runs_commands_too() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    check(&client(&python, over_stdio(&d, &[]), steps()).await);
}
