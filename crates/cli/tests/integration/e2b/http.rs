//! The E2B routes over plain HTTP: bad input on each gets E2B's error format, another key
//! reaches nothing of a sandbox, and commands that try to get out stay inside.

use base64::Engine;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use super::{KEY, OTHER_KEY};
use crate::common::{self, Daemon};

/// A request to the control plane with `key`.
pub(super) fn control(daemon: &Daemon, method: Method, path: &str, key: Option<&str>) -> RequestBuilder {
    let request = daemon.client().request(method, format!("{}/e2b{path}", daemon.base));
    match key {
        Some(key) => request.header("x-api-key", key),
        None => request,
    }
}

/// A request to the sandbox plane for `id` with `token`.
pub(crate) fn plane(daemon: &Daemon, method: Method, path: &str, id: &str, token: &str) -> RequestBuilder {
    daemon
        .client()
        .request(method, format!("{}/e2b/sandbox{path}", daemon.base))
        .header("e2b-sandbox-id", id)
        .header("e2b-sandbox-port", "49983")
        .header("x-access-token", token)
}

/// Sends `request`, checks the status and E2B's REST error body, returns the message.
pub(super) async fn e2b_error(request: RequestBuilder, status: u16) -> String {
    let response = request.send().await.unwrap();
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    assert_eq!(body["code"], status, "not E2B's error body: {body}");
    body["message"].as_str().unwrap_or_else(|| panic!("no message: {body}")).to_string()
}

/// Sends a Connect unary call, checks the status and the Connect error code.
pub(super) async fn connect_error(request: RequestBuilder, status: u16, code: &str) {
    let response = request.header("content-type", "application/json").send().await.unwrap();
    let got = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    assert!(body["message"].is_string(), "{body}");
}

/// Creates a `base` sandbox with `key`: its id and envd access token.
pub(crate) async fn create(daemon: &Daemon, key: &str) -> (String, String) {
    let response = control(daemon, Method::POST, "/v2/sandboxes", Some(key))
        .json(&json!({"templateID": "base", "timeout": 120, "unknownField": {"a": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["envdVersion"], "0.6.4", "{body}");
    (body["sandboxID"].as_str().unwrap().into(), body["envdAccessToken"].as_str().unwrap().into())
}

/// Starts `command` through `Process.Start`: the stream's response.
async fn start(daemon: &Daemon, id: &str, token: &str, command: &str) -> reqwest::Response {
    let message = json!({"process": {"cmd": "/bin/bash", "args": ["-l", "-c", command]}, "stdin": false});
    let payload = message.to_string().into_bytes();
    let mut body = vec![0u8];
    body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    body.extend_from_slice(&payload);
    let response = plane(daemon, Method::POST, "/process.Process/Start", id, token)
        .header("content-type", "application/connect+json")
        .header("connect-protocol-version", "1")
        .header("connect-timeout-ms", "200000")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/connect+json");
    response
}

/// Runs `command` through `Process.Start`: its stdout, and its exit code.
async fn run(daemon: &Daemon, id: &str, token: &str, command: &str) -> (String, i64) {
    let bytes = start(daemon, id, token, command).await.bytes().await.unwrap();
    let (mut stdout, mut exit, mut rest) = (Vec::new(), None, &bytes[..]);
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let message: Value = serde_json::from_slice(&rest[5..5 + len]).unwrap();
        if rest[0] == 2 {
            assert!(message.get("error").is_none(), "the stream ended with an error: {message}");
        }
        let event = &message["event"];
        if let Some(data) = event["data"]["stdout"].as_str() {
            stdout.extend(base64::engine::general_purpose::STANDARD.decode(data).unwrap());
        }
        if event.get("end").is_some() {
            exit = Some(event["end"]["exitCode"].as_i64().unwrap_or(0));
        }
        rest = &rest[5 + len..];
    }
    (String::from_utf8_lossy(&stdout).into_owned(), exit.expect("the stream has no end event"))
}

#[tokio::test]
async fn e2b_control_plane_answers_bad_input_in_e2b_format() {
    let Some(daemon) = common::sandboxed().await else { return };
    let msg =
        e2b_error(control(&daemon, Method::POST, "/v2/sandboxes", None).json(&json!({"templateID": "base"})), 401)
            .await;
    assert!(msg.contains("X-API-KEY"), "{msg}");
    let bad_json = control(&daemon, Method::POST, "/v2/sandboxes", Some(KEY)).body("{not json");
    e2b_error(bad_json, 400).await;
    let no_template = control(&daemon, Method::POST, "/sandboxes", Some(KEY)).json(&json!({"timeout": 10}));
    e2b_error(no_template, 400).await;
    let unknown = control(&daemon, Method::POST, "/v2/sandboxes", Some(KEY)).json(&json!({"templateID": "nope"}));
    assert!(e2b_error(unknown, 404).await.contains("nope"));
    let zero =
        control(&daemon, Method::POST, "/v2/sandboxes", Some(KEY)).json(&json!({"templateID": "base", "timeout": 0}));
    e2b_error(zero, 400).await;
    let pause = json!({"templateID": "base", "autoPause": true});
    e2b_error(control(&daemon, Method::POST, "/v2/sandboxes", Some(KEY)).json(&pause), 400).await;
    for (method, path) in [
        (Method::GET, "/sandboxes/0123456789ab"),
        (Method::DELETE, "/sandboxes/0123456789ab"),
        (Method::POST, "/sandboxes/0123456789ab/timeout"),
        (Method::POST, "/v2/sandboxes/0123456789ab/connect"),
    ] {
        e2b_error(control(&daemon, method, path, Some(KEY)).json(&json!({"timeout": 10})), 404).await;
    }
    e2b_error(control(&daemon, Method::GET, "/templates", Some(KEY)), 501).await;
    e2b_error(control(&daemon, Method::PUT, "/v2/sandboxes", Some(KEY)), 405).await;
    // The route of SDKs before 2.51, with what they send.
    let old_route = control(&daemon, Method::POST, "/sandboxes", Some(KEY))
        .json(&json!({"templateID": "base", "secure": true, "allow_internet_access": true, "metadata": {}}));
    let old_route = old_route.send().await.unwrap();
    assert_eq!(old_route.status(), 201);
    let (id, _) = create(&daemon, KEY).await;
    let timeout = control(&daemon, Method::POST, &format!("/sandboxes/{id}/timeout"), Some(KEY));
    e2b_error(timeout.json(&json!({"timeout": "soon"})), 400).await;
    let preflight = control(&daemon, Method::OPTIONS, "/v2/sandboxes", None)
        .header("origin", "https://example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-api-key,e2b-sandbox-id");
    // No origin is allowed by default (`cors` has an allowlisted one): the preflight is an
    // ordinary call, refused in E2B's format, that lets no web page read the answers.
    let preflight = preflight.send().await.unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "{:?}", preflight.headers());
    let (status, body) = (preflight.status().as_u16(), preflight.json::<Value>().await.unwrap_or(Value::Null));
    assert_eq!((status, body["code"].as_u64()), (405, Some(405)), "{body}");
}

#[tokio::test]
async fn e2b_sandbox_plane_answers_bad_input_in_e2b_format() {
    let Some(daemon) = common::sandboxed().await else { return };
    let (id, token) = create(&daemon, KEY).await;
    let no_id = daemon.client().get(format!("{}/e2b/sandbox/health", daemon.base)).header("x-access-token", &token);
    e2b_error(no_id, 400).await;
    let unknown = e2b_error(plane(&daemon, Method::GET, "/health", "0123456789ab", &token), 502).await;
    assert_eq!(unknown, "The sandbox 0123456789ab was not found");
    let wrong = e2b_error(plane(&daemon, Method::GET, "/health", &id, "wrong"), 502).await;
    assert!(wrong.contains("was not found"), "{wrong}");
    let health = plane(&daemon, Method::GET, "/health", &id, &token).send().await.unwrap();
    assert_eq!(health.status(), 204);
    e2b_error(plane(&daemon, Method::GET, "/files?path=/etc/passwd", &id, &token), 403).await;
    e2b_error(plane(&daemon, Method::GET, "/files?path=/home/user/missing", &id, &token), 404).await;
    e2b_error(plane(&daemon, Method::GET, "/files", &id, &token), 400).await;
    e2b_error(plane(&daemon, Method::GET, "/files?path=/home/user/a&username=nobody", &id, &token), 401).await;
    let upload = plane(&daemon, Method::POST, "/files?path=/home/user/../../x", &id, &token)
        .header("content-type", "application/octet-stream")
        .body("x");
    e2b_error(upload, 400).await;
    let rpc = |method: &str| plane(&daemon, Method::POST, &format!("/process.Process/{method}"), &id, &token);
    connect_error(rpc("Nope").body("{}"), 501, "unimplemented").await;
    connect_error(rpc("SendSignal").body("{not json"), 400, "invalid_argument").await;
    connect_error(rpc("SendSignal").body(r#"{"process":{"pid":4242},"signal":"SIGNAL_SIGKILL"}"#), 404, "not_found")
        .await;
    let execute = |body: &'static str| {
        plane(&daemon, Method::POST, "/execute", &id, &token).header("e2b-sandbox-port", "49999").body(body)
    };
    assert_eq!(execute("{bad").send().await.unwrap().status(), 400);
    assert_eq!(execute(r#"{"code":"1","context_id":"c","language":"python"}"#).send().await.unwrap().status(), 400);
    assert_eq!(execute(r#"{"code":"1","context_id":"nope"}"#).send().await.unwrap().status(), 404);
    assert_eq!(execute(r#"{"code":"1","language":"cobol"}"#).send().await.unwrap().status(), 400);
    e2b_error(plane(&daemon, Method::GET, "/nope", &id, &token), 501).await;
}

#[tokio::test]
async fn e2b_another_key_reaches_nothing_of_a_sandbox() {
    let Some(daemon) = common::sandboxed().await else { return };
    let (id, token) = create(&daemon, KEY).await;
    let (_, other_token) = create(&daemon, OTHER_KEY).await;
    for (method, path) in [
        (Method::GET, format!("/sandboxes/{id}")),
        (Method::DELETE, format!("/sandboxes/{id}")),
        (Method::POST, format!("/sandboxes/{id}/timeout")),
        (Method::POST, format!("/v2/sandboxes/{id}/connect")),
        (Method::POST, format!("/sandboxes/{id}/connect")),
    ] {
        e2b_error(control(&daemon, method, &path, Some(OTHER_KEY)).json(&json!({"timeout": 1})), 404).await;
    }
    let listed: Value =
        control(&daemon, Method::GET, "/v2/sandboxes", Some(OTHER_KEY)).send().await.unwrap().json().await.unwrap();
    assert!(listed.as_array().unwrap().iter().all(|s| s["sandboxID"] != id.as_str()), "{listed}");
    // The other sandbox's token opens nothing of this one.
    e2b_error(plane(&daemon, Method::GET, "/health", &id, &other_token), 502).await;
    e2b_error(plane(&daemon, Method::GET, "/files?path=a", &id, &other_token), 502).await;
    // The owner still has it, whole.
    assert_eq!(run(&daemon, &id, &token, "echo still here").await, ("still here\n".into(), 0));
}

#[tokio::test]
async fn e2b_the_daemon_token_is_the_api_key() {
    let daemon = Daemon::start_with(&[("EXECUTOR_API_TOKEN", KEY)]).await;
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    let wrong = control(&daemon, Method::POST, "/v2/sandboxes", Some(OTHER_KEY)).json(&json!({"templateID": "base"}));
    e2b_error(wrong, 401).await;
    let (id, token) = create(&daemon, KEY).await;
    // The sandbox plane is opened by the sandbox's own token, not the daemon's.
    assert_eq!(plane(&daemon, Method::GET, "/health", &id, &token).send().await.unwrap().status(), 204);
    e2b_error(plane(&daemon, Method::GET, "/health", &id, KEY), 502).await;
    // The rest of the API still wants the token.
    assert_eq!(daemon.client().get(format!("{}/sessions", daemon.base)).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn e2b_commands_that_try_to_get_out_stay_inside() {
    let Some(daemon) = common::sandboxed().await else { return };
    let (id, token) = create(&daemon, KEY).await;
    let (other, other_token) = create(&daemon, OTHER_KEY).await;
    run(&daemon, &other, &other_token, "echo other > /home/user/mine.txt").await;
    // The host's secrets and the other sandbox's files are not there to read.
    let (out, _) = run(&daemon, &id, &token, "cat /etc/shadow; ls /home; cat /home/*/mine.txt; ls /proc | wc -l").await;
    assert!(!out.contains("root:"), "{out}");
    assert!(!out.contains("other"), "{out}");
    // Signalling every process it can see, and its own group, ends only the command.
    let (_, code) = run(&daemon, &id, &token, "kill -9 -1; kill -9 0; echo survived").await;
    assert_ne!(code, 0);
    assert_eq!(run(&daemon, &other, &other_token, "cat /home/user/mine.txt").await, ("other\n".into(), 0));
    assert_eq!(run(&daemon, &id, &token, "echo next").await, ("next\n".into(), 0));
    assert_eq!(daemon.get("/health").await.status, 200);
    // A symlink the code plants is not followed by the file API.
    run(&daemon, &id, &token, "ln -s /etc/passwd /home/user/link; ln -s / /home/user/root").await;
    for path in ["/home/user/link", "/home/user/root/etc/passwd"] {
        let response = plane(&daemon, Method::GET, &format!("/files?path={path}"), &id, &token).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(status >= 400 && !body.contains("root:"), "{path}: {status} {body}");
    }
}

#[tokio::test]
async fn e2b_killing_a_sandbox_ends_its_running_commands() {
    let Some(daemon) = common::sandboxed().await else { return };
    let (id, token) = create(&daemon, KEY).await;
    let mut stream = start(&daemon, &id, &token, "sleep 100; echo finished").await;
    // The start event comes first: the command runs.
    let first = stream.chunk().await.unwrap().expect("the stream's first message");
    assert!(String::from_utf8_lossy(&first).contains("\"start\""), "{first:?}");
    let killed = control(&daemon, Method::DELETE, &format!("/sandboxes/{id}"), Some(KEY)).send().await.unwrap();
    assert_eq!(killed.status(), 204);
    // The stream breaks off (the SDKs then find the sandbox gone and say it was killed).
    let mut rest = Vec::new();
    let broken = loop {
        match stream.chunk().await {
            Ok(Some(chunk)) => rest.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    let text = String::from_utf8_lossy(&rest);
    assert!(!text.contains("ZmluaXNoZWQ"), "the command ran to its end: {text}");
    assert!(broken, "the stream ended as if the command had: {text}");
}

#[tokio::test]
async fn e2b_a_sandbox_ends_at_its_timeout() {
    let Some(daemon) = common::sandboxed().await else { return };
    let response = control(&daemon, Method::POST, "/v2/sandboxes", Some(KEY))
        .json(&json!({"templateID": "base", "timeout": 1}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let (id, token) = (body["sandboxID"].as_str().unwrap(), body["envdAccessToken"].as_str().unwrap());
    // The reaper ends it a second after its start: wait (bounded) until its session is gone,
    // which the reaper does after it took the sandbox out of the E2B routes' reach.
    let sessions =
        || daemon.client().get(format!("{}/sessions", daemon.base)).header("x-tenant-id", super::tenant_of(KEY)).send();
    let mut gone = false;
    for _ in 0..300 {
        let listed: Value = sessions().await.unwrap().json().await.unwrap();
        if listed["sessions"] == json!([]) {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the sandbox outlived its timeout by 30 s");
    let health = e2b_error(plane(&daemon, Method::GET, "/health", id, token), 502).await;
    assert!(health.contains("was not found"), "{health}");
    e2b_error(control(&daemon, Method::GET, &format!("/sandboxes/{id}"), Some(KEY)), 404).await;
}
