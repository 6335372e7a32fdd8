//! Per-run cgroups and the limits they enforce: a memory bomb is killed and said to be, a
//! fork bomb stops at its process limit and leaves nothing behind, peak memory and CPU time
//! come from the kernel, and full disks and output floods say why the run ended.

use crate::common;
use std::path::PathBuf;

use crate::common::Daemon;
use serde_json::{json, Value};

/// A daemon whose runs get cgroups with `controller`, or None (the reason printed).
async fn limited_by(controller: &str) -> Option<Daemon> {
    let d = common::sandboxed().await?;
    let info = d.get("/info").await;
    let layers = info.body["isolation"]["layers"].as_array().cloned().unwrap_or_default();
    let name = format!("cgroup:{controller}");
    match layers.iter().find(|l| l["name"] == name.as_str()) {
        Some(l) if l["active"] == true => Some(d),
        Some(l) => {
            eprintln!("SKIP: the {controller} controller is not in force here: {}", l["detail"]);
            None
        }
        None => panic!("/info does not list {name}: {}", info.body),
    }
}

/// Run cgroups of the daemon with pid `pid` still present in any hierarchy, but those of its
/// pre-started sandboxes waiting for a run (a sandbox just being started may take a moment
/// to show as one).
fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let waiting = common::waiting_sandbox_cgroups(pid);
        let left: Vec<PathBuf> = cgroups_under("sandbox-executor", pid)
            .into_iter()
            .filter(|p| !p.file_name().is_some_and(|n| waiting.contains(n.to_string_lossy().as_ref())))
            .collect();
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn cgroups_under(parent: &str, pid: u32) -> Vec<PathBuf> {
    let prefix = format!("d{pid}.");
    let parents = ["memory", "pids", "cpu", "cpuacct", "cpu,cpuacct"]
        .iter()
        .map(|c| PathBuf::from("/sys/fs/cgroup").join(c).join(parent))
        .chain([PathBuf::from("/sys/fs/cgroup").join(parent)]);
    parents
        .filter_map(|p| std::fs::read_dir(p).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

async fn assert_healthy(d: &Daemon) {
    assert_eq!(d.get("/health").await.status, 200, "the daemon is not healthy");
    let r = d.execute(json!({"code": "print('still here')", "language": "python"})).await;
    assert_eq!(r["stdout"], "still here\n", "{r}");
}

fn reason(r: &Value) -> &Value {
    &r["termination_reason"]
}

#[tokio::test]
async fn a_memory_bomb_is_killed_at_its_limit_and_reported_as_memory_limit() {
    let Some(d) = limited_by("memory").await else { return };
    let code = "chunks = []\nwhile True:\n    chunks.append(b'x' * (8 << 20))\n";
    let r = d.execute(json!({"code": code, "language": "python", "timeout": 60, "limits": {"memory_mb": 128}})).await;
    assert_eq!(r["status"], "killed", "{r}");
    assert_eq!(reason(&r), "memory_limit", "{r}");
    assert_eq!(r["exit_code"], 128 + 9, "{r}");
    let peak = r["metrics"]["peak_memory_mb"].as_f64().unwrap();
    assert!(peak > 100.0 && peak <= 129.0, "peak memory of a bomb capped at 128 MiB: {peak}");
    assert_healthy(&d).await;
    assert_eq!(cgroups_of(d.pid()), Vec::<PathBuf>::new(), "run cgroups left behind");
}

#[tokio::test]
async fn memory_spread_over_many_processes_is_limited_for_the_run_as_a_whole() {
    let Some(d) = limited_by("memory").await else { return };
    // Each process alone is well under the limit; together they are far over it. The kernel
    // kills the code's processes, never the sandbox's own, so the run still reports.
    let code = "pids=''; for i in $(seq 8); do python3 -c \"b = b'x' * (30 << 20); import time; time.sleep(3)\" & pids=\"$pids $!\"; done\nrc=0; for p in $pids; do wait $p || rc=1; done; exit $rc";
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 60, "limits": {"memory_mb": 128}})).await;
    assert_eq!(r["status"], "killed", "{r}");
    assert_eq!(reason(&r), "memory_limit", "{r}");
    assert_eq!(r["exit_code"], 1, "{r}");
    assert_healthy(&d).await;
}

#[tokio::test]
async fn tmp_files_past_the_memory_limit_end_the_run_as_memory_limit() {
    let Some(d) = limited_by("memory").await else { return };
    // /tmp's pages count against the run's memory but belong to no process: once the code's
    // processes are killed the kernel may take the sandbox's own, and the run must still end
    // with a result that says why.
    let code = "head -c 90M /dev/zero > /tmp/fill; echo unreachable";
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 60, "limits": {"memory_mb": 64}})).await;
    assert_eq!(r["status"], "killed", "{r}");
    assert_eq!(reason(&r), "memory_limit", "{r}");
    assert_healthy(&d).await;
}

#[tokio::test]
async fn peak_memory_and_cpu_time_come_from_the_runs_cgroup() {
    let Some(d) = limited_by("memory").await else { return };
    let code = "import time\nblock = b'x' * (100 << 20)\nstart = time.process_time()\nwhile time.process_time() - start < 0.5:\n    pass\nprint(len(block))";
    let r = d.execute(json!({"code": code, "language": "python", "timeout": 60})).await;
    assert_eq!(r["status"], "success", "{r}");
    let peak = r["metrics"]["peak_memory_mb"].as_f64().unwrap();
    assert!(peak > 80.0 && peak < 512.0, "peak memory of a run holding 100 MiB: {peak}");
    let cpu = r["metrics"]["cpu_time_ms"].as_f64().unwrap();
    assert!(cpu >= 400.0, "a run that spun for 0.5 s of CPU time reports {cpu} ms");
}

#[tokio::test]
async fn a_fork_bomb_stops_at_its_process_limit_and_leaves_nothing_behind() {
    let Some(d) = limited_by("pids").await else { return };
    let code = "bomb() { bomb | bomb & }; bomb; sleep 30";
    let r = d.execute(json!({"code": code, "language": "shell", "timeout": 20, "limits": {"max_processes": 16}})).await;
    assert_eq!(reason(&r), "process_limit", "{r}");
    assert_eq!(r["status"], "killed", "{r}");
    assert_eq!(cgroups_of(d.pid()), Vec::<PathBuf>::new(), "run cgroups left behind");
    assert_healthy(&d).await;
    // Below the limit nothing is reported.
    let r = d.execute(json!({"code": "for i in 1 2 3; do sleep 0.1 & done; wait; echo ok", "language": "shell", "limits": {"max_processes": 16}})).await;
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(reason(&r), &Value::Null);
}

const FILL: &str = r#"
import errno, sys
target = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
def fill(d):
    try:
        for i in range(3):
            with open(f"{d}/fill{i}", "wb") as f:
                for _ in range(60):
                    f.write(b"x" * (1 << 20))
    except OSError as e:
        print(d, errno.errorcode[e.errno])
        raise
    print(d, "no error")
fill("DIR")
"#;

#[tokio::test]
async fn filling_tmp_gives_enospc_and_reports_disk_limit() {
    let Some(d) = common::sandboxed().await else { return };
    let r = d.execute(json!({"code": FILL.replace("DIR", "/tmp"), "language": "python", "timeout": 60})).await;
    assert_eq!(r["stdout"], "/tmp ENOSPC\n", "{r}");
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(reason(&r), "disk_limit", "{r}");
    // A failure with room left on every disk is not blamed on the disk.
    let r = d.execute(json!({"code": "raise SystemExit(3)", "language": "python"})).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(reason(&r), &Value::Null);
}

#[tokio::test]
async fn filling_the_workspace_gives_enospc_and_reports_disk_limit() {
    let Some(d) = common::sandboxed().await else { return };
    if !d.layer_active("workspace_size_cap").await {
        eprintln!("SKIP: workspaces are not size-capped here (the daemon cannot mount them)");
        return;
    }
    let r = d.execute(json!({"code": FILL.replace("DIR", "/workspace"), "language": "python", "timeout": 60})).await;
    assert_eq!(r["stdout"], "/workspace ENOSPC\n", "{r}");
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(reason(&r), "disk_limit", "{r}");
}

#[tokio::test]
async fn a_gigabyte_of_output_is_stopped_and_reported_as_output_limit() {
    let Some(d) = common::sandboxed().await else { return };
    let code = "head -c 1000000000 /dev/zero | tr '\\0' y; echo never-reached >&2";
    let r = d
        .execute(json!({"code": code, "language": "shell", "timeout": 120, "limits": {"max_output_bytes": 1048576}}))
        .await;
    assert_eq!(r["status"], "killed", "{}", r["stderr"]);
    assert_eq!(reason(&r), "output_limit");
    assert_eq!(r["truncated"]["stdout"], true);
    assert_eq!(r["stdout"].as_str().unwrap().len(), 1 << 20);
    assert_eq!(r["stderr"], "");
    assert_healthy(&d).await;
}

#[tokio::test]
async fn a_run_whose_cgroup_cannot_be_made_never_runs() {
    let parent = format!("/se-fail-closed-{}", std::process::id());
    let pids_parent = PathBuf::from("/sys/fs/cgroup/pids").join(&parent[1..]);
    // Cold runs only: pre-started sandboxes would keep the parent busy.
    let d = Daemon::start_with(&[("SANDBOX_CGROUP_PARENT", parent.as_str()), ("SANDBOX_WARM_POOL", "0")]).await;
    if !common::sandbox_or_skip(&d).await || !pids_parent.is_dir() {
        eprintln!("SKIP: no v1 pids hierarchy to take away here");
        return;
    }
    std::fs::remove_dir(&pids_parent).expect("remove the daemon's pids parent");
    let r = d.post("/execute", &json!({"code": "echo ran", "language": "shell"})).await;
    assert_eq!(common::assert_error_body(&r, 500), "Executor.SandboxError");
    let detail = r.body["error_detail"].as_str().unwrap();
    assert!(detail.contains("cgroup") && detail.contains("pids"), "{detail}");
    drop(d);
    for hierarchy in ["memory", "pids", "cpu", "cpuacct"] {
        let _ = std::fs::remove_dir(PathBuf::from("/sys/fs/cgroup").join(hierarchy).join(&parent[1..]));
    }
}

#[tokio::test]
async fn cgroups_left_by_a_killed_daemon_are_removed_by_the_next_one() {
    // A parent of this test's own: other daemons on the host sweep the shared one too.
    let name = format!("se-leftover-{}", std::process::id());
    let parent = format!("/{name}");
    let env = [("SANDBOX_CGROUP_PARENT", parent.as_str())];
    let d = Daemon::start_with(&env).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    if !d.layer_active("cgroup:pids").await {
        eprintln!("SKIP: the pids controller is not in force here");
        return;
    }
    let cgroups_of = |pid| cgroups_under(&name, pid);
    let pid = d.pid();
    let url = format!("{}/execute", d.base);
    let body = json!({"code": "sleep 300", "language": "shell", "timeout": 300});
    let pending = tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while cgroups_of(pid).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!cgroups_of(pid).is_empty(), "the run never got a cgroup");
    let state = d.kill_hard();
    assert!(pending.await.unwrap().is_err(), "the request cannot have been answered");
    assert!(!cgroups_of(pid).is_empty(), "expected the killed daemon's run cgroup to be left");
    let d = Daemon::start_in(state, &env).await;
    assert_eq!(cgroups_of(pid), Vec::<PathBuf>::new(), "a new daemon left a dead one's cgroups in place");
    drop(d);
    for hierarchy in ["memory", "pids", "cpu", "cpuacct"] {
        let _ = std::fs::remove_dir(PathBuf::from("/sys/fs/cgroup").join(hierarchy).join(&name));
    }
}
