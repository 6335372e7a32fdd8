//! Listing sandboxes through the official SDKs (Python and JavaScript), unmodified: pages of
//! `limit`, newest first, their tokens followed to the end; the filters; another key sees
//! none of them and cannot page into them.

use serde_json::{json, Value};

use super::{run_script, script, sdks};
use crate::common;

fn ids(out: &Value, key: &str) -> Vec<String> {
    out[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn e2b_python_sdk_lists_sandboxes_a_page_at_a_time() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    let out = run_script(&daemon, &dir.join("venv/bin/python"), &[&script("listing.py")], daemon.state.path()).await;
    let made = ids(&out, "ids");
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    let (n0, n1, n2) = (&made[0], &made[1], &made[2]);
    assert_eq!(out["pages"], json!([[n2], [n1], [n0]]), "limit 1, followed to the end: {out}");
    assert_eq!(out["two_a_page"], json!([[n2, n1], [n0]]), "{out}");
    assert_eq!(out["async_pages"], json!([[n2, n1], [n0]]), "the async SDK: {out}");
    assert_eq!(out["oldest_first"], json!([[n0, n1, n2]]), "{out}");
    assert_eq!(out["odd"], json!([newest_first]), "{out}");
    assert_eq!(out["paused"], json!([[]]), "{out}");
    assert_eq!(out["running"], json!([newest_first]), "{out}");
    let stranger = out["stranger"].as_str().unwrap();
    assert_eq!(out["template_base"], json!([[stranger, n2, n1, n0]]), "{out}");
    assert_eq!(out["template_other"], json!([[]]), "{out}");
    assert_eq!(out["started_after"], json!([[n2, n1]]), "{out}");
    assert_eq!(out["everything"], json!([[stranger, n2, n1, n0]]), "{out}");
    // Another key: nothing, not even from a token of the owner's pages.
    assert_eq!(out["other"], json!([[]]), "{out}");
    assert_eq!(out["other_with_token"], json!([[]]), "{out}");
    for key in ["bad_token", "bad_limit"] {
        let error = out[key].as_str().unwrap_or_default();
        assert!(error.contains("400") || error.starts_with("InvalidArgument"), "{key}: {out}");
    }
    assert_eq!(out["after_kill"], json!([[]]), "{out}");
}

#[tokio::test]
async fn e2b_javascript_sdk_lists_sandboxes_a_page_at_a_time() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    let work = daemon.state.path().join("node-script");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(dir.join("node/node_modules"), work.join("node_modules")).unwrap();
    std::fs::copy(script("listing.mjs"), work.join("listing.mjs")).unwrap();
    let out = run_script(&daemon, std::path::Path::new("node"), &[&work.join("listing.mjs")], &work).await;
    let made = ids(&out, "ids");
    let (n0, n1, n2) = (&made[0], &made[1], &made[2]);
    assert_eq!(out["pages"], json!([[n2], [n1], [n0]]), "limit 1, followed to the end: {out}");
    assert_eq!(out["odd"], json!([[n2, n1], [n0]]), "{out}");
    assert_eq!(out["running"], json!([[n2, n1, n0]]), "{out}");
    assert_eq!(out["paused"], json!([[]]), "{out}");
    assert_eq!(out["running_or_paused"], json!([[n2, n1, n0]]), "{out}");
    assert_eq!(out["other"], json!([[]]), "another key lists nothing: {out}");
    assert_eq!(out["after_kill"], json!([[]]), "{out}");
}
