//! Required isolation layers: the daemon refuses to start without one, says which and why,
//! and every result names the layers it ran under.

use crate::common;
use std::process::{Command, Stdio};

use crate::common::Daemon;
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

/// A daemon that is not root, on a host where a root daemon made the cgroup parents before it
/// (they outlive it): each layer is reported by its own state, once. The cgroup controllers it
/// cannot write to are missing, each with why; the namespaces, seccomp and Landlock are not
/// missing because of them, and runs work.
#[tokio::test]
async fn an_unprivileged_daemon_reports_each_layer_by_its_own_reason() {
    if !common::is_root() {
        assert!(
            !common::sandbox_tests_required(),
            "this test starts a root daemon, so needs root (sandbox tests are required here)"
        );
        eprintln!("skipped: a root daemon (which makes the cgroup parents) needs the tests to run as root");
        return;
    }
    drop(Daemon::start().await);
    let daemon = Daemon::start_unprivileged(&[("SANDBOX_REQUIRE", "namespaces,seccomp")]).await;
    let info = daemon.get("/info").await.body;
    let layers = info["isolation"]["layers"].as_array().cloned().unwrap_or_default();
    let shown: Vec<String> =
        layers.iter().map(|l| format!("{}: {} ({})", l["name"], l["active"], l["detail"])).collect();
    let shown = shown.join("\n");
    for layer in &layers {
        let (name, detail) = (layer["name"].as_str().unwrap(), layer["detail"].as_str().unwrap());
        assert!(!detail.contains("self-test failed"), "the self-test failed:\n{shown}");
        if name.starts_with("namespace:") || (name == "seccomp" && seccomp_supported()) {
            assert_eq!(layer["active"], true, "{name} is not in force:\n{shown}");
        }
        if !name.starts_with("cgroup:") {
            assert!(!detail.contains("cgroup"), "{name} is reported by a cgroup's reason:\n{shown}");
        } else if layer["active"] == false {
            // Its own controller's reason: the path it could not write names that controller.
            let controller = name.trim_start_matches("cgroup:");
            assert!(detail.contains(controller) && !detail.is_empty(), "{name} without its own reason:\n{shown}");
        }
    }
    let health = daemon.get("/health").await;
    assert_eq!(health.status, 200, "{}", health.body);
    let r = daemon.execute(json!({"code": "print(6 * 7)", "language": "python"})).await;
    assert_eq!(r["stdout"], "42\n", "{r}");
    // Its workspaces are plain directories: removing one is no failed unmount.
    let log = daemon.log();
    assert!(!log.contains("cannot unmount workspace"), "{log}");
}
