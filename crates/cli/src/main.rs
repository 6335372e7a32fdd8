//! `sandbox-executor`: the daemon (`serve`), one-shot runs (`run`), the host check (`check`),
//! template builds (`templates`) and the MCP tools over stdio (`mcp`).
#![forbid(unsafe_code)]

mod commands;
mod config;
#[cfg(test)]
mod documented_env;
mod egress_args;
mod peer_args;
mod port_args;
mod session_args;
mod telemetry;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sandbox-executor",
    version,
    about = "Runs untrusted Python, JavaScript and Shell code in a Linux sandbox"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(Box<config::ServeArgs>),
    /// Run one program in the sandbox and print the result as JSON.
    Run(commands::run::RunArgs),
    /// Report which isolation layers this host supports; exits non-zero when one is missing.
    Check(commands::check::CheckArgs),
    /// List templates, or build their environments ahead of their first run.
    Templates(commands::templates::TemplatesArgs),
    /// Serve the MCP tools over stdio (for desktop agents), calling a running daemon over HTTP.
    Mcp(commands::mcp::McpArgs),
}

fn main() -> std::process::ExitCode {
    // The init child must stay single-threaded: dispatch before anything starts a thread.
    if std::env::args_os().nth(1).is_some_and(|a| a == sandbox::init::INIT_ARG) {
        sandbox::init::main();
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => commands::serve::serve(*args).await,
            Command::Run(args) => commands::run::run(args).await,
            Command::Check(args) => commands::check::check(args).await,
            Command::Templates(args) => commands::templates::templates(args).await,
            Command::Mcp(args) => commands::mcp::mcp(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
