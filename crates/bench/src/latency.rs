//! Run latency: end-to-end HTTP latency of each request shape with the path that served it,
//! executor overhead and per-phase means, throughput at a concurrency, the daemon's idle RSS
//! and the PSS of its ready sandboxes, and the bare interpreters (plainly and under
//! bubblewrap) in the same run, with ratios and the targets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use serde_json::Value;

use crate::baseline::{self, Launcher, Timings};
use crate::daemon::Daemon;
use crate::machine::{rss_mb, Machine};
use crate::report::{BaselineRow, PathReport, ReadyMemory, Report};
use crate::workloads::{self, Endpoint, PYTHON_DATA};
use crate::{e2b_sdk, measure, memory};

#[derive(ClapArgs)]
pub struct Args {
    /// Sequential runs of each light request shape (and of its baselines).
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Sequential runs of the heavy shapes, python-data and the NVIDIA numpy+pandas snippet
    /// (each imports pandas when it runs cold or bare).
    #[arg(long, default_value_t = 10)]
    data_runs: usize,
    /// Unmeasured runs of each workload first (page cache, template first use).
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Concurrent requests in the throughput phase (Python hello-world).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Requests in the throughput phase.
    #[arg(long, default_value_t = 200)]
    throughput_runs: usize,
    /// Which launch path to measure; `warm` needs a daemon whose GET /info advertises `warm`.
    #[arg(long, value_enum, default_value_t = PathChoice::Both)]
    path: PathChoice,
    /// Template environments to use (built here first if python-data is not built yet),
    /// e.g. an existing build to save minutes. Default: a directory under $TMPDIR kept between runs.
    #[arg(long)]
    templates_dir: Option<PathBuf>,
    /// The package cache for a template build (default: `cache` next to the templates dir).
    #[arg(long)]
    package_cache_dir: Option<PathBuf>,
    /// The bubblewrap binary for the bwrap baseline (default: `bwrap` on PATH, else skipped).
    #[arg(long)]
    bwrap: Option<PathBuf>,
    /// Skip the baselines.
    #[arg(long)]
    no_baseline: bool,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Measure this one shape alone, with `--runs` and `--warmup` (e2b-sdk-run_code: the
    /// official E2B Python SDK's `Sandbox.run_code`, which the other shapes do not include).
    #[arg(long, value_enum)]
    shape: Option<OnlyShape>,
    /// The Python of the E2B SDK (default: `$SANDBOX_E2B_SDKS/venv/bin/python`).
    #[arg(long)]
    e2b_python: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnlyShape {
    #[value(name = "e2b-sdk-run_code")]
    E2bSdkRunCode,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PathChoice {
    Warm,
    Cold,
    Both,
}

/// Progress goes to stderr so that `--json` output stays clean.
macro_rules! note {
    ($($arg:tt)*) => { eprintln!("[bench] {}", format!($($arg)*)) };
}

pub async fn run(binary: &Path, args: Args) -> anyhow::Result<()> {
    if args.shape == Some(OnlyShape::E2bSdkRunCode) {
        return e2b_sdk_run_code(binary, &args).await;
    }
    let machine = Machine::read();
    let templates = match &args.templates_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join("sandbox-bench").join("templates"),
    };
    let cache = args.package_cache_dir.clone().unwrap_or_else(|| templates.with_file_name("cache"));
    let template_env = [
        ("SANDBOX_TEMPLATES_DIR", templates.display().to_string()),
        ("SANDBOX_PACKAGE_CACHE_DIR", cache.display().to_string()),
    ];
    ensure_template_built(binary, &template_env)?;

    let daemon = Daemon::start(binary, &template_env).await?;
    let client = reqwest::Client::new();
    let info = get_info(&client, &daemon.base).await?;
    let warm_advertised = info.get("warm").is_some_and(|w| !w.is_null() && *w != Value::Bool(false));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_start = rss_mb(daemon.pid());
    let js_memory_mb = workloads::other_memory_mb(info["limits"]["default_memory_mb"].as_u64());

    let mut notes = Vec::new();
    let mut paths = Vec::new();
    for (name, warm) in [("warm", true), ("cold", false)] {
        let wanted = args.path == PathChoice::Both || (args.path == PathChoice::Warm) == warm;
        if !wanted {
            continue;
        }
        if warm && !warm_advertised {
            notes.push("warm path: not available in this build (GET /info has no `warm`)".to_owned());
            continue;
        }
        // `warm` is a request field only on daemons that advertise a warm path.
        let choice = warm_advertised.then_some(warm);
        // Requests that cannot choose their path (sessions) are measured in the first pass only.
        let first = paths.is_empty();
        paths.push(measure_path(&client, &daemon.base, name, choice, first, js_memory_mb, &args).await?);
    }
    let ready = ready_memory(&client, &daemon).await?;
    let rss_idle_after = rss_mb(daemon.pid());
    drop(daemon);

    let baselines =
        if args.no_baseline { Vec::new() } else { measure_baselines(&templates, &args, &mut notes).await? };
    let report = Report {
        machine,
        daemon_version: info["version"].as_str().unwrap_or("unknown").to_owned(),
        warm_advertised,
        paths,
        baselines,
        rss_idle_start,
        rss_idle_after,
        ready,
        notes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// The shape `e2b-sdk-run_code` alone.
async fn e2b_sdk_run_code(binary: &Path, args: &Args) -> anyhow::Result<()> {
    let python = args.e2b_python.clone().unwrap_or_else(e2b_sdk::default_python);
    note!("e2b-sdk-run_code x{}", args.runs);
    let summary = e2b_sdk::measure(binary, &python, args.warmup, args.runs).await?;
    match args.json {
        true => println!("{}", serde_json::json!({"e2b-sdk-run_code": summary.to_json()})),
        false => println!("e2b-sdk-run_code  {summary}"),
    }
    Ok(())
}

async fn get_info(client: &reqwest::Client, base: &str) -> anyhow::Result<Value> {
    Ok(client.get(format!("{base}/info")).send().await?.error_for_status()?.json().await?)
}

/// Once the pools have refilled after the runs (or 5 s have passed): the ready sandboxes and
/// zygotes, the daemon's children, with their PSS, and the pools as GET /info lists them.
async fn ready_memory(client: &reqwest::Client, daemon: &Daemon) -> anyhow::Result<ReadyMemory> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut pools = Value::Null;
    while Instant::now() < deadline {
        let info = get_info(client, &daemon.base).await?;
        pools = info["warm"]["pools"].clone();
        let size = info["warm"]["pool_size"].as_u64().unwrap_or(0);
        let full = pools.as_array().is_some_and(|all| all.iter().all(|p| p["ready"].as_u64() >= Some(size.min(1))));
        if full {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, so that a pool topping up its last sandbox is counted whole.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(ReadyMemory {
        sandboxes: memory::ready_sandboxes(daemon.pid()),
        daemon_pss_kb: memory::pss_kb(daemon.pid()),
        pools,
    })
}

/// Builds the python-data template with the daemon's settings unless it is built already
/// (so that a shared, already-built directory is only read).
fn ensure_template_built(binary: &Path, env: &[(&str, String)]) -> anyhow::Result<()> {
    let state = tempfile::Builder::new().prefix("sandbox-bench-templates-").tempdir()?;
    let templates = |args: &[&str]| {
        let mut command = Command::new(binary);
        command.arg("templates").args(args).env("STATE_DIR", state.path()).env("LOG_LEVEL", "warn");
        for (k, v) in env {
            command.env(k, v);
        }
        command
    };
    let list = templates(&["list", "--json"]).output().context("listing templates")?;
    let listed: Value = serde_json::from_slice(&list.stdout)
        .with_context(|| format!("templates list: {}", String::from_utf8_lossy(&list.stderr)))?;
    let built = listed["templates"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["name"] == PYTHON_DATA))
        .is_some_and(|t| t["built"] == true);
    if built {
        return Ok(());
    }
    if let Some((_, dir)) = env.first() {
        std::fs::create_dir_all(dir)?;
    }
    note!("building the {PYTHON_DATA} template (once; minutes at worst)");
    let status = templates(&["build", PYTHON_DATA]).status().context("building the template")?;
    if !status.success() {
        bail!("building the {PYTHON_DATA} template failed ({status})");
    }
    Ok(())
}

async fn measure_path(
    client: &reqwest::Client,
    base: &str,
    path: &'static str,
    warm: Option<bool>,
    first: bool,
    js_memory_mb: u64,
    args: &Args,
) -> anyhow::Result<PathReport> {
    let mut rows = Vec::new();
    for workload in workloads::all(js_memory_mb) {
        if workload.endpoint != Endpoint::Execute && !first {
            continue;
        }
        let runs = if workload.heavy { args.data_runs } else { args.runs };
        note!("{path}: {} x{runs}", workload.name);
        rows.push(measure::sequential(client, base, &workload, warm, args.warmup, runs).await);
    }
    note!("{path}: throughput, {} python-hello at concurrency {}", args.throughput_runs, args.concurrency);
    let hello = workloads::all(js_memory_mb).remove(0);
    let throughput = measure::throughput(client, base, hello, warm, args.concurrency, args.throughput_runs).await;
    Ok(PathReport { path, rows, throughput })
}

async fn measure_baselines(templates: &Path, args: &Args, notes: &mut Vec<String>) -> anyhow::Result<Vec<BaselineRow>> {
    let bwrap = match args.bwrap.clone().or_else(baseline::find_bwrap) {
        None => {
            notes.push("bwrap baseline: skipped, bubblewrap is not installed (scripts/bench-setup.sh installs it, or pass --bwrap PATH)".to_owned());
            None
        }
        Some(bwrap) => match baseline::bwrap_unusable(&bwrap) {
            Some(why) => {
                notes.push(format!("bwrap baseline: skipped, {} cannot run a sandbox here: {why}", bwrap.display()));
                None
            }
            None => Some(bwrap),
        },
    };
    let mut rows = Vec::new();
    for (name, argv, heavy) in baseline::programs(templates) {
        let (warmup, runs) = (args.warmup, if heavy { args.data_runs } else { args.runs });
        note!("baseline: {name} x{runs}");
        let bare = blocking(Launcher::Bare, argv.clone(), warmup, runs).await?;
        let bwrap = match &bwrap {
            Some(bwrap) => {
                let launcher = Launcher::Bwrap { bwrap: bwrap.clone(), templates: templates.to_owned() };
                note!("baseline under bwrap: {name} x{runs}");
                Some(blocking(launcher, argv.clone(), warmup, runs).await?)
            }
            None => None,
        };
        rows.push(BaselineRow { name, command: argv.join(" "), bare, bwrap });
    }
    Ok(rows)
}

async fn blocking(launcher: Launcher, argv: Vec<String>, warmup: usize, runs: usize) -> anyhow::Result<Timings> {
    tokio::task::spawn_blocking(move || baseline::measure(&launcher, &argv, warmup, runs)).await?
}
