//! The sandbox is one computer (its box), through the official SDKs: a server a command
//! leaves running answers the next command, `/tmp` is shared, stdin, terminals, attaching,
//! listing and signals work on the box's processes.

use super::{run_script, script, sdks};
use crate::common;

#[tokio::test]
async fn e2b_python_sdk_commands_share_one_computer() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    let python = dir.join("venv/bin/python");
    let out = run_script(&daemon, &python, &[&script("box_processes.py")], daemon.state.path()).await;
    assert_eq!(out["served"], "served-by-the-box\n", "{out}");
    assert_eq!(out["tmp_shared"], "shared\n", "{out}");
    assert_eq!(out["tmp_read_by_cell"], "shared", "{out}");
    assert_eq!(out["served_to_cell"], "served-by-the-box", "{out}");
    assert_eq!(out["cell_process_seen"], "1", "{out}");
    assert_eq!(out["server_listed"], true, "{out}");
    assert_eq!(out["stdin"], "line one\nline two\n", "{out}");
    assert_eq!(out["attached_pid"], true, "{out}");
    assert_eq!(out["killed"], true, "{out}");
    assert_eq!(out["killed_wait"], "signal: killed", "{out}");
    assert_eq!(out["kill_again"], false, "{out}");
    assert_eq!(out["connect_missing"], "NotFoundException", "{out}");
    assert_eq!(out["pty_typed"], true, "{out}");
    assert_eq!(out["pty_sizes"], serde_json::json!([true, true]), "{out}");
    assert_eq!(out["cwd_missing"], "InvalidArgumentException", "{out}");
    let metrics = serde_json::json!({"some": true, "cpu_count": true, "mem_total": true, "mem_used": true});
    assert_eq!(out["metrics"], metrics, "{out}");
}
