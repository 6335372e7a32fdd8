//! The shape `e2b-sdk-run_code`: the official E2B Python SDK's `Sandbox.run_code` called N
//! times in a row on one sandbox of a fresh daemon, as an SDK user's loop calls it. Its time
//! is the SDK's whole call: its HTTP client on a kept-alive connection, the streamed answer
//! and its parsing, so a stall of the connection (a delayed ACK) shows in it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::daemon::Daemon;
use crate::stats::{self, Summary};

/// The program the SDK runs: prints `{"ms": [...]}`.
const SCRIPT: &str = include_str!("../scripts/e2b_run_code.py");
/// The SDK's key; a daemon without an API token takes any, as one tenant.
const KEY: &str = "e2b_0000000000000000000000000000000000000000";

/// The SDKs' Python, as `scripts/install-test-tools.sh` installs it.
pub fn default_python() -> PathBuf {
    let dir = std::env::var("SANDBOX_E2B_SDKS").unwrap_or_else(|_| "/var/cache/sandbox-executor/e2b-sdks".into());
    PathBuf::from(dir).join("venv/bin/python")
}

/// Starts a daemon of `binary` and times `runs` calls of `run_code` (after `warmup` others).
pub async fn measure(binary: &Path, python: &Path, warmup: usize, runs: usize) -> anyhow::Result<Summary> {
    if !python.is_file() {
        bail!("no E2B SDK at {} (scripts/install-test-tools.sh installs it, or pass --e2b-python)", python.display());
    }
    let daemon = Daemon::start(binary, &[]).await?;
    let script = tempfile::Builder::new().suffix(".py").tempfile()?;
    std::fs::write(script.path(), SCRIPT)?;
    let mut command = Command::new(python);
    command
        .arg(script.path())
        .env("E2B_API_KEY", KEY)
        .env("E2B_API_URL", format!("{}/e2b", daemon.base))
        .env("E2B_SANDBOX_URL", format!("{}/e2b/sandbox", daemon.base))
        .env("E2B_DEBUG", "false")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("RUNS", runs.to_string())
        .env("WARMUP", warmup.to_string());
    let output = tokio::task::spawn_blocking(move || command.output()).await?.context("running the E2B SDK")?;
    if !output.status.success() {
        bail!("the E2B SDK's run failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let printed: serde_json::Value = serde_json::from_str(last).with_context(|| format!("the SDK printed {stdout}"))?;
    let samples = printed["ms"].as_array().context("no timings")?;
    let samples = samples.iter().filter_map(|v| v.as_f64()).map(|ms| Duration::from_secs_f64(ms / 1000.0));
    Ok(stats::summarize(samples.collect()))
}
