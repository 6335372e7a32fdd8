//! One connection through a run's door: read what it asks, decide, connect, relay. A refused
//! destination gets an explicit answer (403, or 400 for what is not a proxy request), never
//! a connection that looks as if it succeeded. No TLS is opened: CONNECT relays bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ledger::Entry;
use super::open::{Full, OpenSlot};
use super::report::NetworkAttempt;
use super::request::{self, ProxyRequest};
use super::{address, RunDoor};

const CHUNK: usize = 16 * 1024;
/// What the proxy reads and drops after its own answer, at most.
const DRAIN_BYTES: usize = 1 << 20;
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// The drain of a refusal for too many open connections: short, since its descriptor is
/// what the limit spares.
const FULL_DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Serves one connection the run's door handed over, to its end.
pub(super) async fn serve(mut client: TcpStream, run: Arc<RunDoor>) {
    let attempt = |host: &str, port: u16, method: &str, reason: Option<String>| NetworkAttempt {
        host: host.to_owned(),
        port,
        method: method.to_owned(),
        allowed: reason.is_none(),
        reason,
        ..NetworkAttempt::default()
    };
    if !run.ledger.connection() {
        run.ledger.record(attempt("", 0, "", Some("the run's connection limit is passed".into())));
        return answer(&mut client, "429 Too Many Requests", "the run's connection limit is passed").await;
    }
    // Counted open until this connection ends; refused at once, before its request is read,
    // when the run or the daemon has as many open as it may.
    let _open = match OpenSlot::take(&run) {
        Ok(slot) => slot,
        Err(Full { status, why }) => {
            run.ledger.record(attempt("", 0, "", Some(why.clone())));
            return answer_within(&mut client, status, &why, FULL_DRAIN_WAIT).await;
        }
    };
    let req = match tokio::time::timeout(run.config.handshake_timeout, request::read(&mut client)).await {
        Ok(Ok(req)) => req,
        Ok(Err(why)) => {
            let why = why.to_string();
            run.ledger.record(attempt("", 0, "", Some(why.clone())));
            return answer(&mut client, "400 Bad Request", &why).await;
        }
        Err(_) => {
            let why = "the request did not arrive in time".to_owned();
            run.ledger.record(attempt("", 0, "", Some(why.clone())));
            return answer(&mut client, "408 Request Timeout", &why).await;
        }
    };
    let target = match decide(&run, &req).await {
        Ok(target) => target,
        Err(why) => {
            let why = why.to_string();
            run.ledger.record(attempt(&req.host, req.port, &req.method, Some(why.clone())));
            return answer(&mut client, "403 Forbidden", &why).await;
        }
    };
    let entry = run.ledger.record(attempt(&req.host, req.port, &req.method, None));
    let connect = tokio::time::timeout(run.config.handshake_timeout, TcpStream::connect(target)).await;
    let upstream = match connect {
        Ok(Ok(upstream)) => {
            // The code's bytes go on as they come: no wait for a delayed ACK on small writes.
            let _ = upstream.set_nodelay(true);
            upstream
        }
        Ok(Err(e)) => return fail(&run, entry, &mut client, format!("cannot connect: {e}")).await,
        Err(_) => return fail(&run, entry, &mut client, "the destination did not answer in time".into()).await,
    };
    relay(client, upstream, req, &run, entry).await;
}

/// A connection the daemon had no descriptor for (the kernel closed it): counted and listed
/// like any refusal, so that the run's result says why it failed.
pub(super) fn lost(run: &RunDoor, e: &std::io::Error) {
    tracing::warn!(execution_id = %run.ledger.execution_id, error = %e, "an egress connection was lost: the server is out of descriptors");
    run.ledger.connection();
    let why = format!("the server is out of descriptors ({e}); the connection was closed");
    run.ledger.record(NetworkAttempt { reason: Some(why), ..NetworkAttempt::default() });
}

/// Why an understood request may not go anywhere; its text is the proxy's answer.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("{host}:{port} is not in the run's egress allowlist")]
    NotAllowed { host: String, port: u16 },
    #[error("{host} does not resolve: {source}")]
    Unresolved { host: String, source: std::io::Error },
    #[error("{0} did not resolve in time")]
    Slow(String),
    #[error("{0} has no address")]
    NoAddress(String),
    #[error("{host}: {why}")]
    Address { host: String, why: String },
}

/// Where an allowed request goes: the first address of its name the configuration lets the
/// proxy reach, or why it may not go anywhere.
async fn decide(run: &RunDoor, req: &ProxyRequest) -> Result<SocketAddr, Refused> {
    if !run.policy.admits(&req.host, req.port) {
        return Err(Refused::NotAllowed { host: req.host.clone(), port: req.port });
    }
    let addresses: Vec<SocketAddr> = match run.config.hosts.get(&req.host) {
        Some(ip) => vec![SocketAddr::new(*ip, req.port)],
        None => {
            let lookup = tokio::net::lookup_host((req.host.as_str(), req.port));
            match tokio::time::timeout(run.config.handshake_timeout, lookup).await {
                Ok(Ok(found)) => found.collect(),
                Ok(Err(source)) => return Err(Refused::Unresolved { host: req.host.clone(), source }),
                Err(_) => return Err(Refused::Slow(req.host.clone())),
            }
        }
    };
    let mut why = Refused::NoAddress(req.host.clone());
    for addr in addresses {
        let denied = run.policy.denied(addr.ip()).map(|r| format!("the address is in the denied range {r}"));
        match address::refusal(addr, run.config.allow_private, &run.config.never).map(str::to_owned).or(denied) {
            None => return Ok(addr),
            Some(refused) => why = Refused::Address { host: req.host.clone(), why: refused },
        }
    }
    Err(why)
}

async fn fail(run: &RunDoor, entry: Entry, client: &mut TcpStream, why: String) {
    run.ledger.failed(entry, why.clone());
    answer(client, "502 Bad Gateway", &why).await;
}

/// The proxy's own answer, closing the connection.
async fn answer(client: &mut TcpStream, status: &str, why: &str) {
    answer_within(client, status, why, DRAIN_WAIT).await
}

/// [`answer`], reading what the client still sends for `drain_wait` at most.
async fn answer_within(client: &mut TcpStream, status: &str, why: &str, drain_wait: std::time::Duration) {
    let body = format!("sandbox egress: {why}\n");
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Sandbox-Egress: refused\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = client.write_all(text.as_bytes()).await;
    let _ = client.shutdown().await;
    // What the client still sends is read and dropped for a moment: closing with it unread
    // would reset the connection, and the client might lose the answer.
    let drain = async {
        let (mut sink, mut total) = ([0u8; 8192], 0usize);
        while total < DRAIN_BYTES {
            match client.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(drain_wait, drain).await;
}

/// Relays both ways, counting every byte, until both sides are done, the run passes a
/// limit, or the run ends (its door closes and takes this task with it).
async fn relay(mut client: TcpStream, mut upstream: TcpStream, req: ProxyRequest, run: &RunDoor, entry: Entry) {
    if req.is_connect() && client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
        return;
    }
    let first = [req.head, req.rest].concat();
    if !first.is_empty() && !forward(&first, &mut upstream, run, entry, true).await {
        return;
    }
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let up = pump(client_read, upstream_write, run, entry, true);
    let down = pump(upstream_read, client_write, run, entry, false);
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = run.cut.cancelled() => {}
    }
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWrite + Unpin,
    run: &RunDoor,
    entry: Entry,
    up: bool,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !forward(&buf[..n], &mut to, run, entry, up).await {
            return;
        }
    }
    let _ = to.shutdown().await;
}

/// Counts `bytes` and passes them on; `false` when they may not go (a limit) or could not.
async fn forward(bytes: &[u8], to: &mut (impl AsyncWrite + Unpin), run: &RunDoor, entry: Entry, up: bool) -> bool {
    let n = bytes.len() as u64;
    let within = if up { run.ledger.moved(entry, n, 0) } else { run.ledger.moved(entry, 0, n) };
    within && to.write_all(bytes).await.is_ok()
}
