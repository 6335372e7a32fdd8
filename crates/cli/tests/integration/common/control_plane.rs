//! A control plane stand-in: a real HTTP server on loopback that records every call of the
//! internal API and answers as the contract says (201 the first time a result arrives, 200 for
//! a duplicate with the same Idempotency-Key), or fails on purpose.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
    /// The body's text, as sent (a `Value` rounds integers past 64 bits).
    pub text: String,
}

#[derive(Default)]
struct Recorded {
    calls: Vec<Call>,
    /// Results accepted (answered 201), per execution id.
    accepted: HashMap<String, u32>,
    /// Result posts still to fail with 500.
    fail_results: u32,
    /// Refuse every result with 400 (a contract violation, not to be retried).
    reject_results: bool,
}

/// A loopback port that refuses every connection until a control plane starts on it, and
/// that nothing else can take meanwhile: bound, not yet listening. (A port merely found free
/// could be taken by another test's server while a daemon keeps calling it.)
pub struct ClosedPort(tokio::net::TcpSocket);

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket for the control plane");
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind the control plane's port");
        ClosedPort(socket)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.local_addr().expect("the control plane's port")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
}

#[derive(Clone)]
pub struct ControlPlane {
    recorded: Arc<Mutex<Recorded>>,
    pub addr: SocketAddr,
}

impl ControlPlane {
    /// Starts on a free loopback port.
    pub async fn start() -> ControlPlane {
        ControlPlane::start_on(ClosedPort::new()).await
    }

    /// Starts on `port` (to come up where a daemon already points). It runs on a thread and
    /// runtime of its own, so it keeps answering while a test blocks (a daemon's `Drop` waits
    /// for the daemon to exit, and the daemon reports its exit to this stand-in), until the test's
    /// process ends.
    pub async fn start_on(port: ClosedPort) -> ControlPlane {
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let app = Router::new()
            .route("/api/v1/internal/executions/{id}/result", post(result))
            .route("/api/v1/internal/executions/{id}/heartbeat", post(other))
            .route("/api/v1/internal/containers/{event}", post(other))
            .with_state(recorded.clone());
        let addr = port.addr();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = port.0.listen(1024).expect("listen on the control plane's port");
                let _ = axum::serve(listener, app).await;
            });
        });
        ControlPlane { recorded, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `n` result posts answer 500.
    pub fn fail_next_results(&self, n: u32) {
        self.recorded.lock().unwrap().fail_results = n;
    }

    /// Every result post from now on answers 400.
    pub fn reject_results(&self) {
        self.recorded.lock().unwrap().reject_results = true;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.recorded.lock().unwrap().calls.clone()
    }

    pub fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.path.ends_with(suffix)).collect()
    }

    /// How many times each execution's result was accepted (201).
    pub fn accepted(&self) -> HashMap<String, u32> {
        self.recorded.lock().unwrap().accepted.clone()
    }

    /// Waits until `done` holds, at most `within`.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&ControlPlane) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        done(self)
    }
}

fn record<'a>(
    state: &'a Mutex<Recorded>,
    path: String,
    headers: &HeaderMap,
    body: &Bytes,
) -> std::sync::MutexGuard<'a, Recorded> {
    let headers = headers.iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let text = String::from_utf8_lossy(body).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    let mut recorded = state.lock().unwrap();
    recorded.calls.push(Call { path, headers, body, text });
    recorded
}

async fn result(
    State(state): State<Arc<Mutex<Recorded>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut recorded = record(&state, format!("/api/v1/internal/executions/{id}/result"), &headers, &body);
    if recorded.fail_results > 0 {
        recorded.fail_results -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if recorded.reject_results {
        return StatusCode::BAD_REQUEST;
    }
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if key != id {
        return StatusCode::BAD_REQUEST;
    }
    let count = recorded.accepted.entry(id).or_insert(0);
    if *count > 0 {
        return StatusCode::OK;
    }
    *count += 1;
    StatusCode::CREATED
}

async fn other(
    State(state): State<Arc<Mutex<Recorded>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let _recorded = record(&state, uri.path().to_string(), &headers, &body);
    StatusCode::OK
}
