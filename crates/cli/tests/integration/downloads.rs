//! Downloads stream: many readers of a large file at once (through the session files API and
//! E2B's `/files`) grow the daemon's memory by far less than the file's size times the readers,
//! and each gets the whole file; past the transfer caps a download is refused at once, in each
//! protocol's error format with `Retry-After`, and a reader that goes away frees its place.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};
use sha2::Digest;

use crate::common::{self, Daemon};
use crate::e2b::{tenant_of, KEY};

/// The large file: written by the session's own code.
const BIG_BYTES: u64 = 80_000_000;
const READERS: usize = 12;
/// What the daemon's peak memory may grow by while the readers go: far below
/// `BIG_BYTES * READERS` (915 MiB), so it proves the file is not held per reader.
const MAX_GROWTH_KB: u64 = 200 * 1024;

/// Runs `command` in the session `id` of `tenant`: its stdout.
async fn shell(d: &Daemon, tenant: &str, id: &str, command: &str) -> String {
    let body = json!({"session_id": id, "language": "shell", "code": command, "timeout": 120});
    let response = d.client().post(format!("{}/session/execute", d.base)).header("x-tenant-id", tenant).json(&body);
    let result: Value = response.send().await.expect("POST /session/execute").json().await.unwrap();
    assert_eq!(result["status"], "success", "{command}: {result}");
    common::text(&result, "stdout").to_owned()
}

/// A session of `tenant` holding `name` of `bytes` random bytes: its id and the file's SHA-256.
async fn session_with_file(d: &Daemon, tenant: &str, name: &str, bytes: u64) -> (String, String) {
    let response = d.client().post(format!("{}/session/create", d.base)).header("x-tenant-id", tenant).json(&json!({}));
    let created: Value = response.send().await.unwrap().json().await.unwrap();
    let id = created["session_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let sha = file_in(d, tenant, &id, name, bytes).await;
    (id, sha)
}

/// Writes `name` of `bytes` random bytes in the session `id`: its SHA-256.
async fn file_in(d: &Daemon, tenant: &str, id: &str, name: &str, bytes: u64) -> String {
    let out = shell(d, tenant, id, &format!("head -c {bytes} /dev/urandom > {name} && sha256sum {name}")).await;
    out.split_whitespace().next().unwrap().to_owned()
}

/// The daemon's peak resident memory so far (kB).
fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads the whole answer as it comes (never holding it): its status, size and SHA-256.
async fn read_through(request: reqwest::RequestBuilder) -> (u16, u64, String) {
    let mut response = request.send().await.expect("GET");
    let status = response.status().as_u16();
    let (mut size, mut hasher) = (0u64, sha2::Sha256::new());
    while let Some(chunk) = response.chunk().await.expect("the body broke off") {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (status, size, format!("{:x}", hasher.finalize()))
}

/// `READERS` readers of the same file at once: each gets it whole, and the daemon's peak
/// memory grows by less than `MAX_GROWTH_KB`.
async fn readers_get_it_whole(d: &Daemon, request: impl Fn() -> reqwest::RequestBuilder, sha: &str) {
    let before = peak_kb(d.pid());
    let answers = join_all((0..READERS).map(|_| read_through(request()))).await;
    let growth = peak_kb(d.pid()).saturating_sub(before);
    for answer in &answers {
        assert_eq!(answer, &(200, BIG_BYTES, sha.to_owned()), "a reader got another answer");
    }
    eprintln!("{READERS} readers of {BIG_BYTES} bytes grew the daemon's peak memory by {growth} kB");
    assert!(growth < MAX_GROWTH_KB, "the daemon's peak memory grew by {growth} kB for {READERS} readers");
}

#[tokio::test]
async fn many_readers_of_a_large_session_file_get_it_whole_without_the_daemon_holding_it() {
    let Some(d) = common::sandboxed().await else { return };
    let (id, sha) = session_with_file(&d, "default", "big", BIG_BYTES).await;
    let url = format!("{}/session/{id}/files/big", d.base);
    readers_get_it_whole(&d, || d.client().get(&url), &sha).await;
}

/// Creates an E2B sandbox with `KEY`: its id and envd access token.
async fn e2b_sandbox(d: &Daemon) -> (String, String) {
    let request = d.client().post(format!("{}/e2b/v2/sandboxes", d.base)).header("x-api-key", KEY);
    let created: Value =
        request.json(&json!({"templateID": "base", "timeout": 120})).send().await.unwrap().json().await.unwrap();
    let field = |name: &str| created[name].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    (field("sandboxID"), field("envdAccessToken"))
}

/// `GET /files?path=/home/user/{name}` of the E2B sandbox `id`.
fn e2b_file(d: &Daemon, id: &str, token: &str, name: &str) -> reqwest::RequestBuilder {
    d.client()
        .get(format!("{}/e2b/sandbox/files?path=/home/user/{name}", d.base))
        .header("e2b-sandbox-id", id)
        .header("e2b-sandbox-port", "49983")
        .header("x-access-token", token)
}

#[tokio::test]
async fn many_readers_of_a_large_e2b_file_get_it_whole_without_the_daemon_holding_it() {
    let Some(d) = common::sandboxed().await else { return };
    let (id, token) = e2b_sandbox(&d).await;
    let sha = file_in(&d, &tenant_of(KEY), &id, "big", BIG_BYTES).await;
    readers_get_it_whole(&d, || e2b_file(&d, &id, &token, "big"), &sha).await;
}

/// A download whose headers came and whose body is left unread: it holds its place.
async fn held(request: reqwest::RequestBuilder) -> reqwest::Response {
    let response = request.send().await.expect("GET");
    assert_eq!(response.status(), 200, "a download within the caps");
    response
}

/// The refusal of a download past a cap: our error body, 503, `Retry-After`; its detail.
async fn refused(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.expect("GET");
    let (status, retry) = (response.status().as_u16(), response.headers().get("retry-after").cloned());
    let body: Value = response.json().await.expect("an error body");
    let answer = common::Response { status, headers: Default::default(), body };
    assert_eq!(common::assert_error_body(&answer, 503), "Executor.QueueFull", "{}", answer.body);
    assert_eq!(retry.as_ref().and_then(|v| v.to_str().ok()), Some("1"), "{}", answer.body);
    answer.body["error_detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn downloads_past_the_caps_are_refused_in_each_protocol_and_a_gone_reader_frees_its_place() {
    let caps = [("SESSION_MAX_TRANSFERS", "3"), ("SESSION_MAX_TRANSFERS_PER_TENANT", "2")];
    let d = Daemon::start_with(&caps).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    // Larger than what the sockets and buffers between hold: an unread download stays open.
    let size = 40_000_000;
    let (a, sha) = session_with_file(&d, "alpha", "big", size).await;
    let (b, _) = session_with_file(&d, "beta", "big", size).await;
    let get = |tenant: &str, id: &str| {
        d.client().get(format!("{}/session/{id}/files/big", d.base)).header("x-tenant-id", tenant)
    };
    let first = held(get("alpha", &a)).await;
    let _second = held(get("alpha", &a)).await;
    assert!(refused(get("alpha", &a)).await.contains("tenant alpha has 2"));
    // Another tenant still has its share, up to the daemon's cap.
    let _third = held(get("beta", &b)).await;
    assert!(refused(get("beta", &b)).await.contains("3 file transfers are under way"));
    // E2B's /files counts too, refused in E2B's format.
    let (id, token) = e2b_sandbox(&d).await;
    file_in(&d, &tenant_of(KEY), &id, "small", 10).await;
    let response = e2b_file(&d, &id, &token, "small").send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 429, "E2B's error body: {body}");
    assert!(body["message"].as_str().unwrap().contains("file transfers"), "{body}");
    // A reader that goes away frees its place: alpha downloads again, whole.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = get("alpha", &a).send().await.unwrap();
        if response.status() == 200 {
            drop(response);
            break;
        }
        assert!(Instant::now() < deadline, "the place of the reader that went away was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // That probe's own place frees as its reader went away too; then a full read.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, got, digest) = read_through(get("alpha", &a)).await;
        if status == 200 {
            assert_eq!((got, digest), (size, sha));
            break;
        }
        assert!(Instant::now() < deadline, "the probe's place was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A daemon among peers on `port` (named by it).
async fn peer(port: u16) -> Daemon {
    let port = port.to_string();
    let env = [
        ("EXECUTOR_PORT", port.as_str()),
        ("EXECUTOR_NODE", port.as_str()),
        ("EXECUTOR_PEER_URL", "http://127.0.0.1:{node}"),
        ("SANDBOX_WARM_POOL", "0"),
    ];
    Daemon::start_with(&env).await
}

#[tokio::test]
async fn many_readers_through_a_peer_get_the_file_whole_without_the_relaying_daemon_holding_it() {
    let (owner, relay) = (peer(common::free_port()).await, peer(common::free_port()).await);
    if !common::sandbox_or_skip(&owner).await {
        return;
    }
    let (id, sha) = session_with_file(&owner, "default", "big", BIG_BYTES).await;
    let url = format!("{}/session/{id}/files/big", relay.base);
    readers_get_it_whole(&relay, || relay.client().get(&url), &sha).await;
}
