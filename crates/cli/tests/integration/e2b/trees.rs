//! Deep trees and long paths through E2B's Filesystem service: a tree far deeper than a
//! thread's stack is listed and removed with the daemon up and answering; huge and too-long
//! paths are `invalid_argument` at once.

use reqwest::Method;
use serde_json::json;

use super::http::{connect_error, create, plane};
use super::KEY;
use crate::common;
use crate::deep_trees::{only_workspace, others_still_served, plant_deep_tree, workspaces_removed, HealthWatch};

#[tokio::test]
async fn e2b_lists_and_removes_a_tree_deeper_than_a_stack_and_the_daemon_stays_up() {
    let Some(daemon) = common::sandboxed().await else { return };
    let (id, token) = create(&daemon, KEY).await;
    plant_deep_tree(&only_workspace(&daemon));
    let watch = HealthWatch::start(&daemon);
    let call = |method: &str, message| filesystem(&daemon, &id, &token, method, message);
    let listed = call("ListDir", json!({"path": "/home/user/deep", "depth": 64})).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let listed: serde_json::Value = listed.json().await.unwrap();
    let paths: Vec<&str> = listed["entries"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    // 64 levels shown (the deepest listing E2B asks for).
    assert_eq!(paths.len(), 64, "{listed}");
    assert!(paths.contains(&format!("/home/user/deep{}", "/d".repeat(64)).as_str()), "{listed}");
    let removed = call("Remove", json!({"path": "/home/user/deep"})).send().await.unwrap();
    assert_eq!(removed.status(), 200);
    connect_error(call("Stat", json!({"path": "/home/user/deep"})), 404, "not_found").await;
    // Another one, left for the sandbox's end to remove.
    plant_deep_tree(&only_workspace(&daemon));
    let killed = daemon.client().delete(format!("{}/e2b/sandboxes/{id}", daemon.base)).header("x-api-key", KEY);
    assert_eq!(killed.send().await.unwrap().status(), 204);
    workspaces_removed(&daemon).await;
    watch.answered().await;
    others_still_served(&daemon).await;
}

/// A Filesystem call with a JSON message.
fn filesystem(
    daemon: &common::Daemon,
    id: &str,
    token: &str,
    method: &str,
    message: serde_json::Value,
) -> reqwest::RequestBuilder {
    plane(daemon, Method::POST, &format!("/filesystem.Filesystem/{method}"), id, token).json(&message)
}

#[tokio::test]
async fn e2b_huge_and_too_long_paths_are_invalid_arguments_at_once() {
    let Some(daemon) = common::sandboxed().await else { return };
    let (id, token) = create(&daemon, KEY).await;
    let watch = HealthWatch::start(&daemon);
    // Tens of thousands of components, twice at once: refused before any work.
    let huge = format!("/home/user/{}", "a/".repeat(30_000));
    let calls = [0, 1].map(|_| {
        let request = filesystem(&daemon, &id, &token, "MakeDir", json!({"path": huge}));
        connect_error(request, 400, "invalid_argument")
    });
    futures::future::join_all(calls).await;
    let long = "n".repeat(300);
    let made = filesystem(&daemon, &id, &token, "MakeDir", json!({"path": "/home/user/ok"}));
    assert_eq!(made.send().await.unwrap().status(), 200);
    let refused = [
        ("MakeDir", json!({"path": format!("/home/user/{long}")})),
        ("MakeDir", json!({"path": format!("/home/user/ok/{long}/x")})),
        ("Stat", json!({"path": format!("/home/user/{long}")})),
        ("ListDir", json!({"path": format!("/home/user/{long}"), "depth": 2})),
        ("Remove", json!({"path": format!("/home/user/ok/{long}")})),
        ("Move", json!({"source": "/home/user/ok", "destination": format!("/home/user/{long}")})),
        ("Move", json!({"source": format!("/home/user/{long}"), "destination": "/home/user/x"})),
        // Short names, but more of them than the kernel resolves in one path.
        ("Stat", json!({"path": format!("/home/user/{}", "ok/".repeat(1500))})),
    ];
    for (method, message) in refused {
        connect_error(filesystem(&daemon, &id, &token, method, message), 400, "invalid_argument").await;
    }
    watch.answered().await;
    // Nothing was made by the refused calls, and the sandbox is still served.
    let listed = filesystem(&daemon, &id, &token, "ListDir", json!({"path": "/home/user", "depth": 3}));
    let listed: serde_json::Value = listed.send().await.unwrap().json().await.unwrap();
    let paths: Vec<&str> = listed["entries"].as_array().unwrap().iter().filter_map(|e| e["path"].as_str()).collect();
    assert!(paths.contains(&"/home/user/ok"), "{listed}");
    assert!(paths.iter().all(|p| !p.starts_with("/home/user/a") && !p.contains(&long)), "{listed}");
}
