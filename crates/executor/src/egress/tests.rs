//! The daemon's side of the door in-process: connections handed over the door's socket as a
//! launcher hands them, served by the proxy against an origin on loopback.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{Door, EgressConfig, EgressPolicy};

/// An origin on 127.0.0.1 that answers every request with `ok`.
async fn origin() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
        }
    });
    port
}

fn config(max_connections: u64) -> Arc<EgressConfig> {
    let hosts = BTreeMap::from([("origin.test".to_owned(), "127.0.0.1".parse().unwrap())]);
    Arc::new(EgressConfig { allow_private: true, hosts, max_connections, ..EgressConfig::default() })
}

/// A client connection whose other end goes through `launcher` as the launcher hands it.
async fn connect_through(launcher: &OwnedFd) -> TcpStream {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    sandbox::handoff::send(launcher.as_fd(), b"c", &[accepted.as_fd()]).unwrap();
    client.set_nonblocking(true).unwrap();
    TcpStream::from_std(client).unwrap()
}

async fn exchange(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_allowed_host_is_relayed_and_another_refused_and_both_are_listed() {
    let port = origin().await;
    let policy = EgressPolicy::parse(&[format!("origin.test:{port}")]).unwrap().unwrap();
    let (door, launcher) = Door::open(&policy, config(10), "t", CancellationToken::new()).unwrap();
    let mut plain = connect_through(&launcher).await;
    let answer = exchange(&mut plain, &format!("GET http://origin.test:{port}/x HTTP/1.1\r\nHost: o\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("ok"), "{answer}");
    let mut refused = connect_through(&launcher).await;
    let answer = exchange(&mut refused, "CONNECT other.test:443 HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden") && answer.contains("not in the run's egress allowlist"));
    let report = door.close();
    let seen: Vec<(&str, bool)> = report.attempts.iter().map(|a| (a.host.as_str(), a.allowed)).collect();
    assert_eq!(seen, [("origin.test", true), ("other.test", false)]);
    assert!(report.attempts[0].bytes_sent > 0 && report.attempts[0].bytes_received > 0);
    assert_eq!(report.connections, 2);
}

#[tokio::test]
async fn one_connection_too_many_stops_the_run() {
    let port = origin().await;
    let policy = EgressPolicy::parse(&[format!("origin.test:{port}")]).unwrap().unwrap();
    let cut = CancellationToken::new();
    let (door, launcher) = Door::open(&policy, config(1), "t", cut.clone()).unwrap();
    let mut first = connect_through(&launcher).await;
    let answer = exchange(&mut first, &format!("GET http://origin.test:{port}/ HTTP/1.1\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!cut.is_cancelled());
    let mut second = connect_through(&launcher).await;
    let answer = exchange(&mut second, &format!("GET http://origin.test:{port}/ HTTP/1.1\r\n\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(cut.is_cancelled(), "passing the limit stops the run");
    assert_eq!(door.close().limit_exceeded.as_deref(), Some("connections"));
}

/// The first line the proxy answers on `stream` after `request`.
async fn status_line(stream: &mut TcpStream, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn open_connections_are_capped_per_run_and_per_daemon_and_freed_when_they_end() {
    let port = origin().await;
    let policy = EgressPolicy::parse(&[format!("origin.test:{port}")]).unwrap().unwrap();
    let config = Arc::new(EgressConfig { max_open_per_run: 1, max_open: 2, ..(*config(100)).clone() });
    let connect = format!("CONNECT origin.test:{port} HTTP/1.1\r\n\r\n");
    let (door, launcher) = Door::open(&policy, config.clone(), "a", CancellationToken::new()).unwrap();
    let mut held = connect_through(&launcher).await;
    assert!(status_line(&mut held, &connect).await.starts_with("HTTP/1.1 200"));
    let mut refused = connect_through(&launcher).await;
    let line = status_line(&mut refused, &connect).await;
    assert!(line.starts_with("HTTP/1.1 429"), "the run's own cap: {line}");
    let (other, other_launcher) = Door::open(&policy, config.clone(), "b", CancellationToken::new()).unwrap();
    let mut second = connect_through(&other_launcher).await;
    assert!(status_line(&mut second, &connect).await.starts_with("HTTP/1.1 200"));
    let (third, third_launcher) = Door::open(&policy, config.clone(), "c", CancellationToken::new()).unwrap();
    let mut over = connect_through(&third_launcher).await;
    let line = status_line(&mut over, &connect).await;
    assert!(line.starts_with("HTTP/1.1 503"), "the daemon's cap: {line}");
    assert_eq!(config.open.now(), 2);
    let report = door.close();
    assert_eq!(report.peak_open, 1);
    assert!(report.attempts[1].reason.as_deref().unwrap().contains("1 connections open"), "{report:?}");
    drop((other, third));
    for _ in 0..100 {
        if config.open.now() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{} connections still counted open after their doors closed", config.open.now());
}
