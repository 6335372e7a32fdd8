//! Trees far deeper than a thread's stack, as a session's code can make them: the daemon walks and
//! removes them without recursion (an unprivileged daemon removes a session's workspace
//! itself, with no tmpfs to unmount), stays up, and answers others meanwhile; names too long
//! for the kernel are the caller's mistake (400).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::common::{self, Daemon};

/// Levels of the trees the tests make: far more than a thread's stack holds frames of a
/// recursive walk, and than a process may hold descriptors by default.
const LEVELS: usize = 30_000;

/// Python that makes `LEVELS` nested directories `d` under `top` in the working directory
/// (one descriptor at a time, without changing the working directory), a file at the bottom.
fn deep_tree_code(top: &str) -> String {
    format!(
        "import os\nos.mkdir({top:?})\nfd = os.open({top:?}, os.O_RDONLY)\nfor _ in range({LEVELS}):\n    \
         os.mkdir('d', dir_fd=fd)\n    sub = os.open('d', os.O_RDONLY, dir_fd=fd)\n    os.close(fd)\n    fd = sub\n\
         os.close(os.open('leaf', os.O_CREAT | os.O_WRONLY, dir_fd=fd))\nos.close(fd)\nprint('made')\n"
    )
}

/// The one persistent workspace of `daemon` (a session's, or an E2B sandbox's).
pub fn only_workspace(daemon: &Daemon) -> PathBuf {
    let dir = daemon.state.path().join("workspaces/persistent");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.into_iter().next().unwrap()
}

/// Makes the tree `deep` in `workspace` as its code could, as the workspace's owner. Python
/// on the host does it: in a sandbox, Landlock checks each access up the whole path, so
/// making the tree there takes time that grows with the square of its depth.
pub fn plant_deep_tree(workspace: &Path) {
    let meta = std::fs::metadata(workspace).unwrap();
    let output = Command::new("python3")
        .arg("-c")
        .arg(deep_tree_code("deep"))
        .current_dir(workspace)
        .uid(meta.uid())
        .gid(meta.gid())
        .output()
        .unwrap();
    assert_eq!(output.stdout, b"made\n", "{}", String::from_utf8_lossy(&output.stderr));
}

/// Polls `/health` until stopped: how many answers came, and every failure (a poll that got
/// no answer within 20 s: the daemon's async workers were held).
pub struct HealthWatch {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<(u32, Vec<String>)>,
}

impl HealthWatch {
    pub fn start(daemon: &Daemon) -> HealthWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let url = format!("{}/health", daemon.base);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let (mut answered, mut failures) = (0, Vec::new());
            while !flag.load(Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => answered += 1,
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (answered, failures)
        });
        HealthWatch { stop, task }
    }

    /// Stops polling; asserts that `/health` answered every poll, at least once.
    pub async fn answered(self) {
        self.stop.store(true, Ordering::Relaxed);
        let (answered, failures) = self.task.await.unwrap();
        assert!(failures.is_empty(), "/health went unanswered: {failures:?}");
        assert!(answered > 0, "/health was never polled");
    }
}

/// The daemon is up and runs another tenant's code.
pub async fn others_still_served(daemon: &Daemon) {
    assert_eq!(daemon.get("/health").await.status, 200);
    let r = daemon.post("/execute", &json!({"code": "print(6 * 7)", "language": "python", "tenant_id": "other"})).await;
    assert_eq!((r.status, r.body["stdout"].as_str()), (200, Some("42\n")), "{}", r.body);
}

/// Waits until nothing is left under the daemon's persistent workspaces.
pub async fn workspaces_removed(daemon: &Daemon) {
    let dir = daemon.state.path().join("workspaces/persistent");
    let left = || std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    for _ in 0..600 {
        if left() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} entries are left in {}", left(), dir.display());
}

#[tokio::test]
async fn an_unprivileged_daemon_lists_and_removes_a_session_tree_deeper_than_its_stack() {
    let daemon = Daemon::start_unprivileged(&[("SANDBOX_REQUIRE", "namespaces,seccomp")]).await;
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    let r = daemon.post("/session/create", &json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["session_id"].as_str().unwrap().to_string();
    plant_deep_tree(&only_workspace(&daemon));
    let watch = HealthWatch::start(&daemon);
    // The listing walks the whole tree; the leaf is deeper than any path a route takes.
    let r = daemon.get(&format!("/session/{id}/files")).await;
    assert_eq!((r.status, r.body["files"].as_array().map(Vec::len)), (200, Some(0)), "{}", r.body);
    let upload = daemon.client().put(format!("{}/session/{id}/files/small.txt", daemon.base)).body("x");
    assert_eq!(upload.send().await.unwrap().status(), 201);
    // Names too long for the kernel are refused in the API's error format.
    let long = "n".repeat(300);
    for path in [long.clone(), format!("a/{long}"), "a/".repeat(600) + "f"] {
        let r = daemon.post(&format!("/session/{id}/files"), &json!({"path": path, "content_base64": "eA=="})).await;
        assert_eq!(common::assert_error_body(&r, 400), "Executor.ValidationError", "{}", r.body);
    }
    let r = daemon.post("/session/destroy", &json!({"session_id": id})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    workspaces_removed(&daemon).await;
    watch.answered().await;
    others_still_served(&daemon).await;
}
