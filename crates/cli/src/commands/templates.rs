//! `sandbox-executor templates list|build`: the templates a daemon with the same settings
//! would offer, and building their environments ahead of the first run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::{Args, Subcommand};
use executor::{Template, Templates};

use crate::config::SandboxArgs;

#[derive(Args, Debug)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub action: TemplatesAction,
}

#[derive(Subcommand, Debug)]
pub enum TemplatesAction {
    /// List every template, with its packages and limits, and whether it is built.
    List {
        /// Print the list as JSON (as GET /templates answers).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Build template environments; without names, every built-in template with packages.
    /// Exits non-zero when a build fails.
    Build {
        /// Templates to build.
        names: Vec<String>,
        #[command(flatten)]
        settings: Settings,
    },
}

/// The settings `serve` takes for templates: the same flags and variables.
#[derive(Args, Debug)]
pub struct Settings {
    /// State directory, under which templates live by default.
    #[arg(long, env = "STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// How often a running build reports that it is still at work.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub async fn templates(args: TemplatesArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        TemplatesAction::List { json, settings } => list(&open(settings)?, json),
        TemplatesAction::Build { names, settings } => build(&open(settings)?, &names).await,
    }
}

fn open(settings: Settings) -> anyhow::Result<Templates> {
    let state_dir = settings.state_dir.unwrap_or_else(crate::config::default_state_dir);
    // The workspace root is not used: nothing runs here.
    let config = settings.sandbox.into_config(state_dir.join("workspaces"), &state_dir)?;
    Templates::open(&config.templates, &config.runtimes, &config.limits).map_err(|e| anyhow!("templates: {e}"))
}

fn list(templates: &Templates, json: bool) -> anyhow::Result<ExitCode> {
    let all = templates.list();
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"status": "success", "templates": all}))?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<20} {:<11} {:>7} {:>8} {:<6} PACKAGES", "NAME", "LANGUAGE", "MEMORY", "TIMEOUT", "BUILT");
    for t in all {
        let built = if t.built { "yes" } else { "no" };
        let packages = if t.packages.is_empty() { "-".to_owned() } else { t.packages.join(" ") };
        let memory = format!("{}M", t.limits.memory_mb);
        let timeout = format!("{}s", t.limits.timeout_secs);
        println!("{:<20} {:<11} {memory:>7} {timeout:>8} {built:<6} {packages}", t.name, t.language.name());
    }
    Ok(ExitCode::SUCCESS)
}

async fn build(templates: &Templates, names: &[String]) -> anyhow::Result<ExitCode> {
    let chosen: Vec<Result<Template, String>> = if names.is_empty() {
        let builtin = |t: &Template| t.origin == executor::templates::Origin::Builtin && t.needs_build();
        templates.all().into_iter().filter(builtin).map(Ok).collect()
    } else {
        names.iter().map(|name| templates.get(name).map_err(|e| e.to_string())).collect()
    };
    let mut failed = 0;
    for template in chosen {
        let outcome = match template {
            Ok(template) => build_one(templates, &template).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            eprintln!("error: {e}");
            failed += 1;
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn build_one(templates: &Templates, template: &Template) -> Result<(), String> {
    let name = &template.name;
    if !template.needs_build() {
        println!("{name}: nothing to build (no packages: runs use the system {})", template.language.name());
        return Ok(());
    }
    if templates.is_built(template) {
        println!("{name}: already built in {}", templates.build_dir(template).join("env").display());
        return Ok(());
    }
    println!("{name}: building {} with {}", template.language.name(), template.packages.join(" "));
    let log = templates.build_dir(template).join("build.log");
    let started = Instant::now();
    let build = templates.prepare(template);
    tokio::pin!(build);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let outcome = loop {
        tokio::select! {
            outcome = &mut build => break outcome,
            _ = ticks.tick() => {
                let last = last_line(&log).unwrap_or_default();
                println!("{name}: still building after {:.0} s: {last}", started.elapsed().as_secs_f64());
            }
        }
    };
    match outcome {
        Ok(_) => {
            println!("{name}: built in {:.1} s (log: {})", started.elapsed().as_secs_f64(), log.display());
            Ok(())
        }
        Err(executor::TemplateError::Build { reason, log_tail, .. }) => {
            Err(format!("{name}: the build failed: {reason}\n{log_tail}\n(full log: {})", log.display()))
        }
        Err(e) => Err(format!("{name}: {e}")),
    }
}

/// The build log's last non-empty line, to show what the build is at.
fn last_line(log: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned)
}
