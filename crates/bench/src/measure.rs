//! Sending the shapes' requests and timing them: sequential runs of one shape, and
//! Python hello-world from concurrent clients.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::phases::Phases;
use crate::report::{Throughput, WorkloadRow};
use crate::stats::summarize;
use crate::workloads::{Endpoint, Workload};

/// One timed request: end to end, the sandbox's own wall time, and the reply.
struct Timed {
    took: Duration,
    inside: Duration,
    reply: Value,
}

/// POSTs `body` and reads the whole reply; an answer other than 2xx is an error.
async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Result<Value, String> {
    let response = client.post(url).json(body).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let reply: Value = serde_json::from_slice(&bytes).map_err(|e| format!("HTTP {status}: {e}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {} {}", reply["error_code"], reply["error_detail"]));
    }
    Ok(reply)
}

/// One request of `workload`. The clock stops when the whole (last) reply has arrived, before
/// it is parsed; a session is destroyed after the clock stops.
async fn run_once(client: &reqwest::Client, base: &str, workload: &Workload, body: &Value) -> Result<Timed, String> {
    let start = Instant::now();
    let reply = match workload.endpoint {
        Endpoint::Execute => post(client, &format!("{base}/execute"), body).await?,
        Endpoint::SessionFirstCell => {
            let session = post(client, &format!("{base}/session/create"), &json!({})).await?;
            let id = session["session_id"].clone();
            let mut cell = body.clone();
            cell["session_id"] = id.clone();
            let reply = post(client, &format!("{base}/session/execute"), &cell).await;
            let took = start.elapsed();
            post(client, &format!("{base}/session/destroy"), &json!({"session_id": id})).await?;
            return timed(took, reply?);
        }
    };
    timed(start.elapsed(), reply)
}

fn timed(took: Duration, reply: Value) -> Result<Timed, String> {
    let inside = reply["metrics"]["duration_ms"].as_f64().ok_or("no metrics.duration_ms")?;
    Ok(Timed { took, inside: Duration::from_secs_f64(inside.max(0.0) / 1000.0), reply })
}

/// The path that served a run (`metrics.path`), `?` when the result does not say.
fn served_by(reply: &Value) -> String {
    reply["metrics"]["path"].as_str().unwrap_or("?").to_owned()
}

/// Waits (at most 30 s) until every warm pool has a ready sandbox or zygote.
async fn settle(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let info: Option<Value> = match client.get(format!("{base}/info")).send().await {
            Ok(answer) => answer.json().await.ok(),
            Err(_) => None,
        };
        let pools = info.as_ref().and_then(|i| i["warm"]["pools"].as_array().cloned()).unwrap_or_default();
        if pools.iter().all(|p| p["ready"].as_u64() >= Some(1)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn sequential(
    client: &reqwest::Client,
    base: &str,
    workload: &Workload,
    warm: Option<bool>,
    warmup: usize,
    runs: usize,
) -> WorkloadRow {
    let body = workload.request(warm);
    let (mut e2e, mut overhead, mut errors, mut first_error) = (Vec::new(), Vec::new(), 0, None);
    let (mut served, mut phases) = (BTreeMap::new(), Phases::default());
    for i in 0..warmup + runs {
        // Steady state: the timed runs start once the warm-up's pools (a template's zygote,
        // say) are ready; whatever still goes cold shows in "served by".
        if i == warmup && warm != Some(false) {
            settle(client, base).await;
        }
        let result =
            run_once(client, base, workload, &body).await.and_then(|t| workload.failure(&t.reply).map_or(Ok(t), Err));
        if i < warmup {
            continue;
        }
        match result {
            Ok(t) => {
                e2e.push(t.took);
                overhead.push(t.took.saturating_sub(t.inside));
                *served.entry(served_by(&t.reply)).or_insert(0) += 1;
                phases.add(&t.reply);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let (e2e, overhead) = (summarize(e2e), summarize(overhead));
    WorkloadRow {
        name: workload.name,
        endpoint: workload.endpoint,
        start: workload.interpreter.start(),
        same_program: workload.same_program,
        goals: workload.goals.clone(),
        e2e,
        overhead,
        errors,
        first_error,
        served,
        phases,
    }
}

/// What one throughput client counted.
#[derive(Default)]
struct Tally {
    ok: usize,
    errors: usize,
    first_error: Option<String>,
    served: BTreeMap<String, usize>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
        for (path, n) in other.served {
            *self.served.entry(path).or_insert(0) += n;
        }
    }
}

/// `total` runs of `hello` from `concurrency` clients, each sending its next one as soon as
/// the previous one answered.
pub async fn throughput(
    client: &reqwest::Client,
    base: &str,
    hello: Workload,
    warm: Option<bool>,
    concurrency: usize,
    total: usize,
) -> Throughput {
    let hello = Arc::new(hello);
    let body = Arc::new(hello.request(warm));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (client, base, body, next, hello) =
                (client.clone(), base.to_owned(), body.clone(), next.clone(), hello.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while next.fetch_add(1, Ordering::Relaxed) < total {
                    let result = run_once(&client, &base, &hello, &body).await;
                    match result.and_then(|t| hello.failure(&t.reply).map_or(Ok(t), Err)) {
                        Ok(t) => {
                            tally.ok += 1;
                            *tally.served.entry(served_by(&t.reply)).or_insert(0) += 1;
                        }
                        Err(e) => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert(e);
                        }
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for worker in workers {
        match worker.await {
            Ok(tally) => all.merge(tally),
            Err(e) => all.merge(Tally { errors: 1, first_error: Some(e.to_string()), ..Tally::default() }),
        }
    }
    let Tally { ok, errors, first_error, served } = all;
    Throughput { concurrency, ok, errors, elapsed: start.elapsed(), first_error, served }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_averaged_over_the_runs_that_report_them() {
        let mut phases = Phases::default();
        assert_eq!(phases.means(), None);
        let reply = |q: f64| {
            json!({"metrics": {"phases": {"queue_ms": q, "launch_ms": 2.0, "run_ms": 3.0,
                                                           "collect_ms": 4.0, "store_ms": 5.0}}})
        };
        phases.add(&reply(1.0));
        phases.add(&reply(3.0));
        phases.add(&json!({"metrics": {"duration_ms": 1.0}}));
        assert_eq!(phases.count, 2);
        assert_eq!(phases.means(), Some([2.0, 2.0, 3.0, 4.0, 5.0]));
    }

    #[test]
    fn the_serving_path_is_read_from_the_metrics() {
        assert_eq!(served_by(&json!({"metrics": {"path": "forked"}})), "forked");
        assert_eq!(served_by(&json!({"metrics": {}})), "?");
    }
}
