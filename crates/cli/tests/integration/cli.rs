//! The command line as a user runs it: `run` and `check`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::{self, BIN};

fn workspace_root() -> tempfile::TempDir {
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::Builder::new().prefix("se-cli-").tempdir_in(root).unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

fn run(args: &[&str], stdin: Option<&str>, root: &tempfile::TempDir) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("WORKSPACE_PATH", root.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn sandbox_works(root: &tempfile::TempDir) -> bool {
    let out = run(&["check"], None, root);
    if !out.status.success() {
        let reason = format!("the sandbox does not work here: {}", String::from_utf8_lossy(&out.stdout));
        assert!(
            !common::sandbox_tests_required(),
            "{reason} (sandbox tests are required here: CI=true or SANDBOX_TESTS_REQUIRED=1)"
        );
        eprintln!("SKIP: {reason}");
    }
    out.status.success()
}

#[test]
fn run_prints_the_result_json_and_exits_with_the_programs_code() {
    let root = workspace_root();
    if !sandbox_works(&root) {
        return;
    }
    let script = root.path().join("script.py");
    std::fs::write(&script, "def handler(event):\n    print('side effect')\n    return {'twice': event['n'] * 2}\n")
        .unwrap();
    let out = run(&["run", "--language", "python", "--event", r#"{"n": 21}"#, script.to_str().unwrap()], None, &root);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is the result JSON");
    assert_eq!(result["status"], "success");
    assert_eq!(result["return_value"], serde_json::json!({"twice": 42}));
    assert_eq!(result["stdout"], "side effect\n");

    let out = run(&["run", "-l", "sh", "-"], Some("echo from stdin; exit 3"), &root);
    assert_eq!(out.status.code(), Some(3));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["stdout"], "from stdin\n");
    assert_eq!(result["status"], "failed");

    let out = run(&["run", "-l", "js", "--timeout", "1", "-"], Some("setInterval(() => {}, 1000)"), &root);
    assert_eq!(out.status.code(), Some(124), "a timeout exits 124");

    let out = run(&["run", "-l", "cobol", "-"], Some("x"), &root);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("language"), "{}", String::from_utf8_lossy(&out.stderr));
    // The command's private workspace root is gone afterwards.
    let left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("cli-"))
        .collect();
    assert!(left.is_empty(), "run left {left:?} behind");
}

#[test]
fn check_lists_every_layer_and_succeeds_on_a_capable_host() {
    let root = workspace_root();
    let out = run(&["check", "--json"], None, &root);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --json prints JSON");
    let layers = report["layers"].as_array().unwrap();
    for name in [
        "namespace:user",
        "namespace:mount",
        "namespace:pid",
        "namespace:network",
        "capabilities",
        "seccomp",
        "cgroup:memory",
        "cgroup:pids",
        "cgroup:cpu",
    ] {
        assert!(layers.iter().any(|l| l["name"] == name), "check does not report {name}");
    }
    assert_eq!(out.status.success(), report["ok"] == true, "the exit status must follow the verdict");
    let text = run(&["check"], None, &root);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("namespace:user") && (stdout.contains("active") || stdout.contains("missing")), "{stdout}");
}

#[test]
fn check_fails_when_the_sandbox_cannot_run() {
    let root = workspace_root();
    let out = Command::new(BIN)
        .args(["check", "--bash", "/nonexistent/bash"])
        .env("WORKSPACE_PATH", root.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "check passed with a missing interpreter");
    assert!(String::from_utf8_lossy(&out.stdout).contains("/nonexistent/bash"));
}
