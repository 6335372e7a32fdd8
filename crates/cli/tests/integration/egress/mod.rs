//! Egress on purpose: a run with a policy reaches the destinations it lists through its
//! door (the proxy), and nothing else: servers on this machine's loopback, started here and
//! named by test host names the daemon maps to 127.0.0.1 (`EGRESS_HOSTS`, with private
//! destinations allowed); no test targets any other address.

mod descriptors;
mod e2b_network;
mod escape;
mod origin;
mod packages;
mod tls;

use serde_json::{json, Value};

use crate::common::{self, Daemon};
use origin::Origin;

/// A daemon whose proxy maps the test names to 127.0.0.1 and may reach loopback; `extra`
/// settings besides.
async fn daemon(extra: &[(&str, &str)]) -> Option<Daemon> {
    let mut env = vec![
        ("EGRESS_ALLOW_PRIVATE", "true"),
        ("EGRESS_HOSTS", "origin.test=127.0.0.1,other.test=127.0.0.1,a.svc.test=127.0.0.1,svc.test=127.0.0.1"),
    ];
    env.extend_from_slice(extra);
    let d = Daemon::start_with(&env).await;
    common::sandbox_or_skip(&d).await.then_some(d)
}

/// Runs Python `code` with `egress`, asserting a 200.
async fn run(d: &Daemon, code: &str, egress: Value) -> Value {
    d.execute(json!({"code": code, "language": "python", "egress": egress, "timeout": 60})).await
}

fn attempts(result: &Value) -> Vec<Value> {
    result["network"]["attempts"].as_array().cloned().unwrap_or_else(|| panic!("no network attempts: {result}"))
}

/// Python that fetches `url` through the proxy settings and prints the status and body.
fn fetch(url: &str) -> String {
    format!(
        "import urllib.request, urllib.error\n\
         try:\n    r = urllib.request.urlopen({url:?}, timeout=20)\n    print(r.status, r.read().decode())\n\
         except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode().strip())\n"
    )
}

/// Python that speaks HTTP to `host:port` through a CONNECT tunnel.
fn tunnel(host: &str, port: u16, path: &str) -> String {
    format!(
        "import http.client\n\
         c = http.client.HTTPConnection('127.0.0.1', 3128, timeout=20)\n\
         c.set_tunnel({host:?}, {port})\n\
         try:\n    c.request('GET', {path:?})\n    r = c.getresponse()\n    print(r.status, r.read().decode())\n\
         except OSError as e:\n    print('tunnel refused:', e)\n"
    )
}

#[tokio::test]
async fn an_allowed_host_is_reached_over_http_and_connect_and_every_attempt_is_listed() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    let code = format!(
        "{}{}{}",
        fetch(&format!("http://origin.test:{port}/hello")),
        tunnel("origin.test", port, "/hello"),
        fetch(&format!("http://other.test:{port}/hello")),
    );
    let r = run(&d, &code, json!([format!("origin.test:{port}")])).await;
    assert_eq!(r["status"], "success", "{r}");
    let lines: Vec<&str> = common::text(&r, "stdout").lines().collect();
    assert_eq!(lines[0], "200 hello from origin", "{r}");
    assert_eq!(lines[1], "200 hello from origin", "{r}");
    assert!(lines[2].starts_with("403 ") && lines[2].contains("not in the run's egress allowlist"), "{r}");
    let attempts = attempts(&r);
    assert_eq!(attempts.len(), 3, "{r}");
    let seen: Vec<(&str, &str, bool)> = attempts
        .iter()
        .map(|a| (a["host"].as_str().unwrap(), a["method"].as_str().unwrap(), a["allowed"].as_bool().unwrap()))
        .collect();
    assert_eq!(seen, [("origin.test", "GET", true), ("origin.test", "CONNECT", true), ("other.test", "GET", false)]);
    for allowed in &attempts[..2] {
        assert!(allowed["bytes_sent"].as_u64().unwrap() > 0 && allowed["bytes_received"].as_u64().unwrap() > 0);
    }
    assert_eq!(attempts[2]["bytes_received"], 0, "{r}");
    assert_eq!(r["network"]["connections"], 3);
    assert_eq!(r["network"]["allowed"], json!([format!("origin.test:{port}")]));
    assert_eq!(origin.hits(), 2, "the refused request must never reach the server");
    let metrics = d.client().get(format!("{}/metrics", d.base)).send().await.unwrap().text().await.unwrap();
    for counted in [
        "sandbox_egress_connections_total{outcome=\"allowed\"} 2",
        "sandbox_egress_connections_total{outcome=\"refused\"} 1",
    ] {
        assert!(metrics.contains(counted), "{counted} missing from /metrics:\n{metrics}");
    }
}

#[tokio::test]
async fn a_templates_policy_applies_to_its_runs_and_sessions_that_name_none() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    // Custom templates are kept in the directory every test daemon shares: a name of its own.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("egress-{}-{nanos}", std::process::id());
    let template = json!({"name": name, "language": "python", "egress": [format!("origin.test:{port}")]});
    let created = d.post("/templates", &template).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["template"]["network"], true, "{}", created.body);
    let hello = fetch(&format!("http://origin.test:{port}/hello"));
    let r = d.execute(json!({"code": hello, "template": name})).await;
    assert_eq!(common::text(&r, "stdout"), "200 hello from origin\n", "{r}");
    let other = json!({"code": hello, "template": name, "egress": ["other.test"]});
    let r = d.execute(other).await;
    assert!(common::text(&r, "stdout").starts_with("403 "), "the request's own policy wins: {r}");
    let session = d.post("/session/create", &json!({"template": name})).await;
    assert_eq!(session.status, 201, "{}", session.body);
    let call = json!({"session_id": session.body["session_id"], "code": hello});
    let r = d.post("/session/execute", &call).await;
    assert_eq!(common::text(&r.body, "stdout"), "200 hello from origin\n", "{}", r.body);
    assert_eq!(origin.hits(), 2);
}

#[tokio::test]
async fn a_connection_that_ignores_the_proxy_fails_at_once_and_names_do_not_resolve() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    let code = format!(
        "import socket, time\n\
         t = time.monotonic()\n\
         try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=30); print('direct: connected')\n\
         except OSError as e:\n    print('direct:', type(e).__name__)\n\
         print('fast:', time.monotonic() - t < 5)\n\
         try:\n    socket.getaddrinfo('origin.test', {port}); print('dns: resolved')\n\
         except OSError as e:\n    print('dns:', type(e).__name__)\n\
         try:\n    socket.getaddrinfo('example.com', 443); print('dns2: resolved')\n\
         except OSError as e:\n    print('dns2:', type(e).__name__)\n"
    );
    let r = run(&d, &code, json!([format!("origin.test:{port}")])).await;
    let out = common::text(&r, "stdout");
    assert!(out.contains("direct: ConnectionRefusedError"), "{r}");
    assert!(out.contains("fast: True"), "{r}");
    assert!(out.contains("dns: gaierror") && out.contains("dns2: gaierror"), "{r}");
    assert_eq!(origin.hits(), 0);
    assert_eq!(attempts(&r).len(), 0, "{r}");
}

#[tokio::test]
async fn a_wildcard_matches_only_names_under_its_suffix() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    let code = format!(
        "{}{}",
        fetch(&format!("http://a.svc.test:{port}/hello")),
        fetch(&format!("http://svc.test:{port}/hello"))
    );
    let r = run(&d, &code, json!([format!("*.svc.test:{port}")])).await;
    let lines: Vec<&str> = common::text(&r, "stdout").lines().collect();
    assert_eq!(lines[0], "200 hello from origin", "{r}");
    assert!(lines[1].starts_with("403 "), "{r}");
    let allowed: Vec<bool> = attempts(&r).iter().map(|a| a["allowed"].as_bool().unwrap()).collect();
    assert_eq!(allowed, [true, false]);
}

#[tokio::test]
async fn byte_and_connection_limits_stop_the_run() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[("EGRESS_MAX_BYTES", "200000"), ("EGRESS_MAX_CONNECTIONS", "3")]).await else { return };
    let port = origin.port;
    let policy = json!([format!("origin.test:{port}")]);
    let big = format!(
        "import urllib.request, time\nurllib.request.urlopen('http://origin.test:{port}/big', timeout=20).read()\n\
         print('read it all')\ntime.sleep(30)\n"
    );
    let r = run(&d, &big, policy.clone()).await;
    assert_eq!(
        (r["status"].as_str(), r["termination_reason"].as_str()),
        (Some("killed"), Some("network_limit")),
        "{r}"
    );
    assert_eq!(r["network"]["limit_exceeded"], "bytes", "{r}");
    assert!(!common::text(&r, "stdout").contains("read it all"), "{r}");
    let many =
        format!("{}\nimport time\ntime.sleep(30)\n", fetch(&format!("http://origin.test:{port}/hello")).repeat(6));
    let r = run(&d, &many, policy.clone()).await;
    assert_eq!(
        (r["status"].as_str(), r["termination_reason"].as_str()),
        (Some("killed"), Some("network_limit")),
        "{r}"
    );
    assert_eq!(r["network"]["limit_exceeded"], "connections", "{r}");
    assert_eq!(common::text(&r, "stdout").matches("200 hello from origin").count(), 3, "{r}");
    let within = run(&d, &fetch(&format!("http://origin.test:{port}/hello")), policy).await;
    assert_eq!(within["status"], "success", "{within}");
    assert!(within["network"]["limit_exceeded"].is_null(), "{within}");
}

#[tokio::test]
async fn runs_without_a_policy_have_no_network_and_no_network_field() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    let code = format!(
        "import os, socket\nprint('proxy:', os.environ.get('HTTP_PROXY'))\n\
         for port in (3128, {port}):\n    try:\n        socket.create_connection(('127.0.0.1', port), timeout=5); print('connected')\n\
         \x20   except OSError as e:\n        print(type(e).__name__)\n"
    );
    let r = d.execute(json!({"code": code, "language": "python"})).await;
    assert_eq!(common::text(&r, "stdout"), "proxy: None\nOSError\nOSError\n", "{r}");
    assert!(r.get("network").is_none(), "{r}");
    assert_eq!(origin.hits(), 0);
    let empty = d.execute(json!({"code": "print(1)", "language": "python", "egress": []})).await;
    assert!(empty.get("network").is_none(), "{empty}");
}

#[tokio::test]
async fn bad_policies_and_a_server_that_forbids_egress_are_refused_with_400() {
    let Some(d) = daemon(&[("EGRESS_ALLOW", "*.svc.test")]).await else { return };
    for bad in [json!(["127.0.0.1"]), json!(["10.0.0.0/8"]), json!(["a..b"]), json!("pypi.org"), json!(["x.test:0"])] {
        let r = d.post("/execute", &json!({"code": "print(1)", "egress": bad})).await;
        common::assert_error_body(&r, 400);
    }
    let outside = d.post("/execute", &json!({"code": "print(1)", "egress": ["origin.test"]})).await;
    common::assert_error_body(&outside, 400);
    assert!(outside.body["error_detail"].as_str().unwrap().contains("outside"), "{}", outside.body);
    let within = d.post("/execute", &json!({"code": "print(1)", "egress": ["a.svc.test"]})).await;
    assert_eq!(within.status, 200, "{}", within.body);
    let info = d.get("/info").await;
    assert_eq!(info.body["egress"]["available"], true, "{}", info.body);
    assert_eq!(info.body["egress"]["enforcement"], "proxy");
    assert_eq!(info.body["egress"]["allowed_destinations"], json!(["*.svc.test"]));
    let Some(off) = daemon(&[("EGRESS", "false")]).await else { return };
    let r = off.post("/execute", &json!({"code": "print(1)", "egress": ["a.svc.test"]})).await;
    common::assert_error_body(&r, 400);
    let r = off.post("/session/create", &json!({"egress": ["a.svc.test"]})).await;
    common::assert_error_body(&r, 400);
    assert_eq!(off.get("/info").await.body["egress"]["available"], false);
}

/// Waits until the Python zygote (the default template's) is ready to fork.
async fn until_zygote_ready(d: &Daemon) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let info = d.get("/info").await.body;
        let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
        let pool = pools.iter().find(|p| p["language"] == "python" && p["template"].is_null());
        if pool.and_then(|p| p["ready"].as_u64()).unwrap_or(0) > 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no ready Python zygote after 180 s: {info}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn forked_runs_get_their_door_too_and_session_interpreters_with_a_policy_start_cold() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    // The first Python run starts the pool; later ones are forked once the zygote is ready.
    d.execute(json!({"code": "print(1)", "language": "python"})).await;
    until_zygote_ready(&d).await;
    let hello = fetch(&format!("http://origin.test:{port}/hello"));
    let policy = json!([format!("origin.test:{port}")]);
    let r = run(&d, &hello, policy.clone()).await;
    let forked = r["metrics"]["path"] == "forked";
    if common::is_root() {
        assert!(forked, "a root daemon forks Python runs: {r}");
    }
    assert_eq!(common::text(&r, "stdout"), "200 hello from origin\n", "{r}");
    assert_eq!(attempts(&r).len(), 1, "{r}");
    let created = d.post("/session/create", &json!({"egress": policy})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let call = d.post("/session/execute", &json!({"session_id": created.body["session_id"], "code": hello})).await;
    assert_eq!(common::text(&call.body, "stdout"), "200 hello from origin\n", "{}", call.body);
    // Its packages' layer is on PYTHONPATH, which only a fresh interpreter reads.
    assert_eq!(call.body["metrics"]["path"], "cold", "{}", call.body);
    let plain =
        d.execute(json!({"code": "import os; print(os.environ.get('HTTP_PROXY'))", "language": "python"})).await;
    assert_eq!(common::text(&plain, "stdout"), "None\n", "a fork without a policy has no proxy: {plain}");
    assert_eq!(origin.hits(), 2);
}

#[tokio::test]
async fn a_session_cell_past_the_limit_is_stopped_and_the_next_cell_has_a_new_interpreter() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[("EGRESS_MAX_CONNECTIONS", "2")]).await else { return };
    let port = origin.port;
    let created = d.post("/session/create", &json!({"egress": [format!("origin.test:{port}")]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["session_id"].clone();
    let hello = fetch(&format!("http://origin.test:{port}/hello"));
    let call = |code: String| json!({"session_id": id, "code": code, "language": "python"});
    let first = d.post("/session/execute", &call(hello.clone())).await;
    assert_eq!(common::text(&first.body, "stdout"), "200 hello from origin\n", "{}", first.body);
    assert_eq!(first.body["network"]["attempts"].as_array().map(Vec::len), Some(1), "{}", first.body);
    let many = format!("{}import time\ntime.sleep(30)\n", hello.repeat(3));
    let cut = d.post("/session/execute", &call(many)).await;
    assert_eq!(cut.body["termination_reason"], "network_limit", "{}", cut.body);
    assert_eq!(cut.body["network"]["limit_exceeded"], "connections", "{}", cut.body);
    let next = d.post("/session/execute", &call(hello)).await;
    assert_eq!(next.body["interpreter_restarted"], true, "{}", next.body);
    assert_eq!(
        common::text(&next.body, "stdout"),
        "200 hello from origin\n",
        "a new interpreter, a new door: {}",
        next.body
    );
}
