//! `get_host(port)` through the official Python SDK: a server started in the sandbox by a
//! background command answers from outside, through the daemon, by host name
//! (`{port}-{id}.<EXECUTOR_E2B_DOMAIN>`) and by path (`/e2b/ports/{id}/{port}/...`,
//! `/session/{id}/ports/{port}/...`), HTTP and WebSocket; the traffic token where the
//! sandbox's traffic is not public; E2B's edge answers for a closed port and an unknown or
//! killed sandbox; another tenant sees nothing.

use serde_json::json;

use super::{run_script, script, sdks};
use crate::common::{self, Daemon};

const DOMAIN: &str = "sandboxes.test";

#[tokio::test]
async fn e2b_get_host_reaches_servers_in_the_sandbox() {
    let Some(dir) = sdks() else { return };
    let daemon = Daemon::start_with(&[("EXECUTOR_E2B_DOMAIN", DOMAIN)]).await;
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    let out = run_script(&daemon, &dir.join("venv/bin/python"), &[&script("ports.py")], daemon.state.path()).await;
    let id = out["sandbox_id"].as_str().unwrap();
    assert_eq!(out["host"], format!("8765-{id}.{DOMAIN}"), "{out}");
    let hello = json!([200, "hello from the sandbox"]);
    assert_eq!(out["by_host"], hello, "{out}");
    assert_eq!(out["by_path"], hello, "{out}");
    assert_eq!(out["by_path_root_listing"], true, "{out}");
    assert_eq!(out["from_next_command"], "hello from the sandbox", "{out}");
    assert_eq!(out["ours_owner"], hello, "{out}");
    assert_eq!(out["ours_other_tenant"], 404, "{out}");
    assert_eq!(out["ws_by_host"], json!([101, true, "echo:ping"]), "{out}");
    assert_eq!(out["ws_by_path"], json!([101, true, "echo:pong"]), "{out}");
    let closed = json!([502, {"sandboxId": id, "code": 502, "port": 8799,
        "message": "The sandbox is running but port is not open"}]);
    assert_eq!(out["closed_port"], closed, "{out}");
    let unknown = json!([502, {"sandboxId": "nosuchsandbox", "code": 502, "message": "The sandbox was not found"}]);
    assert_eq!(out["unknown_sandbox"], unknown, "{out}");
    assert_eq!(out["envd_health"], 204, "{out}");
    // Not public: the traffic token is wanted (403 without it, or with another's).
    assert_eq!(out["secured_token"], true, "{out}");
    assert_eq!(out["secured_with_token"], json!([200, "secured hello"]), "{out}");
    assert_eq!(out["secured_without_token"][0], 403, "{out}");
    let missing = out["secured_without_token"][1]["message"].as_str().unwrap_or_default();
    assert!(missing.contains("e2b-traffic-access-token") && missing.contains("missing"), "{out}");
    assert_eq!(out["secured_other_token"][0], 403, "{out}");
    assert_eq!(out["secured_by_path_without_token"], 403, "{out}");
    assert_eq!(out["secured_by_path_with_token"], json!([200, "secured hello"]), "{out}");
    let gone = json!([502, {"sandboxId": id, "code": 502, "message": "The sandbox was not found"}]);
    assert_eq!(out["after_kill"], gone, "{out}");
}
