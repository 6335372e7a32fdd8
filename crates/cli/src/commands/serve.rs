//! `sandbox-executor serve`: the HTTP daemon.

use std::process::ExitCode;

use anyhow::{anyhow, Context};
use executor::ExecutionService;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{default_state_dir, ServeArgs};

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(&args.log_level)?;
    let addr = args.listen_addr();
    if args.control_plane_url.is_some() || args.internal_api_token.is_some() {
        tracing::warn!("CONTROL_PLANE_URL is set, but this version does not deliver results to a control plane; results are returned to the HTTP caller only");
    }
    let workspace_root = args.sandbox.workspace_path.clone().unwrap_or_else(|| default_state_dir().join("workspaces"));
    let config = args.sandbox.into_config(workspace_root)?;
    let service =
        ExecutionService::new(config, executor::ServiceOptions::default()).await.map_err(|e| anyhow!("{e}"))?;
    match service.health() {
        Ok(()) => tracing::info!("sandbox self-test passed"),
        Err(reason) => tracing::error!(%reason, "serving, but /health answers 503 and runs fail until this is fixed"),
    }
    let router = server::app(
        service.clone(),
        server::AppOptions { max_body_bytes: args.max_body_bytes, ..server::AppOptions::default() },
    );
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(%addr, "listening");
    server::serve(listener, router, shutdown_signal()).await.context("HTTP server failed")?;
    service.shutdown();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}

/// Accepts the seed's level names (INFO, WARNING) as well as tracing's.
fn init_logging(level: &str) -> anyhow::Result<()> {
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" | "fatal" => "error".to_string(),
        other => other.to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .map_err(|e| anyhow!("LOG_LEVEL {level:?} is not a level (trace, debug, info, warn, error): {e}"))?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    Ok(())
}
