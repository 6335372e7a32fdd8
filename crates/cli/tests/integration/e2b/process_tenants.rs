//! Another tenant reaches no process of a sandbox: with its own sandbox's token on this
//! sandbox's id, every call of the Process service answers as for an unknown sandbox (502
//! "not found"); in its own sandbox, this sandbox's pids name nothing; the processes go on.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::http::plane;
use super::wire::{self, Sandbox};
use super::{KEY, OTHER_KEY};
use crate::common::{self, Daemon};

/// Every call of the Process service on `pid`: its name, its message, whether it streams.
fn calls(pid: i64) -> Vec<(&'static str, Value, bool)> {
    let process = json!({"pid": pid});
    vec![
        ("List", json!({}), false),
        ("Connect", json!({"process": process}), true),
        ("SendInput", wire::input(pid, b"typed by another\n", false), false),
        ("SendSignal", json!({"process": process, "signal": "SIGNAL_SIGKILL"}), false),
        ("CloseStdin", json!({"process": process}), false),
        ("Update", json!({"process": process, "pty": {"size": {"cols": 10, "rows": 10}}}), false),
        ("StreamInput", json!({"start": {"process": process}}), true),
        ("Start", json!({"process": {"cmd": "/bin/echo", "args": ["in"]}}), true),
    ]
}

/// `method` with `message` on sandbox `id` with `token`: the status and the body's text.
async fn call(daemon: &Daemon, id: &str, token: &str, method: &str, message: &Value, streams: bool) -> (u16, String) {
    let body = if streams {
        let payload = message.to_string().into_bytes();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(&payload);
        framed
    } else {
        message.to_string().into_bytes()
    };
    let content_type = if streams { "application/connect+json" } else { "application/json" };
    let response = plane(daemon, Method::POST, &format!("/process.Process/{method}"), id, token)
        .header("content-type", content_type)
        .timeout(Duration::from_secs(20))
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The owner's processes: a sleeper reading stdin and a terminal.
async fn owner_processes(daemon: &Daemon, mine: &Sandbox) -> (wire::Events, wire::Events) {
    let sleeper = wire::start(daemon, mine, &["/bin/bash", "-c", "cat; sleep 300"], None, true).await;
    let terminal = wire::start(daemon, mine, &["/bin/bash"], Some((80, 24)), true).await;
    (sleeper, terminal)
}

#[tokio::test]
async fn e2b_another_key_reaches_no_process_of_a_sandbox() {
    let Some(daemon) = common::sandboxed().await else { return };
    let mine = Sandbox::create(&daemon, KEY).await;
    let theirs = Sandbox::create(&daemon, OTHER_KEY).await;
    let (mut sleeper, terminal) = owner_processes(&daemon, &mine).await;
    for pid in [sleeper.pid, terminal.pid] {
        for (method, message, streams) in calls(pid) {
            // Their token on my sandbox: as if it did not exist.
            for token in [theirs.token.as_str(), OTHER_KEY, ""] {
                let (status, body) = call(&daemon, &mine.id, token, method, &message, streams).await;
                assert_eq!(status, 502, "{method} with another's token: {body}");
                assert!(body.contains(&format!("The sandbox {} was not found", mine.id)), "{method}: {body}");
            }
            // My pid in their own sandbox: it names nothing there.
            if method != "List" && method != "Start" {
                let (status, body) = call(&daemon, &theirs.id, &theirs.token, method, &message, streams).await;
                let refused = (status == 404 && body.contains("not_found")) || (streams && body.contains("not_found"));
                assert!(refused, "{method} of pid {pid} in another sandbox: {status} {body}");
            }
        }
    }
    let (_, listed) = wire::unary(&daemon, &theirs, "List", &json!({})).await;
    let theirs_pids: Vec<&Value> = listed["processes"].as_array().unwrap().iter().map(|p| &p["pid"]).collect();
    assert!(!theirs_pids.contains(&&json!(sleeper.pid)), "their list shows my process: {listed}");
    // Mine go on, untouched: the sleeper reads only what I send it.
    let (_, listed) = wire::unary(&daemon, &mine, "List", &json!({})).await;
    let pids: Vec<i64> = listed["processes"].as_array().unwrap().iter().filter_map(|p| p["pid"].as_i64()).collect();
    assert!(pids.contains(&sleeper.pid) && pids.contains(&terminal.pid), "{listed}");
    let (status, body) = wire::unary(&daemon, &mine, "SendInput", &wire::input(sleeper.pid, b"mine\n", false)).await;
    assert_eq!(status, 200, "{body}");
    let seen = sleeper.read(Duration::from_secs(10), Some("mine\n")).await.output;
    assert_eq!(seen, "mine\n", "the sleeper saw input of another tenant");
}
