//! JavaScript runs with limits of their own take a pre-started sandbox: the daemon writes
//! the run's memory and process limits into the sandbox's cgroup, sets its waiting driver's
//! process rlimit and the run's output cap at the claim, and the limits hold as on a cold run.

use serde_json::{json, Value};

use crate::common;
use crate::common::Daemon;
use crate::warm::{path_of, same_warm_and_cold, until_ready};

/// A warm daemon that logs (why a run went cold shows there), or None without sandboxes here.
async fn warm_daemon() -> Option<Daemon> {
    let daemon = Daemon::start_logged(&[]).await;
    common::sandbox_or_skip(&daemon).await.then_some(daemon)
}

/// Whether the run cgroups of `d` have `controller` in force.
async fn controller_active(d: &Daemon, controller: &str) -> bool {
    let info = d.get("/info").await.body;
    let layers = info["isolation"]["layers"].as_array().cloned().unwrap_or_default();
    let name = format!("cgroup:{controller}");
    let active = layers.iter().any(|l| l["name"] == name.as_str() && l["active"] == true);
    if !active {
        eprintln!("SKIP: the {controller} controller is not in force here");
    }
    active
}

/// Runs `body` (JavaScript) on a pre-started sandbox and checks it was served warm.
async fn warm_run(d: &Daemon, body: Value) -> Value {
    until_ready(d, "javascript", None).await;
    let r = d.execute(body.clone()).await;
    assert_eq!(path_of(&r), "warm", "served by a pre-started sandbox: {body}\n{r}\n{}", d.log());
    r
}

#[tokio::test]
async fn javascript_with_limits_of_its_own_is_served_warm_with_the_cold_result() {
    let Some(d) = warm_daemon().await else { return };
    let limits = json!({"memory_mb": 256, "max_processes": 32, "max_output_bytes": 4096});
    let body = json!({"code": "console.log('none')", "language": "javascript", "limits": limits});
    same_warm_and_cold(&d, body).await;
    // The output cap is the claim's: the rest of the output is cut as on a cold run.
    let flood = "process.stdout.write('x'.repeat(100000)); console.error('done')";
    let body = json!({"code": flood, "language": "javascript", "limits": {"max_output_bytes": 1000}});
    let r = same_warm_and_cold(&d, body).await;
    assert_eq!(r["stdout"].as_str().map(str::len), Some(1000), "{r}");
    assert_eq!(r["truncated"]["stdout"], true, "{r}");
}

#[tokio::test]
async fn a_javascript_memory_bomb_on_a_pre_started_sandbox_is_killed_at_the_requested_memory() {
    let Some(d) = warm_daemon().await else { return };
    if !controller_active(&d, "memory").await {
        return;
    }
    // Below the default (512 MiB): the limit that holds is the run's, written at the claim.
    let bomb = "const kept = []; while (true) kept.push(Buffer.alloc(8 << 20, 1));";
    let body = json!({"code": bomb, "language": "javascript", "timeout": 60, "limits": {"memory_mb": 160}});
    let r = warm_run(&d, body).await;
    assert_eq!((&r["status"], &r["termination_reason"]), (&json!("killed"), &json!("memory_limit")), "{r}");
    let peak = r["metrics"]["peak_memory_mb"].as_f64().unwrap();
    assert!(peak <= 161.0, "peak memory of a bomb held to 160 MiB: {peak}");
    // Above the default: the run has the room it asked for.
    let big = "const b = Buffer.alloc(600 << 20, 1); console.log(b.length >> 20)";
    let body = json!({"code": big, "language": "javascript", "timeout": 60, "limits": {"memory_mb": 1024}});
    let r = warm_run(&d, body).await;
    assert_eq!((&r["status"], &r["stdout"]), (&json!("success"), &json!("600\n")), "{r}");
}

#[tokio::test]
async fn a_javascript_fork_bomb_on_a_pre_started_sandbox_stops_at_the_requested_process_count() {
    let Some(d) = warm_daemon().await else { return };
    fork_bomb_stops_at_the_requested_count(&d).await;
}

/// An unprivileged daemon (without cgroups of its own here) sets the waiting program's
/// process rlimit as its own user; a root daemon as the program's ids.
#[tokio::test]
async fn the_process_rlimit_of_a_claim_is_the_runs_on_a_root_and_an_unprivileged_daemon() {
    let root = warm_daemon().await;
    let unprivileged = Daemon::start_unprivileged(&[("SANDBOX_REQUIRE", "namespaces")]).await;
    for d in root.iter().chain([&unprivileged]) {
        if !common::sandbox_or_skip(d).await {
            continue;
        }
        let count = "const { spawn } = require('child_process');\n\
                     let n = 0;\n\
                     for (let i = 0; i < 60; i++) { try { const c = spawn('sleep', ['5']); if (c.pid) n++; } catch (e) {} }\n\
                     const u = require('child_process').execSync('ulimit -u', { shell: '/bin/bash' }).toString().trim();\n\
                     console.log(u, n < 24)";
        let body = json!({"code": count, "language": "javascript", "timeout": 20, "limits": {"max_processes": 24}});
        let mut cold_body = body.clone();
        cold_body["warm"] = json!(false);
        let cold = d.execute(cold_body).await;
        let r = warm_run(d, body).await;
        assert_eq!(r["stdout"], cold["stdout"], "warm {r}\ncold {cold}");
        assert_eq!((&r["status"], &r["termination_reason"]), (&cold["status"], &cold["termination_reason"]), "{r}");
        // With the pids controller the run is stopped at its limit; without, spawns fail past it.
        let stopped = r["termination_reason"] == "process_limit";
        let refused = r["error"]["message"].as_str().is_some_and(|m| m.contains("EAGAIN"));
        let fewer = r["stdout"].as_str().unwrap_or("").ends_with(" true\n");
        assert!(stopped || refused || fewer, "fewer than 24 processes: {r}");
    }
}

async fn fork_bomb_stops_at_the_requested_count(d: &Daemon) {
    if !controller_active(d, "pids").await {
        return;
    }
    let bomb = "const { spawn } = require('child_process');\n\
                for (let i = 0; i < 200; i++) { try { spawn('sleep', ['30']).on('error', () => {}); } catch (e) {} }\n\
                setTimeout(() => {}, 30000);";
    let body = json!({"code": bomb, "language": "javascript", "timeout": 20, "limits": {"max_processes": 24}});
    let r = warm_run(d, body).await;
    assert_eq!((&r["status"], &r["termination_reason"]), (&json!("killed"), &json!("process_limit")), "{r}");
    // The next claimant has the default limits: a fresh sandbox, not the bomb's.
    let ulimit = "console.log(require('child_process').execSync('ulimit -u', { shell: '/bin/bash' }).toString())";
    let cold = d.execute(json!({"code": ulimit, "language": "javascript", "warm": false})).await;
    let r = warm_run(d, json!({"code": ulimit, "language": "javascript"})).await;
    assert_eq!((&r["status"], &r["stdout"]), (&json!("success"), &cold["stdout"]), "{r}\n{cold}");
    // A process limit above the one the sandbox started with may need a privilege the daemon
    // lacks: served warm or cold, the run has it.
    let many = "const { execSync } = require('child_process'); console.log(execSync('ulimit -u', { shell: '/bin/bash' }).toString().trim())";
    let body = json!({"code": many, "language": "javascript", "limits": {"max_processes": 200}});
    let cold = d
        .execute(json!({"code": many, "language": "javascript", "limits": {"max_processes": 200}, "warm": false}))
        .await;
    until_ready(d, "javascript", None).await;
    let r = d.execute(body).await;
    assert_eq!((&r["status"], &r["stdout"]), (&json!("success"), &cold["stdout"]), "{r}\n{cold}");
}
