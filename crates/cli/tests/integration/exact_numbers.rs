//! A return value's integers past 2^53 and 64 bits come back with every digit on every route
//! that carries one: `POST /execute` (cold and forked or pre-started), `GET /executions/{id}`,
//! a session cell, and the result body the control plane receives. Answers are read as text:
//! parsing them into a `serde_json::Value` would round those integers again.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::control_plane::ControlPlane;
use crate::common::Daemon;
use serde_json::{json, Value};

/// 10**30, 2**64 and -2**70 as JSON writes them.
const E30: &str = "1000000000000000000000000000000";
const U64: &str = "18446744073709551616";
const NEG70: &str = "-1180591620717411303424";

const PY_HANDLER: &str = "def handler(event):\n    \
    return {'e30': 10**30, 'u64': 2**64, 'neg': -2**70, 'nested': [10**30, {'u64': 2**64}], \
    'tenth': 0.1, 'huge': 1e300}";

/// Status and body text of a request.
async fn send(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

async fn execute_text(d: &Daemon, body: Value) -> String {
    let (status, text) = send(d.client().post(format!("{}/execute", d.base)).json(&body)).await;
    assert_eq!(status, 200, "{body}: {text}");
    text
}

/// `text` (a JSON document) holds `"key":digits` exactly, not rounded to a float.
#[track_caller]
fn assert_exact(text: &str, key: &str, digits: &str) {
    let exact = format!("\"{key}\":{digits}");
    let whole = [",", "}", "]"].iter().any(|end| text.contains(&format!("{exact}{end}")));
    assert!(whole, "{exact} is not in {text}");
}

/// The Python handler's value, exact: every integer as text, the floats as the same f64.
#[track_caller]
fn assert_python_value(text: &str) {
    assert_exact(text, "e30", E30);
    assert_exact(text, "u64", U64);
    assert_exact(text, "neg", NEG70);
    assert_exact(text, "nested", &format!("[{E30},{{\"u64\":{U64}}}]"));
    let r: Value = serde_json::from_str(text).expect("JSON");
    let value = r.get("result").unwrap_or(&r)["return_value"].clone();
    assert_eq!((value["tenth"].as_f64(), value["huge"].as_f64()), (Some(0.1), Some(1e300)), "{text}");
}

fn path_of(text: &str) -> String {
    let r: Value = serde_json::from_str(text).expect("JSON");
    r["metrics"]["path"].as_str().unwrap_or_default().to_owned()
}

/// Waits until the daemon has a pre-started sandbox or zygote for `language`.
async fn until_ready(d: &Daemon, language: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let info = d.get("/info").await.body;
        let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
        let ready = pools.iter().any(|p| p["language"] == language && p["template"].is_null() && p["ready"] != 0);
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "no ready {language} sandbox after 180 s: {info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn python_integers_past_64_bits_come_back_exact_everywhere() {
    let cp = ControlPlane::start().await;
    let url = cp.url();
    let d = Daemon::start_with(&[("CONTROL_PLANE_URL", &url), ("INTERNAL_API_TOKEN", "cp-token")]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let cold = json!({"code": PY_HANDLER, "language": "python", "execution_id": "exact-cold", "warm": false});
    let text = execute_text(&d, cold).await;
    assert_eq!(path_of(&text), "cold", "{text}");
    assert_python_value(&text);

    until_ready(&d, "python").await;
    let warm = json!({"code": PY_HANDLER, "language": "python", "execution_id": "exact-warm"});
    let text = execute_text(&d, warm).await;
    assert!(["forked", "prebuilt"].contains(&path_of(&text).as_str()), "{text}");
    assert_python_value(&text);

    // Top-level values too.
    for (code, digits) in [("10**30", E30), ("2**64", U64), ("-2**70", NEG70)] {
        let body = json!({"code": format!("def handler(event):\n    return {code}"), "language": "python"});
        assert_exact(&execute_text(&d, body).await, "return_value", digits);
    }

    for id in ["exact-cold", "exact-warm"] {
        let (status, text) = send(d.client().get(format!("{}/executions/{id}", d.base))).await;
        assert_eq!(status, 200, "{text}");
        assert_python_value(&text);
    }

    let delivered = cp.wait_for(Duration::from_secs(20), |cp| cp.accepted().contains_key("exact-warm")).await;
    assert!(delivered, "{:?}", cp.calls());
    for id in ["exact-cold", "exact-warm"] {
        let call = cp.calls_to(&format!("/executions/{id}/result")).remove(0);
        assert_python_value(&call.text);
    }
}

#[tokio::test]
async fn javascript_bigints_past_64_bits_come_back_exact() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "module.exports.handler = () => ({big: 2n ** 70n, neg: -(2n ** 70n), nested: [10n ** 30n]});";
    let check = |text: &str| {
        assert_exact(text, "big", &NEG70[1..]);
        assert_exact(text, "neg", NEG70);
        assert_exact(text, "nested", &format!("[{E30}]"));
    };
    let text = execute_text(&d, json!({"code": code, "language": "javascript", "warm": false})).await;
    assert_eq!(path_of(&text), "cold", "{text}");
    check(&text);
    until_ready(&d, "javascript").await;
    let text = execute_text(&d, json!({"code": code, "language": "javascript"})).await;
    assert_eq!(path_of(&text), "warm", "{text}");
    check(&text);
    let top = json!({"code": "module.exports.handler = () => 2n ** 70n;", "language": "javascript"});
    assert_exact(&execute_text(&d, top).await, "return_value", &NEG70[1..]);
}

/// The answer's text of one session cell.
async fn cell(d: &Daemon, id: &str, language: &str, code: &str) -> String {
    let body = json!({"session_id": id, "code": code, "language": language});
    let (status, text) = send(d.client().post(format!("{}/session/execute", d.base)).json(&body)).await;
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test]
async fn session_cells_integers_come_back_exact() {
    let Some(d) = common::sandboxed().await else { return };
    let created = d.post("/session/create", &json!({})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["session_id"].as_str().unwrap().to_owned();
    let python = "{'e30': 10**30, 'u64': 2**64, 'neg': -2**70, 'nested': [10**30, {'u64': 2**64}], \
                  'tenth': 0.1, 'huge': 1e300}";
    assert_python_value(&cell(&d, &id, "python", python).await);
    assert_exact(&cell(&d, &id, "python", "-2**70").await, "return_value", NEG70);

    let text = cell(&d, &id, "javascript", "({big: 2n ** 70n, nested: [10n ** 30n, 'text']})").await;
    assert_exact(&text, "big", &NEG70[1..]);
    assert_exact(&text, "nested", &format!("[{E30},\"text\"]"));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert!(common::text(&r, "display").contains("big: 1180591620717411303424n"), "{r}");
    assert_exact(&cell(&d, &id, "javascript", "-(2n ** 70n)").await, "return_value", NEG70);
    // What is not JSON still has no value; plain values are as before.
    let r: Value = serde_json::from_str(&cell(&d, &id, "javascript", "(() => 1)").await).unwrap();
    assert_eq!((r["return_value"].clone(), r["display"].clone()), (Value::Null, json!("[Function (anonymous)]")));
    let r: Value = serde_json::from_str(&cell(&d, &id, "javascript", "({n: 1.5, s: 'a\\nb'})").await).unwrap();
    assert_eq!(r["return_value"], json!({"n": 1.5, "s": "a\nb"}), "{r}");
}

/// Python code whose value is `1` inside `levels` lists.
fn nested(levels: usize) -> String {
    format!("v = 1\nfor _ in range({levels}):\n    v = [v]\n")
}

#[tokio::test]
async fn a_value_may_nest_126_levels_and_no_deeper() {
    let Some(d) = common::sandboxed().await else { return };
    let exact = format!("\"return_value\":{}1{}", "[".repeat(126), "]".repeat(126));
    let handler = |levels| format!("def handler(event):\n    {}\n    return v", nested(levels).replace('\n', "\n    "));
    let text = execute_text(&d, json!({"code": handler(126), "language": "python"})).await;
    assert!(text.contains(&exact), "{text}");
    let r: Value = serde_json::from_str(&text).expect("a client reads it");
    assert_eq!(r["status"], "success", "{r}");

    let r: Value = serde_json::from_str(&execute_text(&d, json!({"code": handler(127), "language": "python"})).await)
        .expect("JSON");
    assert_eq!((&r["status"], &r["error"]["type"]), (&json!("failed"), &json!("ReturnValueTooDeep")), "{r}");
    assert!(r["return_value"].is_null(), "{r}");

    // A session cell's value past the limit has its display only, and the interpreter lives on.
    let created = d.post("/session/create", &json!({})).await;
    let id = created.body["session_id"].as_str().unwrap().to_owned();
    let text = cell(&d, &id, "python", &format!("{}v", nested(126))).await;
    assert!(text.contains(&exact), "{text}");
    let r: Value = serde_json::from_str(&cell(&d, &id, "python", &format!("{}v", nested(127))).await).expect("JSON");
    assert_eq!((&r["status"], &r["return_value"]), (&json!("success"), &Value::Null), "{r}");
    assert!(common::text(&r, "display").starts_with("[[[["), "{r}");
    let r: Value = serde_json::from_str(&cell(&d, &id, "python", "v = 41\nv + 1").await).expect("JSON");
    assert_eq!((&r["return_value"], &r["interpreter_restarted"]), (&json!(42), &json!(false)), "{r}");
}

/// The raw text of the `done` event's data in a streamed answer.
async fn done_text(d: &Daemon, path: &str, body: &Value) -> String {
    let call = d.client().post(format!("{}{path}", d.base)).header("Accept", "text/event-stream").json(body);
    let (status, text) = send(call).await;
    assert_eq!(status, 200, "{text}");
    let data = text.split("event: done\ndata: ").nth(1).unwrap_or_else(|| panic!("no done event in {text}"));
    data.lines().next().expect("the done data").to_owned()
}

/// The exact JSON text of `field` in the answer `text`.
fn raw_field(text: &str, field: &str) -> String {
    let fields: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(text).expect("a JSON object");
    fields.get(field).unwrap_or_else(|| panic!("no {field} in {text}")).get().to_owned()
}

/// A value with integers past 64 bits and keys out of order.
const UNSORTED: &str = "{'zeta': 1, 'alpha': {'y': 2**64 + 1, 'b': 10**30}, 'mid': [10**30, -2**70]}";
const UNSORTED_JSON: &str =
    "{\"zeta\":1,\"alpha\":{\"y\":18446744073709551617,\"b\":1000000000000000000000000000000},\"mid\":[1000000000000000000000000000000,-1180591620717411303424]}";

#[tokio::test]
async fn a_streamed_done_event_carries_the_plain_answers_exact_json() {
    let Some(d) = common::sandboxed().await else { return };
    let run = json!({"code": format!("def handler(event):\n    return {UNSORTED}"), "tenant_id": "t1"});
    let plain = execute_text(&d, run.clone()).await;
    let done = done_text(&d, "/execute", &run).await;
    assert_eq!(raw_field(&plain, "return_value"), UNSORTED_JSON, "{plain}");
    assert_eq!(raw_field(&done, "return_value"), raw_field(&plain, "return_value"), "streamed {done}\nplain {plain}");
    // A session cell, each on a fresh session (the same execution count).
    let mut texts = Vec::new();
    for streamed in [false, true] {
        let created = d.post("/session/create", &json!({"tenant_id": "t1"})).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let cell = json!({"tenant_id": "t1", "session_id": created.body["session_id"], "code": UNSORTED});
        texts.push(match streamed {
            true => done_text(&d, "/session/execute", &cell).await,
            false => send(d.client().post(format!("{}/session/execute", d.base)).json(&cell)).await.1,
        });
    }
    let (plain, done) = (&texts[0], &texts[1]);
    assert_eq!(raw_field(plain, "return_value"), UNSORTED_JSON, "{plain}");
    for field in ["return_value", "results", "display", "stdout", "status", "execution_count"] {
        assert_eq!(raw_field(done, field), raw_field(plain, field), "{field}: streamed {done}\nplain {plain}");
    }
}
