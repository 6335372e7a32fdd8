//! The executor's MCP tools (`run_code`, `create_session`, `destroy_session`, `upload_file`,
//! `download_file`, `list_files`), written once over a [`Backend`]: the daemon serves them
//! in-process at `/mcp` (Streamable HTTP), and `sandbox-executor mcp` serves them over stdio,
//! calling a daemon over HTTP ([`HttpBackend`]).
#![forbid(unsafe_code)]

mod backend;
mod exact;
mod http;
mod tools;

use std::sync::Arc;

use rmcp::ServiceExt;

pub use backend::{Answer, ApiCall, Backend, BoxFuture, Failure, HttpCall, MAX_DOWNLOAD_BYTES};
pub use exact::Splices;
pub use http::{BackendConfigError, HttpBackend};
pub use rmcp;
pub use tools::SandboxTools;

/// Serves the tools over this process's stdin and stdout until the client closes them. Each
/// message goes out through [`Splices`], a line at a time (the transport's framing), so a
/// result's structured content is the API's exact text.
pub async fn serve_stdio(backend: Arc<dyn Backend>) -> Result<(), StdioError> {
    let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
    let (messages, written) = tokio::io::duplex(64 * 1024);
    let splices = Splices::default();
    let out = tokio::spawn(write_out(written, stdout, splices.clone()));
    let server = SandboxTools::new(backend)
        .with_splices(splices)
        .serve((stdin, messages))
        .await
        .map_err(|e| StdioError::Start(Box::new(e)))?;
    let ended = server.waiting().await.map_err(StdioError::Ended);
    out.await.map_err(StdioError::Writer)??;
    ended.map(drop)
}

/// Why the stdio session failed.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("the MCP session could not start: {0}")]
    Start(Box<rmcp::service::ServerInitializeError>),
    #[error("the MCP session ended with an error: {0}")]
    Ended(tokio::task::JoinError),
    #[error("the MCP session's output failed: {0}")]
    Writer(tokio::task::JoinError),
    #[error("the MCP session's output failed: {0}")]
    Output(#[from] std::io::Error),
}

/// Copies the server's messages to `stdout`, each with its results' exact text.
async fn write_out(
    written: tokio::io::DuplexStream,
    mut stdout: impl tokio::io::AsyncWrite + Unpin,
    splices: Splices,
) -> Result<(), StdioError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut lines = tokio::io::BufReader::new(written).lines();
    while let Some(line) = lines.next_line().await? {
        let line = splices.apply(line);
        stdout.write_all(line.as_bytes()).await?;
        stdout.write_all(b"\n").await?;
        stdout.flush().await?;
    }
    Ok(())
}
