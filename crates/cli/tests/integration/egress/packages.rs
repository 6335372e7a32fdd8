//! Runtime packages: a session whose policy allows a package index (a PEP 503 index served
//! here on loopback, holding a wheel built here) pip-installs a package into its own layer,
//! imports it in the next cell, and another session never sees it; likewise npm from a
//! registry served here.

use std::io::Write;
use std::process::{Command, Stdio};

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::origin::Origin;
use crate::common::{self, Daemon};

const WHEEL: &str = "egresspkg-1.0-py3-none-any.whl";

/// A pure-Python wheel of `egresspkg` (VALUE = 42), made with Python's zipfile.
fn build_wheel() -> Vec<u8> {
    let script = r#"
import base64, hashlib, io, sys, zipfile
files = {
    "egresspkg/__init__.py": b"VALUE = 42\n",
    "egresspkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: egresspkg\nVersion: 1.0\n",
    "egresspkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{name},sha256={digest},{len(data)}\n"
record += "egresspkg-1.0.dist-info/RECORD,,\n"
out = io.BytesIO()
with zipfile.ZipFile(out, "w") as z:
    for name, data in files.items():
        z.writestr(name, data)
    z.writestr("egresspkg-1.0.dist-info/RECORD", record)
sys.stdout.buffer.write(out.getvalue())
"#;
    let mut child =
        Command::new("python3").arg("-").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python3");
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success() && !out.stdout.is_empty(), "building the wheel failed");
    out.stdout
}

/// The index: `/simple/egresspkg/` links the wheel with its hash, `/files/` serves it.
pub(super) fn index_routes() -> Router {
    let wheel = build_wheel();
    let sha = common::sha256_hex(&wheel);
    let page = format!("<!DOCTYPE html><html><body><a href=\"/files/{WHEEL}#sha256={sha}\">{WHEEL}</a></body></html>");
    Router::new()
        .route("/simple/", get(|| async { axum::response::Html("<a href=\"/simple/egresspkg/\">egresspkg</a>") }))
        .route("/simple/egresspkg/", get(move || async move { axum::response::Html(page) }))
        .route(&format!("/files/{WHEEL}"), get(move || async move { wheel }))
}

async fn index() -> Origin {
    Origin::serve(index_routes()).await
}

async fn call(d: &Daemon, id: &str, code: &str) -> Value {
    let r = d
        .post("/session/execute", &json!({"session_id": id, "code": code, "language": "python", "timeout": 120}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn create(d: &Daemon, egress: Value) -> String {
    let r = d.post("/session/create", &json!({"egress": egress})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["session_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_pip_installs_from_an_allowed_index_and_another_session_does_not_see_it() {
    let index = index().await;
    let hosts = "pkgs.test=127.0.0.1";
    let env = [("EGRESS_ALLOW_PRIVATE", "true"), ("EGRESS_HOSTS", hosts)];
    let d = Daemon::start_with(&env).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let port = index.port;
    let policy = json!([format!("pkgs.test:{port}")]);
    let first = create(&d, policy.clone()).await;
    let install = format!(
        "import subprocess, sys\n\
         r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--index-url', 'http://pkgs.test:{port}/simple/', '--trusted-host', 'pkgs.test', \
         'egresspkg'], capture_output=True, text=True)\nprint('pip exit', r.returncode)\nprint(r.stdout[-3000:], r.stderr[-3000:])\n"
    );
    let r = call(&d, &first, &install).await;
    assert!(common::text(&r, "stdout").starts_with("pip exit 0"), "{r}");
    let fetched: Vec<&str> =
        r["network"]["attempts"].as_array().unwrap().iter().map(|a| a["host"].as_str().unwrap()).collect();
    assert!(!fetched.is_empty() && fetched.iter().all(|h| *h == "pkgs.test"), "{r}");
    assert!(r["artifacts"].as_array().unwrap().is_empty(), "installed packages are not artifacts: {r}");
    let r = call(&d, &first, "import egresspkg\nprint(egresspkg.VALUE, egresspkg.__file__)").await;
    assert_eq!(common::text(&r, "stdout"), "42 /workspace/.packages/python/egresspkg/__init__.py\n", "{r}");
    for other in [create(&d, policy).await, create(&d, json!([])).await] {
        let r = call(&d, &other, "import egresspkg").await;
        assert_eq!(r["error"]["type"], "ModuleNotFoundError", "{r}");
    }
    let r = d.post("/session/destroy", &json!({"session_id": first})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// An npm package `egressnpm` (`module.exports = 42`) as a registry serves it: its tarball,
/// and its packument naming the tarball at `base` with its hashes.
fn npm_package(base: &str) -> (Vec<u8>, String) {
    let script = r#"
import base64, hashlib, io, json, sys, tarfile
files = {"package/package.json": json.dumps({"name": "egressnpm", "version": "1.0.0", "main": "index.js"}).encode(),
         "package/index.js": b"module.exports = 42;\n"}
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w:gz") as t:
    for name, data in files.items():
        info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
        t.addfile(info, io.BytesIO(data))
tgz = out.getvalue()
print(json.dumps({"tgz": base64.b64encode(tgz).decode(), "shasum": hashlib.sha1(tgz).hexdigest(),
                  "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).output().expect("python3");
    assert!(out.status.success(), "building the npm package failed");
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    use base64::Engine;
    let tgz = base64::engine::general_purpose::STANDARD.decode(made["tgz"].as_str().unwrap()).unwrap();
    let packument = json!({
        "name": "egressnpm",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {
            "name": "egressnpm", "version": "1.0.0", "main": "index.js",
            "dist": {"tarball": format!("{base}/egressnpm/-/egressnpm-1.0.0.tgz"), "shasum": made["shasum"], "integrity": made["integrity"]},
        }},
    });
    (tgz, packument.to_string())
}

#[tokio::test]
async fn a_session_npm_installs_from_an_allowed_registry_into_its_workspace() {
    // The registry's port is in the packument: bind first, then serve.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tgz, packument) = npm_package(&format!("http://npm.test:{port}"));
    let app = Router::new()
        .route("/egressnpm", get(move || async move { ([("content-type", "application/json")], packument) }))
        .route("/egressnpm/-/egressnpm-1.0.0.tgz", get(move || async move { tgz }));
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let env = [("EGRESS_ALLOW_PRIVATE", "true"), ("EGRESS_HOSTS", "npm.test=127.0.0.1")];
    let d = Daemon::start_with(&env).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let id = create(&d, json!([format!("npm.test:{port}")])).await;
    let install = format!(
        "npm install --no-audit --no-fund --no-update-notifier --registry http://npm.test:{port}/ egressnpm 2>&1; echo npm exit $?"
    );
    let r = d
        .post("/session/execute", &json!({"session_id": id, "code": install, "language": "shell", "timeout": 120}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(common::text(&r.body, "stdout").contains("npm exit 0"), "{}", r.body);
    let cell = json!({"session_id": id, "code": "require('egressnpm')", "language": "javascript"});
    let r = d.post("/session/execute", &cell).await;
    assert_eq!(r.body["display"], "42", "{}", r.body);
    let other = create(&d, json!([])).await;
    let cell = json!({"session_id": other, "code": "require('egressnpm')", "language": "javascript"});
    let r = d.post("/session/execute", &cell).await;
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| m.contains("Cannot find module")), "{}", r.body);
}
