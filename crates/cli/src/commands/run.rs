//! `sandbox-executor run`: one execution from the command line, result JSON on stdout.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::Args;
use executor::validate::{build_request, RequestDraft};
use executor::{ExecutionService, ExecutionStatus, RequestedLimits};

use crate::config::SandboxArgs;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The program: a file, or `-` to read it from standard input.
    pub file: PathBuf,
    /// python, javascript or shell (aliases: py, js, node, bash, sh); default python, or the
    /// template's language.
    #[arg(short, long)]
    pub language: Option<String>,
    /// Seconds before the run is killed (default 30, or the template's).
    #[arg(short, long)]
    pub timeout: Option<f64>,
    /// JSON event handed to a handler.
    #[arg(long)]
    pub event: Option<String>,
    /// Text fed to the program's standard input.
    #[arg(long)]
    pub stdin: Option<String>,
    /// Environment variable for the program, NAME=VALUE (repeatable).
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env_vars: Vec<String>,
    /// Memory per process in MiB.
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Run in this template's environment (built first if needed); see `templates list`.
    #[arg(long)]
    pub template: Option<String>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Exit status: the program's own exit code, 124 on timeout (as timeout(1) does), 125 when
/// the sandbox could not run it.
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let code = read_program(&args.file)?;
    let event = args.event.as_deref().map(serde_json::from_str).transpose().context("--event is not valid JSON")?;
    let env_vars = args
        .env_vars
        .iter()
        .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect::<Option<BTreeMap<_, _>>>()
        .ok_or_else(|| anyhow!("--env takes NAME=VALUE"))?;
    let root = args.sandbox.private_root("cli");
    let config = args.sandbox.into_config(root.clone(), &crate::config::state_dir_from_env())?;
    let service =
        ExecutionService::new(config, executor::ServiceOptions::default()).await.map_err(|e| anyhow!("{e}"))?;
    if let Err(reason) = service.health() {
        let _ = sandbox::workspace_fs::remove_tree(&root);
        return Err(anyhow!("the sandbox does not work on this host: {reason}"));
    }
    let template = args.template.as_deref().map(|name| service.templates().get(name)).transpose();
    let outcome = match template {
        Ok(template) => {
            let draft = RequestDraft {
                // The template's language, timeout and memory unless given.
                language: args.language,
                template,
                code,
                timeout_secs: args.timeout,
                event,
                stdin: args.stdin,
                env_vars,
                limits: RequestedLimits { memory_mb: args.memory_mb, ..Default::default() },
                ..Default::default()
            };
            match build_request(draft, service.limits()) {
                Ok(request) => service.execute(request).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.into()),
    };
    service.shutdown(std::time::Duration::ZERO).await;
    let _ = sandbox::workspace_fs::remove_tree(&root);
    let result = outcome.map_err(|e| anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(match result.status {
        ExecutionStatus::Timeout => ExitCode::from(124),
        _ => ExitCode::from(result.exit_code.clamp(0, 255) as u8),
    })
}

fn read_program(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut code = String::new();
        std::io::stdin().read_to_string(&mut code).context("reading the program from standard input")?;
        Ok(code)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    }
}
