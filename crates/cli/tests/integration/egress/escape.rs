//! Escape cases of the door: through the proxy a run reaches neither the daemon's API, nor
//! the host's loopback services (unless the operator allows private destinations), nor a
//! metadata address, nor a listener of its own or of another run; and abusing the relay
//! (raw bytes, a huge CONNECT line, a client that never speaks) stalls neither the daemon
//! nor other runs.

use serde_json::json;

use super::origin::Origin;
use super::{attempts, daemon, fetch, run, tunnel};
use crate::common::{self, Daemon};

#[tokio::test]
async fn the_daemons_api_and_metadata_addresses_are_refused_even_with_private_destinations() {
    let Some(d) = daemon(&[("EGRESS_HOSTS", "api.test=127.0.0.1,meta.test=169.254.169.254")]).await else { return };
    let api = d.port;
    let code = format!(
        "{}{}{}",
        fetch(&format!("http://api.test:{api}/health")),
        tunnel("api.test", api, "/health"),
        fetch("http://meta.test/latest/meta-data/")
    );
    let r = run(&d, &code, json!([format!("api.test:{api}"), "meta.test"])).await;
    let out = common::text(&r, "stdout");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("403 ") && lines[0].contains("the server's own"), "{r}");
    assert!(lines[1].starts_with("tunnel refused:") && lines[1].contains("403"), "{r}");
    assert!(lines[2].starts_with("403 ") && lines[2].contains("link-local"), "{r}");
    assert!(attempts(&r).iter().all(|a| a["allowed"] == false), "{r}");
}

#[tokio::test]
async fn host_loopback_services_are_refused_unless_the_operator_allows_private_destinations() {
    let origin = Origin::start().await;
    let d = Daemon::start_with(&[("EGRESS_HOSTS", "origin.test=127.0.0.1")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let port = origin.port;
    let code =
        format!("{}{}", fetch(&format!("http://origin.test:{port}/hello")), tunnel("origin.test", port, "/hello"));
    let r = run(&d, &code, json!([format!("origin.test:{port}")])).await;
    let lines: Vec<&str> = common::text(&r, "stdout").lines().collect();
    assert!(lines[0].starts_with("403 ") && lines[0].contains("non-public"), "{r}");
    assert!(lines[1].starts_with("tunnel refused:"), "{r}");
    assert_eq!(origin.hits(), 0);
}

#[tokio::test]
async fn a_sandboxs_own_listeners_are_not_reachable_through_the_proxy() {
    let Some(d) = daemon(&[("EGRESS_HOSTS", "peer.test=127.0.0.1")]).await else { return };
    // The run listens inside its sandbox, then asks the proxy for that port: the proxy is on
    // the host, where no sandbox's loopback is; another run's listener is as far away.
    let code = "import socket, http.client\n\
        srv = socket.socket(); srv.bind(('127.0.0.1', 45454)); srv.listen(); srv.settimeout(2)\n\
        port = 45454\n\
        c = http.client.HTTPConnection('127.0.0.1', 3128, timeout=20)\n\
        c.set_tunnel('peer.test', port)\n\
        try:\n    c.request('GET', '/'); print('through', c.getresponse().status)\n\
        except OSError as e:\n    print('refused:', e)\n\
        try:\n    srv.accept(); print('accepted a connection')\n\
        except socket.timeout:\n    print('no connection came')\n";
    let r = run(&d, code, json!(["peer.test:45454"])).await;
    let out = common::text(&r, "stdout");
    // The proxy connects on the host, where nothing listens at that port.
    assert!(out.contains("refused:") && out.contains("no connection came"), "{r}");
}

#[tokio::test]
async fn abusing_the_relay_stalls_neither_the_daemon_nor_other_runs() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[]).await else { return };
    let port = origin.port;
    let code = format!(
        "import socket\n\
         slow = socket.create_connection(('127.0.0.1', 3128))\n\
         raw = socket.create_connection(('127.0.0.1', 3128)); raw.sendall(bytes(range(256)) * 4)\n\
         print('raw:', raw.recv(100).split(b'\\r\\n')[0].decode())\n\
         huge = socket.create_connection(('127.0.0.1', 3128))\n\
         try:\n    huge.sendall(b'CONNECT ' + b'a' * 100000 + b'.test:443 HTTP/1.1\\r\\n\\r\\n')\n\
         except OSError:\n    pass\n\
         print('huge:', huge.recv(100).split(b'\\r\\n')[0].decode())\n\
         {}",
        fetch(&format!("http://origin.test:{port}/hello"))
    );
    let policy = json!([format!("origin.test:{port}")]);
    let (abused, other) = tokio::join!(run(&d, &code, policy.clone()), async {
        run(&d, &fetch(&format!("http://origin.test:{port}/hello")), policy.clone()).await
    });
    let out = common::text(&abused, "stdout");
    assert!(out.contains("raw: HTTP/1.1 400"), "{abused}");
    assert!(out.contains("huge: HTTP/1.1 400"), "{abused}");
    assert!(out.contains("200 hello from origin"), "{abused}");
    assert_eq!(common::text(&other, "stdout"), "200 hello from origin\n", "{other}");
    assert_eq!(d.get("/health").await.status, 200);
}

#[tokio::test]
async fn another_runs_listener_is_not_reachable_through_the_proxy() {
    let origin = Origin::start().await;
    let Some(d) = daemon(&[("EGRESS_HOSTS", "origin.test=127.0.0.1,peer.test=127.0.0.1")]).await else { return };
    let port = origin.port;
    // Run A listens inside its sandbox, says so through its own door, then waits for a peer.
    let listener = format!(
        "import socket, urllib.request\n\
         srv = socket.socket(); srv.bind(('127.0.0.1', 45457)); srv.listen(); srv.settimeout(8)\n\
         urllib.request.urlopen('http://origin.test:{port}/hello', timeout=20).read()\n\
         try:\n    srv.accept(); print('accepted a connection')\n\
         except socket.timeout:\n    print('no connection came')\n"
    );
    let policy = json!([format!("origin.test:{port}"), "peer.test:45457"]);
    let body = json!({"code": listener, "language": "python", "egress": policy, "async": true, "timeout": 60});
    let accepted = d.post("/execute", &body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let id = accepted.body["execution_id"].as_str().unwrap().to_owned();
    while origin.hits() == 0 {
        let record = d.get(&format!("/executions/{id}")).await;
        assert_ne!(record.body["state"], "finished", "run A ended before it listened: {}", record.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Run B asks its proxy for A's port: the proxy connects on the host, where no sandbox is.
    let r = run(&d, &tunnel("peer.test", 45457, "/"), policy).await;
    assert!(common::text(&r, "stdout").starts_with("tunnel refused:"), "{r}");
    let a = loop {
        let record = d.get(&format!("/executions/{id}")).await;
        if record.body["state"] == "finished" {
            break record.body["result"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(common::text(&a, "stdout"), "no connection came\n", "{a}");
}
