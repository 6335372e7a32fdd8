//! `sandbox-executor check`: which isolation layers this host supports.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use executor::ExecutionService;

use crate::config::SandboxArgs;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

pub async fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let root = args.sandbox.private_root("check");
    let config = args.sandbox.into_config(root.clone(), &crate::config::state_dir_from_env())?;
    let service = ExecutionService::new(config, executor::ServiceOptions::default()).await.map_err(|e| anyhow!("{e}"));
    let _ = sandbox::workspace_fs::remove_tree(&root);
    let service = service?;
    let info = service.info();
    let missing = service.missing_required();
    if json {
        let report = serde_json::json!({
            "ok": missing.is_empty() && service.health().is_ok(),
            "health": service.health().err().map(|e| e.to_string()),
            "missing_required": missing,
            "layers": info.isolation.layers,
            "languages": info.languages,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for layer in &info.isolation.layers {
            let mark = if layer.active { "active " } else { "missing" };
            let required = if layer.required { "required" } else { "" };
            println!("{mark}  {:<22} {required:<8}  {}", layer.name, layer.detail);
        }
        for lang in &info.languages {
            let version = lang.version.as_deref().unwrap_or("not found");
            println!("{:<8} {:<22} {version}", "language", lang.language.name());
        }
        if let Err(reason) = service.health() {
            println!("\nthe sandbox does not work on this host: {reason}");
        }
        if !missing.is_empty() {
            println!("\nrequired layers missing: {}", missing.join(", "));
        }
    }
    Ok(if missing.is_empty() && service.health().is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
