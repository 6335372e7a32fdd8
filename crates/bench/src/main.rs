//! `sandbox-bench`: starts a real daemon and measures it, printing figures.
#![forbid(unsafe_code)]

mod baseline;
mod daemon;
mod delivery;
mod e2b_sdk;
mod latency;
mod machine;
mod measure;
mod memory;
mod phases;
mod report;
mod stats;
mod workloads;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sandbox-bench", about = "Measures a real sandbox-executor daemon and prints the figures")]
struct Cli {
    /// The sandbox-executor binary (default: the one next to this program).
    #[arg(long, global = true)]
    daemon: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Result delivery latency to a control plane on loopback.
    Delivery(delivery::Args),
    /// Run latency, overhead, throughput and idle RSS, against bare-interpreter baselines.
    Latency(latency::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let binary = match cli.daemon {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("sandbox-executor"),
    };
    match cli.command {
        Command::Delivery(args) => delivery::run(&binary, args).await,
        Command::Latency(args) => latency::run(&binary, args).await,
    }
}
