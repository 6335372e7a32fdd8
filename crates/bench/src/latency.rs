//! Run latency: end-to-end HTTP latency of each workload, executor overhead, throughput at a
//! concurrency, the daemon's idle RSS, and the same workloads on the bare interpreter (plainly
//! and under bubblewrap) in the same run, with ratios.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, ValueEnum};
use serde_json::Value;

use crate::baseline::{self, Launcher, Timings};
use crate::daemon::Daemon;
use crate::machine::{rss_mb, Machine};
use crate::report::{BaselineRow, PathReport, Report, Throughput, WorkloadRow};
use crate::stats::summarize;
use crate::workloads::{self, Workload, PYTHON_DATA};

#[derive(ClapArgs)]
pub struct Args {
    /// Sequential runs of each light workload.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Sequential runs of the python-data workload (each imports pandas and matplotlib).
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
    let info: Value = client.get(format!("{}/info", daemon.base)).send().await?.error_for_status()?.json().await?;
    let warm_advertised = info.get("warm").is_some_and(|w| !w.is_null() && *w != Value::Bool(false));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_start = rss_mb(daemon.pid());

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
        paths.push(measure_path(&client, &daemon.base, name, choice, &args).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
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
        notes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{report}");
    }
    Ok(())
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
    args: &Args,
) -> anyhow::Result<PathReport> {
    let mut rows = Vec::new();
    for workload in workloads::all() {
        let runs = if workload.heavy { args.data_runs } else { args.runs };
        note!("{path}: {} x{runs}", workload.name);
        rows.push(sequential(client, base, &workload, warm, args.warmup, runs).await);
    }
    note!("{path}: throughput, {} python-hello at concurrency {}", args.throughput_runs, args.concurrency);
    let throughput = throughput(client, base, warm, args.concurrency, args.throughput_runs).await;
    Ok(PathReport { path, rows, throughput })
}

/// One execution: its end-to-end time, the sandbox's own wall time and the reply, or why it
/// failed. The clock stops when the whole reply has arrived, before it is parsed.
async fn execute(client: &reqwest::Client, base: &str, body: &Value) -> Result<(Duration, Duration, Value), String> {
    let start = Instant::now();
    let response = client.post(format!("{base}/execute")).json(body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let reply: Value = serde_json::from_slice(&bytes).map_err(|e| format!("HTTP {status}: {e}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", reply["error"]));
    }
    let inside = reply["metrics"]["duration_ms"].as_f64().ok_or("no metrics.duration_ms")?;
    Ok((took, Duration::from_secs_f64(inside.max(0.0) / 1000.0), reply))
}

async fn sequential(
    client: &reqwest::Client,
    base: &str,
    workload: &Workload,
    warm: Option<bool>,
    warmup: usize,
    runs: usize,
) -> WorkloadRow {
    let body = workload.request(warm);
    let (mut e2e, mut overhead, mut errors, mut first_error) = (Vec::new(), Vec::new(), 0, None);
    let mut served_warm = 0;
    for i in 0..warmup + runs {
        let result = execute(client, base, &body).await.and_then(|(took, inside, reply)| {
            let warm = reply["metrics"]["path"] == "warm" || reply["metrics"]["path"] == "forked";
            workload.failure(&reply).map_or(Ok((took, inside, warm)), Err)
        });
        if i < warmup {
            continue;
        }
        match result {
            Ok((took, inside, warm)) => {
                e2e.push(took);
                overhead.push(took.saturating_sub(inside));
                served_warm += usize::from(warm);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let (e2e, overhead) = (summarize(e2e), summarize(overhead));
    WorkloadRow { name: workload.name, e2e, overhead, errors, first_error, served_warm }
}

async fn throughput(
    client: &reqwest::Client,
    base: &str,
    warm: Option<bool>,
    concurrency: usize,
    total: usize,
) -> Throughput {
    let hello = Arc::new(workloads::all().remove(0));
    let body = Arc::new(hello.request(warm));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, base, body, next) = (client.clone(), base.to_owned(), body.clone(), next.clone());
            let hello = hello.clone();
            tokio::spawn(async move {
                let (mut ok, mut errors, mut first_error) = (0, 0, None);
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let result = execute(&client, &base, &body).await;
                    match result.and_then(|(_, _, reply)| hello.failure(&reply).map_or(Ok(()), Err)) {
                        Ok(()) => ok += 1,
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                (ok, errors, first_error)
            })
        })
        .collect();
    let (mut ok, mut errors, mut first_error) = (0, 0, None);
    for worker in workers {
        match worker.await {
            Ok((o, e, f)) => {
                ok += o;
                errors += e;
                first_error = first_error.or(f);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    Throughput { concurrency, ok, errors, elapsed: start.elapsed(), first_error }
}

async fn measure_baselines(templates: &Path, args: &Args, notes: &mut Vec<String>) -> anyhow::Result<Vec<BaselineRow>> {
    let bwrap = args.bwrap.clone().or_else(baseline::find_bwrap);
    if bwrap.is_none() {
        notes.push("bwrap baseline: skipped, bubblewrap is not installed (or pass --bwrap PATH)".to_owned());
    }
    let mut rows = Vec::new();
    for workload in workloads::all() {
        let runs = if workload.heavy { args.data_runs } else { args.runs };
        let argv = workload.bare_command(templates);
        let (warmup, name) = (args.warmup, workload.name);
        note!("baseline: {name} x{runs}");
        let bare = blocking(Launcher::Bare, argv.clone(), warmup, runs).await?;
        let bwrap = match &bwrap {
            Some(bwrap) => {
                let launcher = Launcher::Bwrap { bwrap: bwrap.clone(), templates: templates.to_owned() };
                note!("baseline under bwrap: {name} x{runs}");
                Some(blocking(launcher, argv, warmup, runs).await?)
            }
            None => None,
        };
        rows.push(BaselineRow { name, bare, bwrap });
    }
    Ok(rows)
}

async fn blocking(launcher: Launcher, argv: Vec<String>, warmup: usize, runs: usize) -> anyhow::Result<Timings> {
    tokio::task::spawn_blocking(move || baseline::measure(&launcher, &argv, warmup, runs)).await?
}
