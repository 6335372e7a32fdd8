//! Result delivery latency: how long after a result is committed the control plane has it.
//!
//! Two figures: the daemon's own commit-to-acknowledgement histogram (from /metrics), and,
//! measured here, the time from the caller getting its answer to the control plane getting the
//! result (the result is committed before the answer, so this is a lower bound of the former).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use clap::Args as ClapArgs;
use serde_json::json;

use crate::daemon::Daemon;
use crate::stats::summarize;

#[derive(ClapArgs)]
pub struct Args {
    /// Executions to run (one at a time).
    #[arg(long, default_value_t = 200)]
    runs: usize,
}

type Receipts = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn run(binary: &Path, args: Args) -> anyhow::Result<()> {
    let receipts: Receipts = Arc::default();
    let app = Router::new()
        .route("/api/v1/internal/executions/{id}/result", post(receive))
        .route("/api/v1/internal/{*rest}", post(|| async { StatusCode::OK }))
        .with_state(receipts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let cp = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let daemon = Daemon::start(binary, &[("CONTROL_PLANE_URL", cp), ("INTERNAL_API_TOKEN", "bench".into())]).await?;
    let client = reqwest::Client::new();
    let mut answered = HashMap::new();
    for i in 0..args.runs {
        let id = format!("bench-{i}");
        let body = json!({"code": "true", "language": "shell", "execution_id": id});
        let response = client.post(format!("{}/execute", daemon.base)).json(&body).send().await?;
        response.error_for_status()?.bytes().await?;
        answered.insert(id, Instant::now());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while receipts.lock().unwrap().len() < args.runs && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let received = receipts.lock().unwrap().clone();
    let samples: Vec<Duration> =
        answered.iter().filter_map(|(id, at)| received.get(id).map(|r| r.saturating_duration_since(*at))).collect();
    println!("result delivery to a loopback control plane, {} sequential shell runs", args.runs);
    println!("  delivered              {} of {}", received.len(), args.runs);
    println!("  answer -> control plane  {}", summarize(samples));
    let metrics = client.get(format!("{}/metrics", daemon.base)).send().await?.text().await?;
    println!("  commit -> acknowledged (daemon histogram, bucket upper bounds):");
    for (q, bound) in quantiles(&metrics, "sandbox_result_delivery_latency_seconds", &[0.5, 0.95, 0.99]) {
        println!("    p{:<3} <= {:.1} ms", (q * 100.0) as u32, bound * 1000.0);
    }
    Ok(())
}

async fn receive(State(receipts): State<Receipts>, UrlPath(id): UrlPath<String>) -> StatusCode {
    receipts.lock().unwrap().entry(id).or_insert_with(Instant::now);
    StatusCode::CREATED
}

/// Quantiles from a Prometheus histogram's cumulative buckets: the upper bound of the first
/// bucket holding each quantile.
fn quantiles(text: &str, name: &str, qs: &[f64]) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, count.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last().map(|b| b.1).unwrap_or(0.0);
    qs.iter()
        .filter_map(|q| buckets.iter().find(|(_, count)| *count >= q * total && total > 0.0).map(|(le, _)| (*q, *le)))
        .collect()
}
