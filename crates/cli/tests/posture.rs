//! Required isolation layers: the daemon refuses to start without one, says which and why,
//! and every result names the layers it ran under.

mod common;

use std::process::{Command, Stdio};

use common::Daemon;
use serde_json::json;

/// Runs `serve` with `env` and expects it to refuse to start; returns what it printed.
fn refused(env: &[(&str, &str)]) -> String {
    let state = tempfile::tempdir().unwrap();
    // A port already taken: a daemon that wrongly got past its checks fails to listen
    // (and the message check below fails) instead of serving forever.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut command = Command::new(common::BIN);
    command
        .arg("serve")
        .env("EXECUTOR_PORT", taken.local_addr().unwrap().port().to_string())
        .env("STATE_DIR", state.path())
        .env("LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run serve");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started without a required layer: {text}");
    assert_eq!(common::mounts_below(state.path()), Vec::<String>::new(), "a refused start left mounts");
    text
}

fn seccomp_supported() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.lines().any(|l| l.starts_with("Seccomp:")))
}

#[test]
fn a_required_layer_turned_off_keeps_the_daemon_from_starting() {
    if !seccomp_supported() {
        eprintln!("skipped: this kernel has no seccomp filters");
        return;
    }
    // seccomp is required by default.
    let text = refused(&[("SANDBOX_SECCOMP", "false")]);
    assert!(text.contains("required isolation layers are missing: seccomp (turned off)"), "{text}");
}

#[test]
fn an_unknown_layer_name_is_refused_rather_than_ignored() {
    let text = refused(&[("SANDBOX_REQUIRE", "namespaces,secomp")]);
    assert!(text.contains("unknown isolation layer \"secomp\""), "{text}");
}

#[tokio::test]
async fn a_layer_left_out_of_the_requirements_may_be_off_and_results_say_so() {
    if !seccomp_supported() {
        eprintln!("skipped: this kernel has no seccomp filters");
        return;
    }
    let d = Daemon::start_with(&[("SANDBOX_SECCOMP", "false"), ("SANDBOX_REQUIRE", "namespaces")]).await;
    let info = d.get("/info").await;
    let layers = info.body["isolation"]["layers"].as_array().unwrap().clone();
    let layer = |name: &str| layers.iter().find(|l| l["name"] == name).unwrap_or_else(|| panic!("no {name}")).clone();
    assert_eq!(layer("seccomp")["active"], false);
    assert_eq!(layer("seccomp")["required"], false);
    assert_eq!(layer("namespace:user")["required"], true);
    let result = d.execute(json!({"code": "grep Seccomp: /proc/self/status", "language": "shell"})).await;
    assert!(result["stdout"].as_str().unwrap().contains("Seccomp:\t0"), "{result}");
    let isolation: Vec<&str> = result["isolation"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(isolation.contains(&"namespace:user") && !isolation.contains(&"seccomp"), "{isolation:?}");
}

#[tokio::test]
async fn by_default_every_result_names_seccomp_and_the_cgroup_limits() {
    let d = Daemon::start().await;
    let result = d.execute(json!({"code": "grep Seccomp: /proc/self/status", "language": "shell"})).await;
    let isolation: Vec<&str> = result["isolation"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    for name in ["namespace:user", "namespace:network", "seccomp", "cgroup:memory", "cgroup:pids"] {
        assert!(isolation.contains(&name), "{name} missing from {isolation:?}");
    }
    assert!(result["stdout"].as_str().unwrap().contains("Seccomp:\t2"), "{result}");
}
