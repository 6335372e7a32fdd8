//! TLS from a sandbox: the package index of `packages.rs`, served over HTTPS on loopback with
//! a certificate of a CA made here. A daemon given that CA (`SANDBOX_EXTRA_CA_FILE`) lets pip,
//! `urllib` and Node verify it through the door; one without it fails verification, which
//! shows the TLS is real and verified inside the sandbox (the door relays bytes only).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use serde_json::{json, Value};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::packages::index_routes;
use crate::common::{self, Daemon};

/// The index's name, mapped to 127.0.0.1 by the daemon's proxy.
const HOST: &str = "pkgs.test";

/// A CA of the test's own (its PEM) and a server certificate for [`HOST`] it signed.
fn certificates() -> (String, Arc<ServerConfig>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "sandbox-executor test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec![HOST.to_string()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, HOST);
    let server = server.signed_by(&key, &ca, &ca_key).unwrap();
    let chain = vec![server.der().clone(), CertificateDer::from(ca.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    (ca.pem(), Arc::new(config))
}

/// Accepts TCP connections and completes each one's TLS handshake; one that fails (a client
/// that does not trust the certificate) is dropped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            let handshake = tokio::time::timeout(Duration::from_secs(10), self.acceptor.accept(tcp));
            if let Ok(Ok(tls)) = handshake.await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `app` over TLS on 127.0.0.1: its port.
async fn serve_tls(app: Router, config: Arc<ServerConfig>) -> u16 {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener { tcp, acceptor: TlsAcceptor::from(config) };
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// The HTTPS index and a daemon that trusts its CA (`trusted`) or only the host's bundle;
/// its proxy maps [`HOST`] to 127.0.0.1 and may reach loopback.
async fn index_and_daemon(trusted: bool) -> Option<(u16, Daemon, tempfile::TempDir)> {
    let (ca_pem, config) = certificates();
    let port = serve_tls(index_routes(), config).await;
    let dir = common::fresh_dir("ca-");
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let ca_file = ca_file.display().to_string();
    let hosts = format!("{HOST}=127.0.0.1");
    let mut env = vec![("EGRESS_ALLOW_PRIVATE", "true"), ("EGRESS_HOSTS", hosts.as_str())];
    if trusted {
        env.push(("SANDBOX_EXTRA_CA_FILE", ca_file.as_str()));
    }
    let d = Daemon::start_with(&env).await;
    common::sandbox_or_skip(&d).await.then_some((port, d, dir))
}

/// Python that pip-installs `egresspkg` from the HTTPS index at `port`, printing pip's exit
/// code and the end of its output.
fn pip_install(port: u16) -> String {
    format!(
        "import subprocess, sys\n\
         r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--retries', '0', '--timeout', '30', \
         '--index-url', 'https://{HOST}:{port}/simple/', 'egresspkg'], capture_output=True, text=True)\n\
         print('pip exit', r.returncode)\nprint(r.stdout[-3000:], r.stderr[-3000:])\n"
    )
}

async fn session_call(d: &Daemon, id: &Value, code: &str) -> Value {
    let call = json!({"session_id": id, "code": code, "language": "python", "timeout": 120});
    let r = d.post("/session/execute", &call).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn pip_installs_over_https_from_an_index_whose_ca_the_operator_added() {
    let Some((port, d, _ca)) = index_and_daemon(true).await else { return };
    let created = d.post("/session/create", &json!({"egress": [format!("{HOST}:{port}")]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["session_id"].clone();
    let r = session_call(&d, &id, &pip_install(port)).await;
    assert!(common::text(&r, "stdout").starts_with("pip exit 0"), "{r}");
    let attempts = r["network"]["attempts"].as_array().cloned().unwrap_or_default();
    assert!(
        !attempts.is_empty() && attempts.iter().all(|a| a["method"] == "CONNECT" && a["host"] == HOST),
        "pip went through the door, tunnelled: {r}"
    );
    let r = session_call(&d, &id, "import egresspkg\nprint(egresspkg.VALUE)").await;
    assert_eq!(common::text(&r, "stdout"), "42\n", "{r}");
}

#[tokio::test]
async fn without_the_operators_ca_the_index_certificate_is_refused() {
    let Some((port, d, _ca)) = index_and_daemon(false).await else { return };
    let created = d.post("/session/create", &json!({"egress": [format!("{HOST}:{port}")]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let r = session_call(&d, &created.body["session_id"], &pip_install(port)).await;
    let out = common::text(&r, "stdout");
    assert!(!out.starts_with("pip exit 0"), "{r}");
    assert!(out.contains("CERTIFICATE_VERIFY_FAILED"), "verified against the host's bundle, which lacks the CA: {r}");
}

#[tokio::test]
async fn urllib_and_node_verify_https_through_the_door_in_one_shot_runs() {
    let Some((port, d, _ca)) = index_and_daemon(true).await else { return };
    let policy = json!([format!("{HOST}:{port}")]);
    let url = format!("https://{HOST}:{port}/simple/");
    let python = format!(
        "import urllib.request\nr = urllib.request.urlopen({url:?}, timeout=20)\nprint(r.status, b'egresspkg' in r.read())"
    );
    let r = d.execute(json!({"code": python, "language": "python", "egress": policy, "timeout": 60})).await;
    assert_eq!(common::text(&r, "stdout"), "200 True\n", "{r}");
    // Node's TLS through a CONNECT tunnel of the door: verified with NODE_EXTRA_CA_CERTS.
    let node = format!(
        "const http = require('http'), tls = require('tls');\n\
         module.exports.handler = () => new Promise((resolve) => {{\n\
           const tunnel = http.request({{host: '127.0.0.1', port: 3128, method: 'CONNECT', path: '{HOST}:{port}'}});\n\
           tunnel.on('connect', (_res, socket) => {{\n\
             const secure = tls.connect({{socket, servername: '{HOST}'}}, () => {{\n\
               resolve(secure.authorized ? 'verified' : String(secure.authorizationError)); secure.end();\n\
             }});\n\
             secure.on('error', (e) => resolve(String(e.code || e.message)));\n\
           }});\n\
           tunnel.on('error', (e) => resolve('tunnel: ' + e.message));\n\
           tunnel.end();\n\
         }});\n"
    );
    let r = d.execute(json!({"code": node, "language": "javascript", "egress": policy, "timeout": 60})).await;
    assert_eq!(r["return_value"], "verified", "{r}");
    assert_eq!(common::text(&r, "stderr"), "", "Node loads the bundle without a warning: {r}");
}

#[test]
fn a_daemon_given_a_ca_file_without_certificates_refuses_to_start_and_says_why() {
    let dir = common::fresh_dir("ca-");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "just text\n").unwrap();
    for (file, why) in [(dir.path().join("missing.pem"), "cannot read"), (not_pem, "holds no PEM certificate")] {
        let mut daemon = std::process::Command::new(common::BIN)
            .arg("serve")
            .env("EXECUTOR_PORT", common::free_port().to_string())
            .env("STATE_DIR", dir.path().join("state"))
            .env("SANDBOX_EXTRA_CA_FILE", &file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A daemon that started anyway is stopped, and the test fails below.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while daemon.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = daemon.kill();
        let out = daemon.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started with {}: {stderr}", file.display());
        assert!(stderr.contains("--extra-ca-file") && stderr.contains(why), "{stderr}");
    }
}
