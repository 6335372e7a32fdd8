//! `sandbox-executor mcp`: the MCP tools over stdio, for agents that start a process (desktop
//! clients), calling a running daemon over HTTP. The tools, their descriptions and their
//! results are those the daemon serves at `/mcp`.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;
use mcp_tools::HttpBackend;

#[derive(Args, Debug)]
pub struct McpArgs {
    /// The daemon's base URL.
    #[arg(long, env = "EXECUTOR_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The daemon's API token, when it has one (also read from EXECUTOR_API_KEY).
    #[arg(long, env = "EXECUTOR_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The tenant every call is made for (sent as X-Tenant-ID); default: the daemon's `default`.
    #[arg(long, env = "EXECUTOR_TENANT_ID")]
    pub tenant: Option<String>,
}

pub async fn mcp(args: McpArgs) -> anyhow::Result<ExitCode> {
    let token = args.token.or_else(|| std::env::var("EXECUTOR_API_KEY").ok()).filter(|t| !t.is_empty());
    let backend = HttpBackend::new(&args.url, token.as_deref(), args.tenant.as_deref()).map_err(|e| anyhow!(e))?;
    mcp_tools::serve_stdio(Arc::new(backend)).await.map_err(|e| anyhow!(e))?;
    Ok(ExitCode::SUCCESS)
}
