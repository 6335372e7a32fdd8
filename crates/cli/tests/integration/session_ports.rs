//! A server started as a process of a session's box is reached through `/session/{id}/ports/{port}/...`:
//! the prefix removed, the query kept, bodies both ways, the daemon's own headers kept from
//! it; another tenant does not find the session; a port nothing listens on is 502; once the
//! session is destroyed, its ports are gone.

use serde_json::{json, Value};

use crate::common::{self, Daemon};

const PORT: u16 = 8767;

/// A server, a background process of the session's box: GET tells what it got, POST the size
/// of the body.
const SERVER: &str = r#"
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, text):
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.answer(f"GET {self.path} tenant={self.headers.get('X-Tenant-ID')}")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(f"POST {len(body)} {body[:3].decode()}")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 8767), Handler).serve_forever()
"#;

async fn request(d: &Daemon, method: reqwest::Method, tenant: &str, path: &str, body: Vec<u8>) -> (u16, String) {
    let url = format!("{}{path}", d.base);
    let response = d.client().request(method, url).header("X-Tenant-ID", tenant).body(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_server_in_a_session_answers_through_the_daemon() {
    let Some(d) = common::sandboxed().await else { return };
    let created = d.client().post(format!("{}/session/create", d.base)).header("X-Tenant-ID", "t1").json(&json!({}));
    let created: Value = created.send().await.unwrap().json().await.unwrap();
    let id = created["session_id"].as_str().unwrap_or_else(|| panic!("{created}")).to_string();
    let start = json!({"argv": ["python3", "-c", SERVER]});
    let started =
        d.client().post(format!("{}/session/{id}/processes", d.base)).header("X-Tenant-ID", "t1").json(&start);
    let started = started.send().await.unwrap();
    assert_eq!(started.status(), 201, "{}", started.text().await.unwrap());
    let get = reqwest::Method::GET;
    let path = format!("/session/{id}/ports/{PORT}/a/b?c=d");
    let mut got = (0, String::new());
    // The server takes a moment to listen: until then the port is unavailable (502).
    for _ in 0..100 {
        got = request(&d, get.clone(), "t1", &path, Vec::new()).await;
        if got.0 != 502 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(got, (200, "GET /a/b?c=d tenant=None".to_string()));
    let got = request(&d, get.clone(), "t1", &format!("/session/{id}/ports/{PORT}"), Vec::new()).await;
    assert_eq!(got, (200, "GET / tenant=None".to_string()));
    let body = vec![b'z'; 2 * 1024 * 1024];
    let posted = request(&d, reqwest::Method::POST, "t1", &format!("/session/{id}/ports/{PORT}/up"), body).await;
    assert_eq!(posted, (200, format!("POST {} zzz", 2 * 1024 * 1024)));
    // Another tenant: no such session.
    let (status, text) = request(&d, get.clone(), "t2", &format!("/session/{id}/ports/{PORT}/"), Vec::new()).await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("Executor.NotFound"), "{text}");
    // Nothing listens there.
    let (status, text) = request(&d, get.clone(), "t1", &format!("/session/{id}/ports/8799/"), Vec::new()).await;
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("Executor.PortUnavailable"), "{text}");
    let destroyed = d.post("/session/destroy", &json!({"session_id": id, "tenant_id": "t1"})).await;
    assert_eq!(destroyed.status, 200, "{}", destroyed.body);
    let (status, text) = request(&d, get, "t1", &format!("/session/{id}/ports/{PORT}/"), Vec::new()).await;
    assert_eq!(status, 404, "{text}");
}
