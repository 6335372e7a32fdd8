//! A client generated from the committed OpenAPI document by a common generator
//! (openapi-python-client, installed pinned by `scripts/install-test-tools.sh` in
//! `SANDBOX_OPENAPI_CLIENT`) runs code against a real daemon with every field of the request
//! set as a typed argument: language, files (text and base64), environment and template.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{self, Daemon};

const TOKEN: &str = "generated-client-token";

/// The generator's venv, or None (skipped with the reason printed) off CI when it is missing.
fn generator() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("SANDBOX_OPENAPI_CLIENT").unwrap_or_else(|_| "/var/cache/sandbox-executor/openapi-client".into()),
    );
    if dir.join("bin/openapi-python-client").exists() {
        return Some(dir);
    }
    let reason = format!("openapi-python-client is not installed in {} (scripts/install-test-tools.sh)", dir.display());
    if common::sandbox_tests_required() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
    None
}

fn run(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let output = command.output().unwrap_or_else(|e| panic!("run {shown}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{shown} failed ({}):\n{stdout}\n{stderr}", output.status);
    stdout
}

/// Generates the client package `sandbox_client` from docs/openapi.json into `dir`.
fn generate(venv: &Path, dir: &Path) {
    let document = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let mut command = Command::new(venv.join("bin/openapi-python-client"));
    command
        .args(["generate", "--meta", "none", "--path"])
        .arg(&document)
        .arg("--output-path")
        .arg(dir.join("sandbox_client"))
        .current_dir(dir);
    let out = run(&mut command);
    assert!(dir.join("sandbox_client/models/execute_request.py").exists(), "no ExecuteRequest model:\n{out}");
}

#[tokio::test]
async fn a_generated_python_client_sets_every_field_of_a_run() {
    let Some(venv) = generator() else { return };
    let daemon = Daemon::start_with(&[("EXECUTOR_API_TOKEN", TOKEN)]).await;
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    generate(&venv, scratch.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/openapi_client/run_code.py");
    let mut command = Command::new(venv.join("bin/python"));
    // The lightest template there is, named explicitly.
    command
        .arg(&script)
        .arg("default")
        .env("PYTHONPATH", scratch.path())
        .env("BASE_URL", &daemon.base)
        .env("TOKEN", TOKEN)
        .env("NO_PROXY", "127.0.0.1,localhost");
    let stdout = tokio::task::spawn_blocking(move || run(&mut command)).await.unwrap();
    let out: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the script's last line is not JSON ({e}):\n{stdout}"));
    for run in ["python", "shell"] {
        assert_eq!(out[run]["status"], 200, "{out}");
        assert_eq!(out[run]["model"], "ExecutionResult", "the answer did not parse as its schema: {out}");
    }
    assert_eq!(out["python"]["stdout"], "from the client hello binary\n", "{out}");
    assert_eq!(out["shell"]["stdout"], "hello from the shell\n", "{out}");
}
