//! E2B's file API past reads and writes, through the official SDKs: directory watches (the
//! Python SDK's unary watcher calls, the JavaScript SDK's stream), signed file URLs over plain
//! HTTP, gzip uploads, the entries' metadata, removing a missing path, and other tenants.

use serde_json::{json, Value};

use super::{run_script, script, sdks};
use crate::common;

fn pairs(value: &Value) -> Vec<(String, String)> {
    let list = value.as_array().cloned().unwrap_or_default();
    list.iter().map(|p| (p[0].as_str().unwrap_or("").to_string(), p[1].as_str().unwrap_or("").to_string())).collect()
}

fn has(events: &[(String, String)], name: &str, kind: &str) -> bool {
    events.iter().any(|(n, k)| n == name && k == kind)
}

fn check_watches(out: &Value) {
    let flat = pairs(&out["flat"]);
    for (name, kind) in [
        ("a.txt", "create"),
        ("a.txt", "write"),
        ("a.txt", "rename"),
        ("b.txt", "create"),
        ("b.txt", "chmod"),
        ("b.txt", "remove"),
        ("new", "create"),
    ] {
        assert!(has(&flat, name, kind), "{name} {kind} missing: {out}");
    }
    // Not recursive: nothing below the directory.
    assert!(!flat.iter().any(|(n, _)| n.contains('/')), "{out}");
    let deep = pairs(&out["deep"]);
    assert!(has(&deep, "sub/c.txt", "create") && has(&deep, "sub/c.txt", "write"), "{out}");
    assert!(has(&deep, "new/d.txt", "create"), "a directory made after the watch was not followed: {out}");
    assert!(has(&deep, "b.txt", "remove"), "{out}");
    assert_eq!(out["flat_again"], json!([]), "{out}");
    assert_eq!(out["immediate"], json!([["now.txt", "create"], ["now.txt", "write"]]), "{out}");
    let text = |key: &str| out[key].as_str().unwrap_or_default().to_string();
    assert!(text("flat_after_stop").contains("stopped"), "{out}");
    assert!(text("watch_missing").starts_with("FileNotFoundException"), "{out}");
    assert!(text("watch_file").starts_with("InvalidArgumentException"), "{out}");
    assert!(!text("watch_outside").is_empty() && !text("watch_outside").contains("WatchHandle"), "{out}");
}

fn check_urls(out: &Value) {
    assert_eq!(out["signed_url_has_signature"], true, "{out}");
    assert_eq!(out["signed_download"], json!([200, "signed content"]), "{out}");
    assert_eq!(out["signed_upload"], json!([200, "uploaded by url"]), "{out}");
    for key in ["read_url_posted", "write_url_read", "other_path", "tampered"] {
        assert_eq!(out[key], 401, "{key}: {out}");
    }
    assert_ne!(out["unsigned"], 200, "{out}");
    assert_eq!(out["before_expiry"], 200, "{out}");
    assert_eq!(out["expired"], json!([401, "signature is already expired"]), "{out}");
    assert_eq!(out["url_after_kill"], 401, "{out}");
}

#[tokio::test]
async fn e2b_python_sdk_watches_signs_and_compresses_files() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    let out = run_script(&daemon, &dir.join("venv/bin/python"), &[&script("files.py")], daemon.state.path()).await;
    check_watches(&out);
    check_urls(&out);
    assert_eq!(out["gzip"], true, "{out}");
    assert_eq!(out["bomb"], 413, "{out}");
    assert_eq!(out["bomb_written"], false, "{out}");
    let info = &out["info"];
    assert_eq!(info["size"], 14, "{out}");
    assert_eq!(info["type"], "file", "{out}");
    assert_eq!(info["owner"], "user", "{out}");
    assert_eq!(info["group"], "user", "{out}");
    assert_eq!(info["modified_recent"], true, "{out}");
    assert!(info["permissions"].as_str().unwrap_or_default().starts_with("-rw"), "{out}");
    assert_eq!(out["listed_permissions"]["sub"].as_str().unwrap_or_default().chars().next(), Some('d'), "{out}");
    let metadata = json!({ "owner": "alice", "stage": "raw" });
    assert_eq!(out["write_metadata"], metadata, "{out}");
    assert_eq!(out["info_metadata"], metadata, "{out}");
    assert_eq!(out["list_metadata"], metadata, "{out}");
    assert_eq!(out["metadata_after_overwrite"], Value::Null, "{out}");
    assert!(out["bad_metadata"].as_str().unwrap_or_default().contains("metadata"), "{out}");
    assert_eq!(out["event_entry"], json!(["meta.txt", "/home/user/w/meta.txt", "file"]), "{out}");
    assert_eq!(out["remove_missing"], Value::Null, "{out}");
    assert_eq!(out["remove_missing_below"], Value::Null, "{out}");
    // Another key's sandbox reaches nothing of this one's.
    assert_eq!(out["other_create_watcher"], 502, "{out}");
    assert_eq!(out["other_watcher_events"], json!([404, "not_found"]), "{out}");
    assert_eq!(out["other_remove_watcher"], 404, "{out}");
    assert_eq!(out["own_watcher_after_other"], true, "{out}");
    assert_eq!(out["other_signed_here"], 401, "{out}");
    assert_eq!(out["other_url_own"], "the other's", "{out}");
    assert_eq!(out["other_url_here"], 401, "{out}");
}

#[tokio::test]
async fn e2b_js_sdk_streams_a_directory_watch() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    let work = daemon.state.path().join("node-watch");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(dir.join("node/node_modules"), work.join("node_modules")).unwrap();
    std::fs::copy(script("watch.mjs"), work.join("watch.mjs")).unwrap();
    let out = run_script(&daemon, std::path::Path::new("node"), &[&work.join("watch.mjs")], &work).await;
    let flat = pairs(&out["flat"]);
    assert!(has(&flat, "a.txt", "create") && has(&flat, "a.txt", "write") && has(&flat, "a.txt", "remove"), "{out}");
    assert!(!flat.iter().any(|(n, _)| n.contains('/') || n == "after-stop.txt"), "{out}");
    let deep = pairs(&out["deep"]);
    assert!(has(&deep, "sub/c.txt", "create") && has(&deep, "after-stop.txt", "create"), "{out}");
    assert_eq!(out["missing"], "FileNotFoundError", "{out}");
}

/// A signed URL as the SDKs make it for `path`, `operation` and no user, query-encoded.
fn signed(path: &str, operation: &str, token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{path}:{operation}::{token}").as_bytes());
    let signature = format!("v1_{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest));
    let encoded = |s: &str| s.replace('%', "%25").replace('/', "%2F").replace('+', "%2B");
    format!("path={}&signature={}", encoded(path), encoded(&signature))
}

/// With the daemon's API token set, a signed URL works without it (`/files` answers for
/// itself, at the root and under the sandbox plane), and a wrong signature or a call with
/// neither signature nor token is refused in E2B's way.
#[tokio::test]
async fn e2b_signed_urls_work_where_the_daemon_wants_its_token() {
    use reqwest::Method;
    let daemon = common::Daemon::start_with(&[("EXECUTOR_API_TOKEN", super::KEY)]).await;
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    let (id, token) = super::http::create(&daemon, super::KEY).await;
    let put = super::http::plane(&daemon, Method::POST, "/files?path=%2Fhome%2Fuser%2Fa.txt", &id, &token);
    let put = put.header("content-type", "application/octet-stream").body("signed");
    assert_eq!(put.send().await.unwrap().status(), 200);
    let client = daemon.client();
    let get = |query: String| client.get(format!("{}/files?{query}", daemon.base)).send();
    let read = get(signed("/home/user/a.txt", "read", &token)).await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.text().await.unwrap(), "signed");
    let wrong = get(signed("/home/user/a.txt", "read", "not-the-token")).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["code"], 401, "{body}");
    assert_eq!(get("path=%2Fhome%2Fuser%2Fa.txt".into()).await.unwrap().status(), 400);
    let under_plane = format!("{}/e2b/sandbox/files?{}", daemon.base, signed("/home/user/a.txt", "read", &token));
    let read = client.get(under_plane).header("e2b-sandbox-id", &id).send().await.unwrap();
    assert_eq!(read.status(), 200);
    // The rest of the API still wants the daemon's token.
    assert_eq!(client.get(format!("{}/sessions", daemon.base)).send().await.unwrap().status(), 401);
}
