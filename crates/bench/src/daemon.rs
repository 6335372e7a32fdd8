//! A daemon started for a benchmark, on a free loopback port with its own state.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct Daemon {
    child: Child,
    pub base: String,
    _state: tempfile::TempDir,
}

impl Daemon {
    pub async fn start(binary: &Path, env: &[(&str, String)]) -> anyhow::Result<Daemon> {
        let state = tempfile::Builder::new().prefix("sandbox-bench-").tempdir()?;
        std::fs::set_permissions(state.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("EXECUTOR_PORT", port.to_string())
            .env("STATE_DIR", state.path())
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;
        let daemon = Daemon { child, base: format!("http://127.0.0.1:{port}"), _state: state };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/health", daemon.base)).send().await {
                if r.status().is_success() {
                    return Ok(daemon);
                }
                bail!("the daemon is unhealthy: {}", r.text().await.unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        bail!("the daemon did not come up")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}
