//! Files of a session: upload (raw PUT and JSON base64), list and download, binary-safe, with
//! every path attack refused: absolute paths, `..`, NUL, bad characters, symlinks and hard
//! links planted by the session's own code, and the per-file and per-workspace caps.

use crate::common;
use crate::common::{Daemon, Response};
use base64::Engine;
use serde_json::{json, Value};

struct Raw {
    status: u16,
    content_type: String,
    bytes: Vec<u8>,
}

async fn create(d: &Daemon) -> String {
    let r = d.post("/session/create", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["session_id"].as_str().unwrap().to_string()
}

async fn put(d: &Daemon, id: &str, path: &str, bytes: Vec<u8>) -> Response {
    let response =
        d.client().put(format!("{}/session/{id}/files/{path}", d.base)).body(bytes).send().await.expect("PUT");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Response { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

/// A request sent as is: HTTP clients resolve `..` and `.` segments (even percent-encoded)
/// before sending, which would hide what the daemon does with them.
async fn raw_request(d: &Daemon, method: &str, target: &str, body: &[u8]) -> Response {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", d.port)).await.expect("connect");
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {text}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    let body = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    Response { status, headers: Default::default(), body }
}

async fn download(d: &Daemon, id: &str, path: &str) -> Raw {
    let response = d.client().get(format!("{}/session/{id}/files/{path}", d.base)).send().await.expect("GET");
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    Raw { status, content_type, bytes: response.bytes().await.unwrap().to_vec() }
}

/// The error body of a refused download.
fn error_of(raw: &Raw) -> Response {
    let body: Value = serde_json::from_slice(&raw.bytes).unwrap_or_else(|_| panic!("not JSON: {:?}", raw.bytes));
    Response { status: raw.status, headers: Default::default(), body }
}

async fn python(d: &Daemon, id: &str, code: &str) -> Value {
    let r = d.post("/session/execute", &json!({"session_id": id, "code": code, "language": "python"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "success", "{code}: {}", r.body);
    r.body
}

#[tokio::test]
async fn text_and_binary_files_go_in_and_come_out_unchanged() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d).await;
    let r = put(&d, &id, "data/input.csv", b"name,value\nAlice,100\n".to_vec()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["file"]["path"], "data/input.csv", "{}", r.body);
    assert_eq!(r.body["file"]["size"], 21, "{}", r.body);

    let every_byte: Vec<u8> = (0..=255u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&every_byte);
    let r = d.post(&format!("/session/{id}/files"), &json!({"path": "bytes.bin", "content_base64": encoded})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["files"][0]["path"], "bytes.bin", "{}", r.body);
    assert_eq!(r.body["files"][0]["size"], 256, "{}", r.body);
    let r = put(&d, &id, "raw%20name.bin", every_byte.iter().rev().copied().collect()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["file"]["path"], "raw name.bin", "{}", r.body);

    // The code sees the files, and what it writes can be downloaded.
    let r = python(&d, &id, "import csv\nrows = list(csv.DictReader(open('data/input.csv')))\nopen('out.json', 'w').write('{\"n\": %d}' % len(rows))\nsum(open('bytes.bin', 'rb').read())").await;
    assert_eq!(r["return_value"], (0..=255).sum::<u32>(), "{r}");

    let listed = d.get(&format!("/session/{id}/files")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let paths: Vec<&str> =
        listed.body["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["bytes.bin", "data/input.csv", "out.json", "raw name.bin"], "{}", listed.body);
    let csv = &listed.body["files"][1];
    assert_eq!((&csv["size"], &csv["mime_type"]), (&json!(21), &json!("text/csv")), "{csv}");

    let got = download(&d, &id, "bytes.bin").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, every_byte, "binary content changed on the way");
    assert_eq!(got.content_type, "application/octet-stream");
    let got = download(&d, &id, "raw%20name.bin").await;
    assert_eq!(got.bytes, every_byte.iter().rev().copied().collect::<Vec<u8>>());
    let got = download(&d, &id, "out.json").await;
    assert_eq!((got.status, got.content_type.as_str()), (200, "application/json"));
    assert_eq!(got.bytes, br#"{"n": 1}"#);
    let got = download(&d, &id, "data/input.csv").await;
    assert_eq!((got.content_type.as_str(), got.bytes.as_slice()), ("text/csv", &b"name,value\nAlice,100\n"[..]));

    let missing = download(&d, &id, "nope.txt").await;
    assert_eq!(common::assert_error_body(&error_of(&missing), 404), "Executor.NotFound");
    let unknown = download(&d, "0123456789ab", "a.txt").await;
    let unknown = error_of(&unknown);
    common::assert_error_body(&unknown, 404);
    assert_eq!(unknown.body["error_detail"], "Session 0123456789ab not found or expired");
}

#[tokio::test]
async fn bad_paths_are_refused() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d).await;
    // Absolute (an empty first segment), `..` and `.` (percent-encoded so that the client does
    // not resolve them), NUL, control and other refused characters, a trailing slash.
    let attacks =
        ["/etc/passwd", "%2e%2e/escape.txt", "a/%2e%2e/%2e%2e/x", "%2e", "a%00b", "a%0Ab", "a*b", "a%5Cb", "dir/"];
    for path in attacks {
        let target = format!("/session/{id}/files/{path}");
        let r = raw_request(&d, "PUT", &target, b"x").await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "PUT {path}: {}", r.body);
        let r = raw_request(&d, "GET", &target, b"").await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "GET {path}: {}", r.body);
    }
    // Unencoded `..` segments sent as they are.
    let r = raw_request(&d, "GET", &format!("/session/{id}/files/../../../etc/passwd"), b"").await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "{}", r.body);
    for path in ["../x", "/abs", "a\u{0}b", "a//b", ""] {
        let r = d.post(&format!("/session/{id}/files"), &json!({"path": path, "content_base64": "eA=="})).await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "POST {path:?}");
    }
    let r = d.post(&format!("/session/{id}/files"), &json!({"path": "a.txt", "content_base64": "not base64!"})).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");
    let listed = d.get(&format!("/session/{id}/files")).await;
    assert_eq!(listed.body["files"], json!([]), "a refused upload left a file: {}", listed.body);
}

#[tokio::test]
async fn links_planted_by_the_code_lead_nowhere() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d).await;
    python(
        &d,
        &id,
        "import os\nos.symlink('/etc', 'etc-link')\nos.symlink('/etc/passwd', 'passwd-link')\nos.mkdir('real')\nos.symlink('real', 'dir-link')\nopen('original.txt', 'w').write('original')\nos.link('original.txt', 'hard.txt')",
    )
    .await;
    for path in ["etc-link/passwd", "passwd-link", "dir-link/x.txt"] {
        let got = download(&d, &id, path).await;
        let err = error_of(&got);
        assert_eq!(common::assert_error_body(&err, 400), "Executor.ValidationError", "GET {path}: {}", err.body);
        assert!(err.body["error_detail"].as_str().unwrap().contains("symbolic link"), "{}", err.body);
    }
    for path in ["etc-link/passwd", "dir-link/x.txt", "etc-link/new.txt"] {
        let r = put(&d, &id, path, b"planted".to_vec()).await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "PUT {path}: {}", r.body);
        assert!(r.body["error_detail"].as_str().unwrap().contains("symbolic link"), "{}", r.body);
    }
    // An upload onto a symlink replaces the link itself; it never writes through it.
    let r = put(&d, &id, "passwd-link", b"planted".to_vec()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = python(&d, &id, "os.path.islink('passwd-link'), open('passwd-link').read()").await;
    assert_eq!(r["return_value"], json!([false, "planted"]), "{r}");
    assert!(!std::path::Path::new("/etc/new.txt").exists());
    // A file with a second hard link is never served...
    let got = download(&d, &id, "hard.txt").await;
    let err = error_of(&got);
    assert_eq!(common::assert_error_body(&err, 400), "Executor.ValidationError");
    assert!(err.body["error_detail"].as_str().unwrap().contains("hard links"), "{}", err.body);
    // ...and an upload over it replaces the link instead of writing through it.
    let r = put(&d, &id, "hard.txt", b"uploaded".to_vec()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = python(&d, &id, "open('original.txt').read(), open('hard.txt').read(), os.path.islink('etc-link')").await;
    assert_eq!(r["return_value"], json!(["original", "uploaded", true]), "{r}");
    assert_eq!(download(&d, &id, "hard.txt").await.bytes, b"uploaded");
    assert_eq!(download(&d, &id, "original.txt").await.bytes, b"original", "one link left: served again");
    // Links are not listed; nothing of /etc was written.
    let listed = d.get(&format!("/session/{id}/files")).await;
    let paths: Vec<&str> =
        listed.body["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["hard.txt", "original.txt", "passwd-link"], "{}", listed.body);
    assert!(!std::fs::read_to_string("/etc/passwd").unwrap().contains("planted"));
}

#[tokio::test]
async fn files_over_the_caps_get_413() {
    let d = Daemon::start_with(&[("SANDBOX_MAX_FILE_MB", "1"), ("SANDBOX_WORKSPACE_MB", "2")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let id = create(&d).await;
    const MIB: usize = 1024 * 1024;
    let r = put(&d, &id, "big.bin", vec![7u8; MIB + 1]).await;
    assert_eq!(common::assert_error_body(&r, 413), "Executor.PayloadTooLarge");
    assert!(r.body["error_detail"].as_str().unwrap().contains("big.bin"), "{}", r.body);
    assert_eq!(put(&d, &id, "a.bin", vec![1u8; MIB]).await.status, 201);
    assert_eq!(put(&d, &id, "b.bin", vec![2u8; MIB - 4096]).await.status, 201);
    let r = put(&d, &id, "c.bin", vec![3u8; 8192]).await;
    assert_eq!(common::assert_error_body(&r, 413), "Executor.PayloadTooLarge");
    assert!(r.body["error_detail"].as_str().unwrap().contains("workspace"), "{}", r.body);
    // Replacing a file counts its new size, not both.
    assert_eq!(put(&d, &id, "a.bin", vec![4u8; MIB]).await.status, 201);
    assert_eq!(download(&d, &id, "a.bin").await.bytes, vec![4u8; MIB]);
}

#[tokio::test]
async fn multipart_forms_upload_files() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d).await;
    let dir = tempfile::tempdir().unwrap();
    let every_byte: Vec<u8> = (0..=255u8).collect();
    std::fs::write(dir.path().join("local.bin"), &every_byte).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "notes\n").unwrap();
    let url = format!("{}/session/{id}/files", d.base);
    let output = std::process::Command::new("curl")
        .current_dir(dir.path())
        .args(["-sS", "-F", "path=data/renamed.bin", "-F", "file=@local.bin", "-F", "file=@notes.txt", &url])
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{output:?}"));
    assert_eq!(body["status"], "success", "{body}");
    let paths: Vec<&str> = body["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["data/renamed.bin", "notes.txt"], "{body}");
    assert_eq!(download(&d, &id, "data/renamed.bin").await.bytes, every_byte);
    assert_eq!(download(&d, &id, "notes.txt").await.bytes, b"notes\n");

    // A file name that is a path attack is refused like any other path.
    let output = std::process::Command::new("curl")
        .current_dir(dir.path())
        .args(["-sS", "-F", "file=@notes.txt;filename=../escape.txt", &url])
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{output:?}"));
    assert_eq!(body["error_code"], "Executor.ValidationError", "{body}");
}

/// A `multipart/form-data` body: each file part written at the `path` text part before it.
fn form(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----session-files-test-boundary";
    let mut body = Vec::new();
    for (path, content) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n{path}\r\n").as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"part.bin\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn listed_paths(d: &Daemon, id: &str) -> Vec<String> {
    let listed = d.get(&format!("/session/{id}/files")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_multipart_upload_that_fails_part_way_writes_none_of_its_files() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d).await;
    assert_eq!(put(&d, &id, "keep.txt", b"old".to_vec()).await.status, 201);
    // The session's code plants a symlink to a directory outside the workspace.
    python(&d, &id, "import os\nos.symlink('/tmp', 'outside')").await;
    let url = format!("/session/{id}/files");

    // The third part fails only when it is written (the path is fine as text).
    let (content_type, body) =
        form(&[("keep.txt", b"new"), ("fresh/first.txt", b"first"), ("outside/escape.txt", b"escape")]);
    let r = d.post_raw(&url, Some(&content_type), body).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");
    assert!(r.body["error_detail"].as_str().unwrap().contains("outside"), "{}", r.body);
    assert_eq!(listed_paths(&d, &id).await, ["keep.txt"]);
    assert_eq!(download(&d, &id, "keep.txt").await.bytes, b"old");
    assert_eq!(download(&d, &id, "fresh/first.txt").await.status, 404);
    python(&d, &id, "import os\nassert not os.path.exists('fresh'), os.listdir('.')").await;

    // A part refused as text or over the cap refuses the whole form too.
    let (content_type, body) = form(&[("first.txt", b"first"), ("../escape.txt", b"escape")]);
    let r = d.post_raw(&url, Some(&content_type), body).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");
    let (content_type, body) = form(&[("first.txt", b"first"), ("first.txt", b"twice")]);
    let r = d.post_raw(&url, Some(&content_type), body).await;
    assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError");
    assert_eq!(listed_paths(&d, &id).await, ["keep.txt"]);

    // And a form that is fine is written whole.
    let (content_type, body) = form(&[("keep.txt", b"new"), ("fresh/first.txt", b"first")]);
    let r = d.post_raw(&url, Some(&content_type), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(listed_paths(&d, &id).await, ["fresh/first.txt", "keep.txt"]);
    assert_eq!(download(&d, &id, "keep.txt").await.bytes, b"new");
}

#[tokio::test]
async fn uploads_racing_the_sessions_code_on_one_path_are_written_or_refused_with_409() {
    let Some(d) = common::sandboxed().await else { return };
    let id = create(&d).await;
    // The session's code creates and removes the file the uploads write, until told to stop.
    let code = "import os, time\n\
        open('started', 'w').close()\n\
        end = time.time() + 50\n\
        while not os.path.exists('stop') and time.time() < end:\n\
        \x20   try:\n\
        \x20       with open('swap.txt', 'w') as f:\n\
        \x20           f.write('code')\n\
        \x20       os.unlink('swap.txt')\n\
        \x20   except OSError:\n\
        \x20       pass\n";
    let body = json!({"session_id": id, "code": code, "language": "python", "timeout": 60});
    let run = {
        let (client, url) = (d.client().clone(), format!("{}/session/execute", d.base));
        tokio::spawn(async move { client.post(url).json(&body).send().await.expect("POST").status().as_u16() })
    };
    let mut polls = 0;
    while download(&d, &id, "started").await.status != 200 {
        polls += 1;
        assert!(polls < 2000, "the session's code never started");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..30 {
        let uploads = (0..10).map(|i| put(&d, &id, "swap.txt", format!("upload {round}.{i}").into_bytes()));
        for r in futures::future::join_all(uploads).await {
            if r.status != 201 {
                assert_eq!(common::assert_error_body(&r, 409), "Executor.Conflict");
            }
            *statuses.entry(r.status).or_insert(0) += 1;
        }
    }
    assert_eq!(put(&d, &id, "stop", Vec::new()).await.status, 201);
    assert_eq!(run.await.unwrap(), 200);
    assert!(statuses.get(&201).is_some_and(|&n| n > 0), "no upload went through: {statuses:?}");
    // No upload left a temporary file behind.
    let left: Vec<String> = listed_paths(&d, &id).await.into_iter().filter(|p| p.starts_with('.')).collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn files_at_any_depth_are_listed_and_count_for_the_workspace_cap() {
    let d = Daemon::start_with(&[("SANDBOX_MAX_FILE_MB", "1"), ("SANDBOX_WORKSPACE_MB", "2")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let id = create(&d).await;
    const KIB: usize = 1024;
    // Uploaded 40 directories deep: stored, and so listed.
    let deep = format!("{}deep.bin", "d/".repeat(40));
    assert_eq!(put(&d, &id, &deep, vec![1u8; 512 * KIB]).await.status, 201);
    assert_eq!(listed_paths(&d, &id).await, std::slice::from_ref(&deep));
    // Written by the code 300 directories deep, deeper than any upload path can reach.
    python(
        &d,
        &id,
        "import os\nos.makedirs('e/' * 300)\nopen('e/' * 300 + 'deeper.bin', 'wb').write(b'x' * 1024 * 1024)",
    )
    .await;
    let deeper = format!("{}deeper.bin", "e/".repeat(300));
    assert_eq!(listed_paths(&d, &id).await, [deep.clone(), deeper]);
    // 512 KiB + 1 MiB are there: 768 KiB more is over the 2 MiB cap, and the 413 says so.
    let r = put(&d, &id, "top.bin", vec![2u8; 768 * KIB]).await;
    assert_eq!(common::assert_error_body(&r, 413), "Executor.PayloadTooLarge");
    let detail = r.body["error_detail"].as_str().unwrap();
    let (held, total) = ((512 + 1024) * KIB, (512 + 1024 + 768) * KIB);
    assert!(detail.contains(&format!("hold {held} bytes")), "{detail}");
    assert!(detail.contains(&format!("is {total} bytes, over the limit of {} bytes", 2048 * KIB)), "{detail}");
    assert_eq!(download(&d, &id, "top.bin").await.status, 404);
}
