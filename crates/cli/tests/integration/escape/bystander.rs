//! A run of another tenant in flight beside a case: whatever the case does must not reach it.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::host::{processes, random, Host};

/// Runs `case` while a run of another tenant is in flight (a Python one, so cold or
/// forked by a zygote like the daemon's other Python runs), and reports what went wrong
/// with that run: it must end as if nothing had happened beside it.
/// Returns also the other run's result (its launch path counts among the sandboxes it took).
pub async fn beside<T>(host: &Host, case: impl std::future::Future<Output = T>) -> (T, Vec<String>, Value) {
    let marker = format!("se-bystander-{}", random());
    // Its sleeper (named by the marker, so the host can see it) ends only by the host's SIGTERM.
    let code = format!(
        "import subprocess\n\
         r = subprocess.run(['{marker}', '600'], executable='/usr/bin/sleep')\n\
         print('survived' if r.returncode == -15 else f'the sleeper ended with {{r.returncode}}')\n"
    );
    let body = serde_json::json!({"code": code, "language": "python", "timeout": 120, "tenant_id": "escape-bystander"});
    let bystander = host.daemon.post("/execute", &body);
    let driven = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut sleeper = None;
        while sleeper.is_none() && Instant::now() < deadline {
            sleeper = processes().into_iter().find(|p| p.cmdline.starts_with(&marker)).map(|p| p.pid);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Without a bystander in flight the case still runs: the host checks still judge it.
        let outcome = case.await;
        // Still the sleeper? The case may have ended it, and its pid be another's by now.
        let alive = processes().into_iter().any(|p| Some(p.pid) == sleeper && p.cmdline.starts_with(&marker));
        if let (Some(pid), true) = (sleeper, alive) {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
        (outcome, sleeper.is_some())
    };
    let (r, (outcome, started)) = futures::join!(bystander, driven);
    let mut problems = Vec::new();
    if !started {
        problems.push("the other tenant's run never started".to_string());
    }
    if r.status != 200 || r.body["status"] != "success" || r.body["stdout"] != "survived\n" {
        problems.push(format!("the other tenant's run in flight failed: HTTP {}: {}", r.status, r.body));
    }
    (outcome, problems, r.body)
}
