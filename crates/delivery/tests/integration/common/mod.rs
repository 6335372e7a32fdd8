//! A stand-in control plane (a real HTTP server on loopback that records every request and
//! answers from a script), a real store on a temporary directory, and results to deliver.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use delivery::ControlPlaneConfig;
use executor::{
    Artifact, ExactJson, ExecutionRecorder, ExecutionResult, ExecutionStatus, Metrics, ProcessStatus,
    TerminationReason, Truncated,
};
use serde_json::Value;
use store::Store;
use tokio::net::TcpListener;

pub const TOKEN: &str = "test-token";

/// Every result's return value: integers past 64 bits, which must arrive with every digit.
pub const RETURN_VALUE: &str = r#"{"answer":42,"big":1000000000000000000000000000000,"neg":-1180591620717411303424}"#;

/// One answer of the stand-in.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// How long the stand-in thinks before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: format!("{{\"message\":\"answer {status}\"}}"),
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_body(mut self, body: &str) -> Reply {
        self.body = body.to_owned();
        self
    }
}

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body's text, as sent.
    pub text: String,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Default)]
struct Script {
    next: VecDeque<Reply>,
    then: Option<Reply>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    script: Arc<Mutex<Script>>,
}

impl StandIn {
    /// Answers `first` in order, then `then` for ever (until the test's runtime ends).
    pub async fn start(first: Vec<Reply>, then: Reply) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        StandIn::serve(listener, first, then)
    }

    /// The same on a listener the test bound (to come up on a port known in advance).
    pub fn serve(listener: TcpListener, first: Vec<Reply>, then: Reply) -> StandIn {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(Script { next: first.into(), then: Some(then), received: Vec::new() }));
        let app = Router::new().fallback(answer).with_state(script.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        StandIn { url, script }
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    pub fn received_on(&self, suffix: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path.ends_with(suffix)).collect()
    }
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let reply = {
        let mut script = script.lock().unwrap();
        script.received.push(Received {
            path: uri.path().to_owned(),
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let then = script.then.clone().unwrap();
        script.next.pop_front().unwrap_or(then)
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Settings for tests: quick backoff, short timeouts, the fallback files in `dir`.
pub fn config(url: &str, dir: &Path) -> ControlPlaneConfig {
    let mut config = ControlPlaneConfig::new(url);
    config.token = Some(TOKEN.to_owned());
    config.backoff_initial = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(200);
    config.request_timeout = Duration::from_secs(2);
    config.heartbeat_interval = Duration::from_millis(200);
    config.fallback_dir = Some(dir.join("results"));
    config.container_id = "container-1".to_owned();
    config.pod_name = "pod-1".to_owned();
    config.executor_port = 8080;
    config
}

pub fn open_store(dir: &Path) -> Arc<Store> {
    Arc::new(Store::open(&dir.join("store.db"), true).unwrap())
}

pub fn result(execution_id: &str, status: ExecutionStatus) -> ExecutionResult {
    let killed = status == ExecutionStatus::Killed;
    ExecutionResult {
        execution_id: execution_id.to_owned(),
        status,
        process_status: if status == ExecutionStatus::Success {
            ProcessStatus::Completed
        } else {
            ProcessStatus::Error
        },
        termination_reason: killed.then_some(TerminationReason::Signal),
        stdout: "hello\n".to_owned(),
        stderr: String::new(),
        exit_code: if killed { 137 } else { 0 },
        execution_time: 0.25,
        return_value: Some(ExactJson::parse(RETURN_VALUE).expect("valid JSON")),
        error: None,
        metrics: Metrics {
            duration_ms: 250.0,
            cpu_time_ms: 120.5,
            peak_memory_mb: 12.0,
            path: Default::default(),
            phases: None,
        },
        artifacts: vec![Artifact {
            path: "out/report.csv".to_owned(),
            size: 10,
            mime_type: "text/csv".to_owned(),
            sha256: "ab".repeat(32),
            kind: "text/csv".to_owned(),
            name: "report".to_owned(),
            content: Some("YSxiCjEsMgo=".to_owned()),
        }],
        truncated: Truncated::default(),
        isolation: Vec::new(),
        network: None,
    }
}

/// Commits a result (and its outbox entry) as the executor does.
pub fn commit(store: &Store, execution_id: &str, status: ExecutionStatus) {
    store.finished(&result(execution_id, status)).unwrap();
}

/// Waits until `check` holds, for at most `within`.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

pub fn pending(store: &Store) -> u64 {
    store.counts().unwrap().pending
}
