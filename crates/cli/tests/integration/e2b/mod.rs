//! E2B compatibility: the official E2B SDKs (Python `e2b` and `e2b-code-interpreter`, Node
//! `e2b` and `@e2b/code-interpreter`), unmodified, against a real daemon through
//! `E2B_API_URL` and `E2B_SANDBOX_URL`; and the E2B routes' answers to bad input, other
//! tenants and escape attempts over plain HTTP. The SDKs are installed, pinned, by
//! `scripts/install-test-tools.sh` (`SANDBOX_E2B_SDKS`).

mod boxes;
mod files;
pub(crate) mod http;
mod lifetimes;
mod listing;
mod one_registry;
mod ports;
mod process_tenants;
mod sdks;
mod trees;
pub(crate) mod wire;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{self, Daemon};

/// An E2B API key as the SDKs want it (`e2b_` and 40 hexadecimal digits).
pub const KEY: &str = "e2b_0000000000000000000000000000000000000000";
/// Another key: another tenant.
pub const OTHER_KEY: &str = "e2b_1111111111111111111111111111111111111111";

/// Where the SDKs are installed, or None (skipped with the reason printed) where sandbox
/// tests are not required and they are missing.
pub fn sdks() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("SANDBOX_E2B_SDKS").unwrap_or_else(|_| "/var/cache/sandbox-executor/e2b-sdks".into()),
    );
    let python = dir.join("venv/bin/python");
    let node = dir.join("node/node_modules/@e2b/code-interpreter");
    if python.exists() && node.exists() {
        return Some(dir);
    }
    let reason = format!("the E2B SDKs are not installed in {} (scripts/install-test-tools.sh)", dir.display());
    if common::sandbox_tests_required() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
    None
}

/// The environment that points the SDKs at `daemon`.
pub fn sdk_env(daemon: &Daemon) -> Vec<(String, String)> {
    vec![
        ("E2B_API_KEY".into(), KEY.into()),
        ("OTHER_API_KEY".into(), OTHER_KEY.into()),
        ("E2B_API_URL".into(), format!("{}/e2b", daemon.base)),
        ("E2B_SANDBOX_URL".into(), format!("{}/e2b/sandbox", daemon.base)),
        ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
        ("E2B_DEBUG".into(), "false".into()),
    ]
}

/// Runs `program` with `args` and the SDK environment; its last line of output is the JSON
/// object it prints.
pub async fn run_script(daemon: &Daemon, program: &Path, args: &[&Path], cwd: &Path) -> Value {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let stdout = run_program(daemon, program, &args, cwd).await;
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("the script's last line is not JSON ({e}):\n{stdout}"))
}

/// Runs `program` with `args` and the SDK environment, asserting success: its stdout.
pub async fn run_program(daemon: &Daemon, program: &Path, args: &[&std::ffi::OsStr], cwd: &Path) -> String {
    let mut command = Command::new(program);
    command.args(args).current_dir(cwd).envs(sdk_env(daemon));
    let shown = format!("{} {:?}", program.display(), args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("run {shown}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed ({}):\n{stdout}\n{stderr}", output.status);
    stdout.into_owned()
}

/// A script of this directory.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/e2b").join(name)
}

/// Builds the code interpreter's template (python-data) once before the SDKs ask for it, so
/// their create call does not wait for the build.
pub async fn prepare_code_interpreter(daemon: &Daemon) {
    let created = daemon.post("/session/create", &serde_json::json!({"template": "python-data"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["session_id"].as_str().unwrap();
    let destroyed = daemon.post("/session/destroy", &serde_json::json!({"session_id": id})).await;
    assert_eq!(destroyed.status, 200, "{}", destroyed.body);
}

/// The tenant the daemon makes of an API key.
pub fn tenant_of(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("e2b-{}", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>())
}
