//! Reading what a run asks its proxy: `CONNECT host:port`, or a plain HTTP request with an
//! absolute URI (`GET http://host[:port]/path`), within a bounded head.

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Largest request head (request line and headers) the proxy reads.
pub const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
/// Headers that are the proxy's, never the destination's.
const HOP_BY_HOP: [&str; 4] = ["proxy-connection", "proxy-authorization", "connection", "keep-alive"];

/// A request the proxy understood.
#[derive(Debug)]
pub struct ProxyRequest {
    pub method: String,
    /// Lowercase, without a trailing dot; an address literal keeps its text (the policy,
    /// which lists names only, never admits one).
    pub host: String,
    pub port: u16,
    /// What goes to the destination first: nothing for CONNECT (the client speaks once it
    /// hears 200), else the request head in origin form, asking the server to close after
    /// its answer (so that one connection carries requests to one destination only).
    pub head: Vec<u8>,
    /// Bytes the client sent after its head.
    pub rest: Vec<u8>,
}

impl ProxyRequest {
    pub fn is_connect(&self) -> bool {
        self.method == "CONNECT"
    }
}

/// What is wrong with a request; its text is the proxy's answer to the client.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("reading the request: {0}")]
    Read(std::io::Error),
    #[error("the connection closed before a complete request")]
    Closed,
    #[error("the request head is larger than {MAX_HEAD} bytes")]
    TooLarge,
    #[error("not an HTTP proxy request ({0})")]
    NotHttp(httparse::Error),
    #[error("a proxy request needs an absolute http:// URI (use CONNECT for https)")]
    NotAbsolute,
    #[error("credentials in the URI are not accepted")]
    Credentials,
    #[error("the port must be 1 to 65535")]
    Port,
    #[error("CONNECT needs host:port")]
    NoPort,
    #[error("the request names no host")]
    NoHost,
}

/// Reads one request head; `Err` says (to the client) what is wrong with it.
pub async fn read(client: &mut TcpStream) -> Result<ProxyRequest, RequestError> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).await.map_err(RequestError::Read)?;
        if n == 0 {
            return Err(RequestError::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => return understand(&req, &buf[len..]),
            Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(RequestError::TooLarge),
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(RequestError::NotHttp(e)),
        }
    }
}

fn understand(req: &httparse::Request<'_, '_>, rest: &[u8]) -> Result<ProxyRequest, RequestError> {
    let method = req.method.unwrap_or_default().to_owned();
    let target = req.path.unwrap_or_default();
    if method == "CONNECT" {
        let (host, port) = authority(target, None)?;
        return Ok(ProxyRequest { method, host, port, head: Vec::new(), rest: rest.to_vec() });
    }
    let lower = target.get(..7).map(str::to_ascii_lowercase);
    if lower.as_deref() != Some("http://") {
        return Err(RequestError::NotAbsolute);
    }
    let after = &target[7..];
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (host, port) = authority(&after[..end], Some(80))?;
    let origin = match &after[end..] {
        "" => "/".to_owned(),
        path if path.starts_with('/') => path.to_owned(),
        query => format!("/{query}"),
    };
    let mut head = format!("{method} {origin} HTTP/1.{}\r\n", req.version.unwrap_or(1)).into_bytes();
    for header in req.headers.iter().filter(|h| !HOP_BY_HOP.contains(&h.name.to_ascii_lowercase().as_str())) {
        head.extend_from_slice(header.name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(header.value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(ProxyRequest { method, host, port, head, rest: rest.to_vec() })
}

/// `host:port` (the port required unless there is a default), `[v6]:port` too.
fn authority(text: &str, default_port: Option<u16>) -> Result<(String, u16), RequestError> {
    if text.contains('@') {
        return Err(RequestError::Credentials);
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (text, None),
    };
    let port = match (port, default_port) {
        (Some(port), _) => port.parse::<u16>().ok().filter(|p| *p > 0).ok_or(RequestError::Port)?,
        (None, Some(port)) => port,
        (None, None) => return Err(RequestError::NoPort),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err(RequestError::NoHost);
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_parse_with_and_without_ports() {
        assert_eq!(authority("Pypi.Org.:443", None).unwrap(), ("pypi.org".into(), 443));
        assert_eq!(authority("example.com", Some(80)).unwrap(), ("example.com".into(), 80));
        assert_eq!(authority("[::1]:8080", None).unwrap(), ("::1".into(), 8080));
        assert!(authority("example.com", None).is_err());
        assert!(authority("user:pw@example.com:80", None).is_err());
        assert!(authority(":80", None).is_err());
    }

    #[test]
    fn a_plain_request_is_rewritten_to_origin_form() {
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut req = httparse::Request::new(&mut headers);
        let raw = b"GET http://a.test:8000/x?y=1 HTTP/1.1\r\nHost: a.test\r\nProxy-Connection: keep-alive\r\n\r\nbody";
        let len = match req.parse(raw).unwrap() {
            httparse::Status::Complete(len) => len,
            httparse::Status::Partial => panic!("partial"),
        };
        let parsed = understand(&req, &raw[len..]).unwrap();
        assert_eq!((parsed.host.as_str(), parsed.port), ("a.test", 8000));
        assert_eq!(
            String::from_utf8(parsed.head).unwrap(),
            "GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(parsed.rest, b"body");
    }
}
