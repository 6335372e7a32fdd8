//! `sandbox-executor serve`: the HTTP daemon.

use std::process::ExitCode;

use crate::config::ServeArgs;

pub async fn serve(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("serve is being wired")
}
