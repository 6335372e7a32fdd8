//! Who may use the MCP tools and what they reach: the API token, tenants, peers that own a
//! session, and hostile code through `run_code`.

use serde_json::{json, Value};

use super::{call, client, over_http, over_stdio, python, refused, texts};
use crate::common::{self, Daemon};
use crate::escape::cases;
use crate::escape::host::{As, Host, Warmth};

const TOKEN: &str = "mcp-test-token";

/// With an API token, `/mcp` answers 401 without it or with a wrong one (in the API's error
/// format), over HTTP and through the stdio subcommand, and works with it.
#[tokio::test]
async fn the_api_token_is_required() {
    let Some(python) = python() else { return };
    let d = Daemon::start_with(&[("EXECUTOR_API_TOKEN", TOKEN)]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    for auth in [None, Some("Bearer wrong")] {
        let mut request = d.client().post(format!("{}/mcp", d.base)).json(&init);
        request = request.header("accept", "application/json, text/event-stream");
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error_code"], "Executor.Unauthorized", "{body}");
    }
    let steps = json!([call("run_code", json!({"code": "print('let in')"}))]);
    let wrong = client(&python, over_http(&d, json!({"Authorization": "Bearer wrong"})), steps.clone()).await;
    // The SDK's client gives up on the 401 (it says no more than that the server refused).
    assert!(wrong["connect_error"].as_str().is_some_and(|e| e.contains("error")), "{wrong}");
    let stdio_wrong = client(&python, over_stdio(&d, &["--token=wrong"]), steps.clone()).await;
    assert!(refused(&stdio_wrong[0], "Executor.Unauthorized").contains("token"), "{stdio_wrong}");
    let bearer = format!("Bearer {TOKEN}");
    let token_flag = format!("--token={TOKEN}");
    for right in [over_http(&d, json!({"Authorization": bearer})), over_stdio(&d, &[&token_flag])] {
        let r = client(&python, right, steps.clone()).await;
        assert_eq!(texts(&r[0]), "let in\n", "{r}");
    }
}

/// A session of one tenant does not exist for another tenant's MCP client, over either
/// transport: it can neither run code in it, nor read, write or list its files, nor end it.
#[tokio::test]
async fn tenants_stay_apart() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    let alice = over_http(&d, json!({"X-Tenant-ID": "alice"}));
    let created = client(
        &python,
        alice.clone(),
        json!([
            {"op": "call", "tool": "create_session", "args": {}, "save": {"s": "/session_id"}},
            call("run_code", json!({"session_id": "$s", "code": "secret = 'alice-only'"})),
            call("upload_file", json!({"session_id": "$s", "path": "mine.txt", "content": "alice's file"})),
        ]),
    )
    .await;
    let session = created[0]["structured"]["session_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert_eq!(created[0]["structured"]["tenant_id"], "alice", "{created}");
    let intrusions = json!([
        call("run_code", json!({"session_id": session, "code": "secret"})),
        call("download_file", json!({"session_id": session, "path": "mine.txt"})),
        call("upload_file", json!({"session_id": session, "path": "mine.txt", "content": "overwritten"})),
        call("list_files", json!({"session_id": session})),
        call("destroy_session", json!({"session_id": session})),
    ]);
    for bob in [over_http(&d, json!({"X-Tenant-ID": "bob"})), over_stdio(&d, &["--tenant", "bob"])] {
        let r = client(&python, bob, intrusions.clone()).await;
        for (i, report) in r.as_array().unwrap_or_else(|| panic!("{r}")).iter().enumerate() {
            assert!(refused(report, "Executor.NotFound").contains("not found"), "step {i}: {report}");
            assert!(!report.to_string().contains("alice"), "step {i} tells of alice: {report}");
        }
    }
    let still = client(
        &python,
        alice,
        json!([
            call("run_code", json!({"session_id": session, "code": "secret"})),
            call("download_file", json!({"session_id": session, "path": "mine.txt"})),
        ]),
    )
    .await;
    assert_eq!(still[0]["structured"]["display"], "'alice-only'", "{still}");
    assert_eq!(texts(&still[1]), "alice's file", "{still}");
}

/// Hostile programs of the escape suite through MCP's run_code: each is held as on /execute
/// (its expected denials and status), no host secret comes back, and the host is unharmed.
#[tokio::test]
async fn hostile_code_through_run_code_is_contained() {
    let Some(python) = python() else { return };
    let Some(mut host) = Host::start(Warmth::Cold, As::Root).await else {
        assert!(!common::sandbox_tests_required(), "the sandbox does not work on this host");
        return;
    };
    let chosen = ["signal_group_kill", "host_secrets", "signal_host_pids", "daemon_environ", "proc_root_escape"];
    let all = cases::load();
    let mut failures = Vec::new();
    for name in chosen {
        let case = all.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no escape case {name}"));
        let values = host.values();
        let args = json!({"language": case.language, "code": case.program(&values), "timeout": 60});
        let r = client(
            &python,
            over_http(&host.daemon, json!({"X-Tenant-ID": "mallory"})),
            json!([call("run_code", args)]),
        )
        .await;
        let result = &r[0]["structured"];
        assert!(result["status"].is_string(), "{name}: {r}");
        assert_eq!(r[0]["is_error"], result["status"] != "success", "{name}: {r}");
        let mut problems = case.check_result(result, &values);
        problems.extend(host.leaks(&r[0], &[]));
        problems.extend(host.check(&[values["MARKER"].clone()]).await);
        failures.extend(problems.into_iter().map(|p| format!("{name}: {p}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Among peers, a session one daemon owns is used through another's `/mcp`: the call is
/// forwarded to the owner with the caller's token and tenant, as on the HTTP routes.
#[tokio::test]
async fn a_peers_session_is_reached_through_any_daemon() {
    let Some(python) = python() else { return };
    let ports = [common::free_port(), common::free_port()];
    let mut peers = Vec::new();
    for port in ports.map(|p| p.to_string()) {
        let env = [
            ("EXECUTOR_PORT", port.as_str()),
            ("EXECUTOR_NODE", port.as_str()),
            ("EXECUTOR_PEER_URL", "http://127.0.0.1:{node}"),
            ("EXECUTOR_API_TOKEN", TOKEN),
            ("SANDBOX_WARM_POOL", "0"),
        ];
        peers.push(Daemon::start_with(&env).await);
    }
    if !common::sandbox_or_skip(&peers[0]).await {
        return;
    }
    let bearer = format!("Bearer {TOKEN}");
    let through = |d: &Daemon, tenant: &str| over_http(d, json!({"Authorization": bearer, "X-Tenant-ID": tenant}));
    let created = client(
        &python,
        through(&peers[0], "t1"),
        json!([
            {"op": "call", "tool": "create_session", "args": {}, "save": {"s": "/session_id"}},
            call("run_code", json!({"session_id": "$s", "code": "x = 41"})),
            call("upload_file", json!({"session_id": "$s", "path": "a.txt", "content": "from the owner"})),
        ]),
    )
    .await;
    let session = created[0]["structured"]["session_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert!(session.starts_with(&format!("{}.", ports[0])), "the id names its daemon: {session}");
    let used = client(
        &python,
        through(&peers[1], "t1"),
        json!([
            call("run_code", json!({"session_id": session, "code": "x + 1"})),
            call("download_file", json!({"session_id": session, "path": "a.txt"})),
        ]),
    )
    .await;
    assert_eq!(texts(&used[0]), "Out: 42", "{used}");
    assert_eq!(texts(&used[1]), "from the owner", "{used}");
    let other = client(
        &python,
        through(&peers[1], "t2"),
        json!([call("run_code", json!({"session_id": session, "code": "x"}))]),
    )
    .await;
    refused(&other[0], "Executor.NotFound");
}
