//! The executor's MCP tools (`run_code`, `create_session`, `destroy_session`, `upload_file`,
//! `download_file`, `list_files`), written once over a [`Backend`]: the daemon serves them
//! in-process at `/mcp` (Streamable HTTP), and `sandbox-executor mcp` serves them over stdio,
//! calling a daemon over HTTP ([`HttpBackend`]).
#![forbid(unsafe_code)]

mod backend;
mod http;
mod tools;

use std::sync::Arc;

use rmcp::ServiceExt;

pub use backend::{Answer, ApiCall, Backend, BoxFuture, Failure, HttpCall, MAX_DOWNLOAD_BYTES};
pub use http::HttpBackend;
pub use rmcp;
pub use tools::SandboxTools;

/// Serves the tools over this process's stdin and stdout until the client closes them.
pub async fn serve_stdio(backend: Arc<dyn Backend>) -> Result<(), String> {
    let server = SandboxTools::new(backend)
        .serve(rmcp::transport::io::stdio_pipes())
        .await
        .map_err(|e| format!("the MCP session could not start: {e}"))?;
    server.waiting().await.map_err(|e| format!("the MCP session ended with an error: {e}"))?;
    Ok(())
}
