//! One lifetime owns an E2B sandbox: its E2B timeout (bounded by the operator's lifetime cap,
//! which E2B then reports), not the session idle TTL; and when it ends it is gone for E2B and
//! for the API at once. Its code contexts count against the session's interpreter cap.

use serde_json::Value;

use super::{prepare_code_interpreter, run_script, script, sdks, tenant_of, KEY};
use crate::common::{self, Daemon};

#[tokio::test]
async fn an_e2b_sandbox_lives_by_its_timeout_and_caps_its_interpreters() {
    let Some(dir) = sdks() else { return };
    let env = [
        ("SESSION_DEFAULT_TTL_SECS", "2"),
        ("SESSION_MAX_TTL_SECS", "2"),
        ("SESSION_MAX_LIFETIME_SECS", "30"),
        ("SESSION_MAX_INTERPRETERS", "3"),
    ];
    let daemon = Daemon::start_with(&env).await;
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    prepare_code_interpreter(&daemon).await;
    let out = run_script(&daemon, &dir.join("venv/bin/python"), &[&script("lifetimes.py")], daemon.state.path()).await;
    // Bounded by the 30 s cap, and said so (the create and get_info within a second).
    let lifetime = out["lifetime"].as_f64().unwrap_or_default();
    assert!((29.0..=30.5).contains(&lifetime), "{out}");
    let lifetime = out["lifetime_after_set_timeout"].as_f64().unwrap_or_default();
    assert!((29.0..=30.5).contains(&lifetime), "{out}");
    // Idle past the idle TTL: its interpreter, files and commands live on.
    assert_eq!(out["running_after_idle"], true, "{out}");
    assert_eq!(out["x_after_idle"], "42", "{out}");
    assert_eq!(out["file_after_idle"], "kept", "{out}");
    assert_eq!(out["echo_after_idle"], "kept", "{out}");
    // Past the cap, a clear refusal; what is there still works.
    let refused = out["third_context"].as_str().unwrap_or_default();
    assert!(refused.contains("429") && refused.contains("SESSION_MAX_INTERPRETERS"), "{out}");
    let refused = out["default_js"].as_str().unwrap_or_default();
    assert!(refused.contains("SESSION_MAX_INTERPRETERS"), "{out}");
    assert_eq!(out["first_after_refusal"], "first", "{out}");
    assert_eq!(out["default_after_refusal"], "42", "{out}");
    assert_eq!(out["context_after_removal"], true, "{out}");
    // Its timeout passed: gone for E2B...
    assert_eq!(out["short_listed_before"], true, "{out}");
    let info = out["short_info_after"].as_str().unwrap_or_default();
    assert!(info.starts_with("SandboxNotFoundException"), "{out}");
    assert_eq!(out["short_listed_after"], false, "{out}");
    assert_eq!(out["short_running_after"], false, "{out}");
    assert!(!out["short_code_after"].as_str().unwrap_or_default().is_empty(), "{out}");
    assert_eq!(out["long_listed"], true, "{out}");
    // ... and for the API: its session is gone, the other's lives.
    let sessions = daemon.client().get(format!("{}/sessions", daemon.base)).header("x-tenant-id", tenant_of(KEY));
    let sessions: Value = sessions.send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> =
        sessions["sessions"].as_array().unwrap().iter().filter_map(|s| s["session_id"].as_str()).collect();
    assert!(!ids.contains(&out["short_id"].as_str().unwrap()), "{sessions}");
    assert!(ids.contains(&out["sandbox_id"].as_str().unwrap()), "{sessions}");
}
