//! The proxy against plain servers on the loopback: what a server gets, what the client gets
//! back (streamed, upgraded), the idle timeout and the caps.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

#[test]
fn host_names_give_port_and_sandbox() {
    let domain = "sbx.example.com";
    assert_eq!(host_target("8000-abc123.sbx.example.com", domain), Some((8000, "abc123".into())));
    assert_eq!(host_target("8000-ABC123.SBX.example.com:443", domain), Some((8000, "abc123".into())));
    assert_eq!(host_target("3000-node-1.abc.sbx.example.com.", domain), Some((3000, "node-1.abc".into())));
    for other in [
        "sbx.example.com",
        "api.sbx.example.com",
        "8000-.sbx.example.com",
        "0-abc.sbx.example.com",
        "70000-abc.sbx.example.com",
        "08000-abc.sbx.example.com",
        "8000-abc.xsbx.example.com",
        "8000-abc.example.com",
        "8000abc.sbx.example.com",
    ] {
        assert_eq!(host_target(other, domain), None, "{other}");
    }
    assert_eq!(PortOptions::default().with_domain(" .Sbx.Example.com. ").domain.as_deref(), Some(domain));
    assert_eq!(PortOptions::default().with_domain("").domain, None);
}

#[test]
fn path_forms_lose_their_prefix() {
    assert_eq!(rest_of_path("/session/s1/ports/8000/a/b?x=1&y=%2F", 4), "/a/b?x=1&y=%2F");
    assert_eq!(rest_of_path("/session/s1/ports/8000", 4), "/");
    assert_eq!(rest_of_path("/session/s1/ports/8000/", 4), "/");
    assert_eq!(rest_of_path("/session/s1/ports/8000?q", 4), "/?q");
    assert_eq!(rest_of_path("/e2b/ports/abc/80/x%20y/", 4), "/x%20y/");
}

#[test]
fn the_caps_count_sessions_and_tenants() {
    let connections = Connections::new(2, 3);
    let a1 = connections.try_open("a", "t").unwrap();
    let _a2 = connections.try_open("a", "t").unwrap();
    assert_eq!(connections.try_open("a", "t").err(), Some(Refused::Session(2)));
    let _b1 = connections.try_open("b", "t").unwrap();
    assert_eq!(connections.try_open("b", "t").err(), Some(Refused::Tenant(3)));
    assert!(connections.try_open("c", "other").is_ok());
    drop(a1);
    assert_eq!(connections.open_to("a"), 1);
    assert!(connections.try_open("b", "t").is_ok());
}

/// A proxy on the loopback forwarding every request to `target`, under `connections`.
async fn proxy_to(target: SocketAddr, idle: Duration, connections: Arc<Connections>) -> SocketAddr {
    let app = Router::new().fallback(move |request: Request| {
        let connections = Arc::clone(&connections);
        async move {
            let stream = TcpStream::connect(target).await.expect("target");
            let guard = connections.try_open("s", "t").expect("room");
            match forward(request, Upstream { stream, idle, guard }).await {
                Ok(answer) => answer,
                Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            }
        }
    });
    serve(app).await
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A server that answers `/echo` with the request's body and tells what it got, and
/// `/slow` with a first chunk at once and a second one much later.
async fn echo_server() -> SocketAddr {
    let app = Router::new().fallback(|request: Request| async move {
        let seen = |headers: &HeaderMap, name: &str| {
            headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("-").to_string()
        };
        let (parts, body) = request.into_parts();
        let told = format!(
            "{} {} host={} hop={} te={}",
            parts.method,
            parts.uri,
            seen(&parts.headers, "host"),
            seen(&parts.headers, "x-hop"),
            seen(&parts.headers, "transfer-encoding"),
        );
        if parts.uri.path() == "/slow" {
            let chunks = futures::stream::unfold(0, |n| async move {
                match n {
                    0 => Some((Ok::<_, std::io::Error>("first;"), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        Some((Ok("second"), 2))
                    }
                    _ => None,
                }
            });
            return Response::new(Body::from_stream(chunks));
        }
        Response::builder().header("x-told", told).body(body).expect("answer")
    });
    serve(app).await
}

#[tokio::test]
async fn requests_and_bodies_go_through() {
    let connections = Connections::new(8, 8);
    let proxy = proxy_to(echo_server().await, Duration::from_secs(10), Arc::clone(&connections)).await;
    let client = reqwest::Client::new();
    let body = vec![b'x'; 3 * 1024 * 1024];
    let answer = client
        .post(format!("http://{proxy}/echo?a=1"))
        .header("connection", "x-hop")
        .header("x-hop", "dropped")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(
            body.chunks(64 * 1024).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
        )))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    let told = answer.headers()["x-told"].to_str().unwrap().to_string();
    assert_eq!(told, format!("POST /echo?a=1 host={proxy} hop=- te=chunked"));
    assert_eq!(answer.bytes().await.expect("body").len(), body.len());
    assert_eq!(connections.open_to("s"), 0);
}

#[tokio::test]
async fn an_answer_streams_as_the_server_writes_it() {
    let connections = Connections::new(8, 8);
    let proxy = proxy_to(echo_server().await, Duration::from_secs(60), Arc::clone(&connections)).await;
    let mut answer = reqwest::get(format!("http://{proxy}/slow")).await.expect("answer");
    let first = tokio::time::timeout(Duration::from_secs(5), answer.chunk()).await.expect("first chunk in time");
    assert_eq!(first.expect("chunk").as_deref(), Some(&b"first;"[..]));
    // The answer is under way: it holds its place under the caps until it ends.
    assert_eq!(connections.open_to("s"), 1);
    drop(answer);
    wait_for(|| connections.open_to("s") == 0).await;
}

async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not done in 5 s");
}

/// A server that switches to echoing bytes back once asked to upgrade.
async fn upgrade_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let head = read_head(&mut stream).await;
                assert!(head.to_ascii_lowercase().contains("upgrade: echo"), "{head}");
                let switch = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n";
                stream.write_all(switch.as_bytes()).await.expect("101");
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).await.expect("read"), 1, "closed before the head ended");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn an_upgrade_is_spliced_both_ways() {
    let connections = Connections::new(8, 8);
    let proxy = proxy_to(upgrade_echo_server().await, Duration::from_secs(10), Arc::clone(&connections)).await;
    let mut client = TcpStream::connect(proxy).await.expect("connect");
    let ask = "GET /ws HTTP/1.1\r\nHost: box\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";
    client.write_all(ask.as_bytes()).await.expect("ask");
    let head = read_head(&mut client).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    for message in ["ping", "and again"] {
        client.write_all(message.as_bytes()).await.expect("send");
        let mut got = vec![0u8; message.len()];
        client.read_exact(&mut got).await.expect("echo");
        assert_eq!(got, message.as_bytes());
    }
    assert_eq!(connections.open_to("s"), 1);
    drop(client);
    wait_for(|| connections.open_to("s") == 0).await;
}

#[tokio::test]
async fn a_silent_server_is_given_up_after_the_idle_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let connections = Connections::new(8, 8);
    let proxy = proxy_to(target, Duration::from_millis(300), Arc::clone(&connections)).await;
    let started = std::time::Instant::now();
    let answer = reqwest::get(format!("http://{proxy}/")).await.expect("answer");
    assert_eq!(answer.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(answer.text().await.unwrap().contains("gave no answer"));
    assert_eq!(connections.open_to("s"), 0);
}
