//! Files in (the request's `files`), files out (artifacts), and the workspace's walls: path
//! attacks, symlinks planted by earlier runs, FIFOs, and the size cap.

use crate::common;
use crate::common::{assert_error_body, Daemon};
use serde_json::{json, Value};

async fn shell_in(d: &Daemon, session: &str, code: &str, files: Value) -> common::Response {
    d.post("/execute", &json!({"code": code, "language": "shell", "session_id": session, "files": files})).await
}

#[tokio::test]
async fn uploaded_files_are_readable_and_only_changes_are_artifacts() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let files = json!({
        "data/input.csv": "name,value\nAlice,100\n",
        "raw.bin": {"content": "AAEC/w==", "encoding": "base64"},
        "untouched.txt": "same",
    });
    let code =
        "cat data/input.csv; od -An -tx1 raw.bin; echo more >> data/input.csv; mkdir -p out; echo new > out/result.txt";
    let r = d.execute(json!({"code": code, "language": "shell", "files": files})).await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["stdout"], "name,value\nAlice,100\n 00 01 02 ff\n");
    let mut paths: Vec<&str> = r["artifacts"].as_array().unwrap().iter().map(|a| a["path"].as_str().unwrap()).collect();
    paths.sort();
    assert_eq!(paths, ["data/input.csv", "out/result.txt"], "{}", r["artifacts"]);
    let result = r["artifacts"].as_array().unwrap().iter().find(|a| a["path"] == "out/result.txt").unwrap();
    assert_eq!(result["size"], 4);
    assert_eq!(result["mime_type"], "text/plain");
    assert_eq!(result["sha256"], common::sha256_hex(b"new\n"));
}

#[tokio::test]
async fn path_attacks_are_rejected_before_anything_runs() {
    let d = Daemon::start().await;
    for path in ["../escape.txt", "/etc/passwd", "a/../../x", "", "a/./b", "a\u{0}b", "dir/", "..", "a//b"] {
        let r = d.post("/execute", &json!({"code": "echo RAN", "language": "shell", "files": {path: "x"}})).await;
        assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError", "path {path:?} was accepted: {}", r.body);
        assert!(r.body["error_detail"].as_str().unwrap().contains("files"), "{}", r.body);
    }
    let long = "a".repeat(300);
    let r = d.post("/execute", &json!({"code": "true", "language": "shell", "files": {long: "x"}})).await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
    let r = d
        .post(
            "/execute",
            &json!({"code": "true", "language": "shell", "files": {"x.bin": {"content": "%%%", "encoding": "base64"}}}),
        )
        .await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
}

#[tokio::test]
async fn symlinks_planted_by_an_earlier_run_cannot_redirect_uploads() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let host_hostname = std::fs::read("/etc/hostname").unwrap_or_default();
    let r = shell_in(
        &d,
        "plant",
        "ln -s /etc etc-link; ln -s /etc/hostname host-link; ln -s /etc/shadow shadow-link; mkfifo pipe; echo planted",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["stdout"], "planted\n");
    // Symlinks and FIFOs are never reported (nor followed to hash what they point at).
    assert_eq!(r.body["artifacts"], json!([]), "{}", r.body);

    let r = shell_in(&d, "plant", "echo RAN", json!({"etc-link/evil.conf": "pwned"})).await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
    assert!(r.body["error_detail"].as_str().unwrap().contains("symbolic link"), "{}", r.body);
    assert!(!std::path::Path::new("/etc/evil.conf").exists(), "an upload went through a symlink to the host's /etc");

    // Uploading over a symlink replaces the link itself, never its target.
    let r =
        shell_in(&d, "plant", "test -L host-link && echo LINK || cat host-link", json!({"host-link": "replaced\n"}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["stdout"], "replaced\n");
    assert_eq!(std::fs::read("/etc/hostname").unwrap_or_default(), host_hostname, "the host's /etc/hostname changed");
}

#[tokio::test]
async fn sessions_keep_their_workspace_and_do_not_share_it() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let r = shell_in(&d, "alpha", "echo kept > notes.txt", json!({})).await;
    assert_eq!(r.body["status"], "success", "{}", r.body);
    let r = shell_in(&d, "alpha", "cat notes.txt", json!({})).await;
    assert_eq!(r.body["stdout"], "kept\n");
    assert_eq!(r.body["artifacts"], json!([]), "an unchanged file is not an artifact of a later run");
    let r = shell_in(&d, "beta", "cat notes.txt 2>&1; ls -A | wc -l", json!({})).await;
    assert_eq!(r.body["stdout"], "cat: notes.txt: No such file or directory\n0\n");
}

#[tokio::test]
async fn workspace_and_tmp_are_size_capped() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let capped = d.layer_active("workspace_size_cap").await;
    let code = "head -c 150M /dev/zero > /workspace/big 2>&1 && echo WS-FULL-WRITE; head -c 150M /dev/zero > /tmp/big 2>&1 && echo TMP-FULL-WRITE; df -m /workspace /tmp | tail -2";
    let r = d.execute(json!({"code": code, "language": "shell"})).await;
    let out = r["stdout"].as_str().unwrap();
    assert!(!out.contains("TMP-FULL-WRITE"), "150 MB fit in a 100 MB /tmp: {out}");
    if capped {
        assert!(!out.contains("WS-FULL-WRITE"), "150 MB fit in a 100 MB workspace: {out}");
    } else {
        eprintln!("SKIP workspace cap: the daemon cannot mount workspaces here");
    }
}
