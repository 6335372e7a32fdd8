//! The escape suite: every program of tests/escape/ against a real daemon, cold and warm, with
//! a root and an unprivileged daemon (the `in-session` ones also in interpreter sessions),
//! each checked for its expected denial, and the host checked unharmed after each; then 200
//! mixed attempts against one daemon, which must stay healthy and keep serving.

mod box_floods;
mod boxes;
mod bystander;
pub(crate) mod cases;
pub(crate) mod host;
mod sessions;

use crate::common;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use cases::Case;
use host::{As, Host, Warmth};

/// What one case came to.
struct Outcome {
    case: String,
    summary: String,
    failures: Vec<String>,
    /// The answers, for the leak checks across runs.
    results: Vec<Value>,
}

type Values = BTreeMap<&'static str, String>;

/// What a case's result is held to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// Its header's expectations, and the host's secrets.
    Fully,
    /// The host's secrets only: the daemon reports a layer the case's expectations need missing.
    SecretsOnly,
}

/// Sends the case's request(s) and checks the answers against its header and the host's
/// secrets; `foreign` are tokens of other runs that must not show up.
async fn run_case(host: &Host, case: &Case, values: &Values, session_suffix: &str, foreign: &[String]) -> Outcome {
    run_judged(host, case, values, session_suffix, foreign, Judged::Fully).await
}

async fn run_judged(
    host: &Host,
    case: &Case,
    values: &Values,
    session_suffix: &str,
    foreign: &[String],
    judged: Judged,
) -> Outcome {
    let mut outcome =
        Outcome { case: case.name.clone(), summary: String::new(), failures: Vec::new(), results: vec![] };
    if let Some(paths) = case.rejected_paths(values) {
        for path in &paths {
            let body = json!({"code": case.program(values), "language": case.language, "files": {path: "x"}});
            let r = host.daemon.post("/execute", &body).await;
            if r.status != 400 || r.body["error_code"] != "Executor.ValidationError" {
                outcome.failures.push(format!("upload to {path:?} answered {}: {}", r.status, r.body));
            }
        }
        outcome.summary = format!("{} uploads refused (400)", paths.len());
        return outcome;
    }
    let r = host.daemon.post("/execute", &case.body(values, session_suffix)).await;
    match case.expected_http() {
        Some(want) => {
            if r.status != want {
                outcome.failures.push(format!("HTTP {}, expected {want}: {}", r.status, r.body));
            }
            outcome.summary = format!("refused ({})", r.status);
        }
        None if r.status != 200 => outcome.failures.push(format!("HTTP {}: {}", r.status, r.body)),
        None => {
            if judged == Judged::Fully {
                outcome.failures.extend(case.check_result(&r.body, values));
            }
            let denied = r.body["stdout"].as_str().unwrap_or("").lines().filter(|l| l.starts_with("DENIED")).count();
            let reason = r.body["termination_reason"].as_str().unwrap_or("-");
            let path = r.body["metrics"]["path"].as_str().unwrap_or("-");
            let status = r.body["status"].as_str().unwrap_or("?");
            outcome.summary = format!("{status} / {reason}, {denied} denied, {path}");
        }
    }
    outcome.failures.extend(host.leaks(&r.body, foreign));
    outcome.results.push(r.body);
    outcome
}

fn print_table(title: &str, rows: &[(String, String, Vec<String>)]) {
    eprintln!("\n{title}\n{:<28} {:<40} failures", "case", "outcome");
    for (case, summary, failures) in rows {
        let verdict = if failures.is_empty() { "ok".to_string() } else { failures.join("; ") };
        eprintln!("{case:<28} {summary:<40} {verdict}");
    }
}

#[tokio::test]
async fn every_escape_case_is_denied_and_the_host_is_unharmed_on_the_cold_path() {
    every_escape_case_is_denied(Warmth::Cold, As::Root).await;
}

/// The same cases against a daemon serving runs from sandboxes started ahead: JavaScript's
/// pre-started, Python's built ahead by its zygotes.
#[tokio::test]
async fn every_escape_case_is_denied_and_the_host_is_unharmed_on_the_warm_path() {
    every_escape_case_is_denied(Warmth::Prebuilt, As::Root).await;
}

/// The same cases against a daemon whose zygotes fork a sandbox for each Python run.
#[tokio::test]
async fn every_escape_case_is_denied_and_the_host_is_unharmed_on_the_forked_path() {
    every_escape_case_is_denied(Warmth::Forked, As::Root).await;
}

/// The same cases against a daemon that is not root: its sandboxes run as its own uid, the
/// uid of everything else it starts.
#[tokio::test]
async fn every_escape_case_is_denied_and_the_host_is_unharmed_on_the_cold_path_of_an_unprivileged_daemon() {
    every_escape_case_is_denied(Warmth::Cold, As::Unprivileged).await;
}

#[tokio::test]
async fn every_escape_case_is_denied_and_the_host_is_unharmed_on_the_warm_path_of_an_unprivileged_daemon() {
    every_escape_case_is_denied(Warmth::Prebuilt, As::Unprivileged).await;
}

/// The processes of an E2B sandbox's box reach neither its agent, nor the daemon, nor another
/// box, and what they flood stays in the box.
#[tokio::test]
async fn box_processes_stay_in_their_box() {
    boxes::box_processes_stay_in_their_box(As::Root).await;
}

#[tokio::test]
async fn box_processes_stay_in_their_box_of_an_unprivileged_daemon() {
    boxes::box_processes_stay_in_their_box(As::Unprivileged).await;
}

/// The cases marked `in-session` as cells of interpreter sessions.
#[tokio::test]
async fn the_session_cases_are_denied_in_interpreter_sessions() {
    sessions::session_cases_are_denied(As::Root).await;
}

#[tokio::test]
async fn the_session_cases_are_denied_in_interpreter_sessions_of_an_unprivileged_daemon() {
    sessions::session_cases_are_denied(As::Unprivileged).await;
}

/// Where `ESCAPE_ONLY` names cases (comma-separated prefixes of their names), only those
/// run: for working on a few.
fn selected(cases: Vec<Case>) -> Vec<Case> {
    let Ok(only) = std::env::var("ESCAPE_ONLY") else { return cases };
    let prefixes: Vec<&str> = only.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let chosen: Vec<Case> = cases.into_iter().filter(|c| prefixes.iter().any(|p| c.name.starts_with(p))).collect();
    eprintln!("ESCAPE_ONLY={only}: {} cases", chosen.len());
    assert!(!chosen.is_empty(), "ESCAPE_ONLY={only} names no case");
    chosen
}

/// Starts the host, or says why not: where sandbox tests are required (`CI=true` or
/// `SANDBOX_TESTS_REQUIRED=1`) a daemon whose sandbox cannot run fails.
async fn host(warmth: Warmth, daemon: As) -> Option<Host> {
    let host = Host::start(warmth, daemon).await;
    assert!(
        host.is_some() || !common::sandbox_tests_required(),
        "the sandbox of a {daemon:?} daemon does not work on this host (sandbox tests are required here)"
    );
    host
}

/// Runs one case (with a run of another tenant in flight beside it when its header asks), and
/// checks the host and the sandboxes waiting before it after it.
async fn run_checked(host: &Host, case: &Case, run: impl std::future::Future<Output = Outcome>) -> Outcome {
    let before = host.waiting();
    let (mut outcome, bystander, other) =
        if case.bystander() { bystander::beside(host, run).await } else { (run.await, Vec::new(), Value::Null) };
    outcome.failures.extend(bystander);
    // Waiting sandboxes the case's runs and the other tenant's run took.
    let claimed = |path: &str| outcome.results.iter().chain([&other]).filter(|r| r["metrics"]["path"] == path).count();
    let (warm, prebuilt) = (claimed("warm"), claimed("prebuilt"));
    outcome.failures.extend(host.outlived(&before, warm, prebuilt));
    outcome
}

async fn every_escape_case_is_denied(warmth: Warmth, daemon: As) {
    let warm = warmth != Warmth::Cold;
    let Some(mut host) = host(warmth, daemon).await else { return };
    let mut paths: BTreeMap<String, usize> = BTreeMap::new();
    let cases = selected(cases::load());
    let missing = host.missing_layers().await;
    // Tokens of earlier runs, with the session they belong to (a session may see its own).
    let mut earlier: Vec<(Option<String>, String)> = Vec::new();
    let mut rows = Vec::new();
    for case in &cases {
        if let Some(why) = case.unsupported() {
            eprintln!("SKIP {}: {why}", case.name);
            rows.push((case.name.clone(), format!("skipped: {why}"), Vec::new()));
            continue;
        }
        // A limit the daemon says it lacks is not expected to hold; the host still must.
        let lacking: Vec<&str> = case.needs().into_iter().filter(|l| missing.contains(*l)).collect();
        let judged = if lacking.is_empty() { Judged::Fully } else { Judged::SecretsOnly };
        let values = host.values();
        let session = case.session().map(str::to_string);
        let foreign: Vec<String> =
            earlier.iter().filter(|(s, _)| s.is_none() || *s != session).map(|(_, t)| t.clone()).collect();
        if warm {
            host.until_pools_ready().await;
        }
        let started = Instant::now();
        let run = run_judged(&host, case, &values, "", &foreign, judged);
        let mut outcome = run_checked(&host, case, run).await;
        let took = started.elapsed();
        for result in &outcome.results {
            let path = result["metrics"]["path"].as_str().unwrap_or("none").to_string();
            *paths.entry(path).or_default() += 1;
        }
        outcome.failures.extend(host.check(&[values["MARKER"].clone()]).await);
        if !lacking.is_empty() {
            outcome.summary =
                format!("{} [{} missing here: the host checked only]", outcome.summary, lacking.join(", "));
        }
        earlier.push((session, values["TOKEN"].clone()));
        rows.push((outcome.case, format!("{} ({:.1} s)", outcome.summary, took.as_secs_f64()), outcome.failures));
    }
    print_table(&format!("escape suite, {warmth:?} {daemon:?} daemon, runs per launch path: {paths:?}"), &rows);
    if warm && std::env::var("ESCAPE_ONLY").is_err() {
        // JavaScript cases run on pre-started sandboxes, Python ones on sandboxes a zygote
        // built ahead or forks for the run where the daemon can hand a fork its workspace (a
        // detached mount, which takes root), else cold.
        let zygote = if warmth == Warmth::Forked { "forked" } else { "prebuilt" };
        let python = if common::is_root() && daemon == As::Root { zygote } else { "cold" };
        for path in ["warm", python] {
            assert!(paths.get(path).is_some_and(|n| *n > 0), "no case ran on the {path} path: {paths:?}");
        }
    }
    let failed: Vec<String> =
        rows.iter().filter(|(_, _, f)| !f.is_empty()).map(|(c, _, f)| format!("{c}: {}", f.join("; "))).collect();
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), rows.len(), failed.join("\n"));
}

/// Round trips of a Python hello world, in milliseconds, sorted.
async fn hello_latencies(host: &Host, n: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let r = host.daemon.execute(json!({"code": "print('hello')", "language": "python"})).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!((r["status"].as_str(), r["stdout"].as_str()), (Some("success"), Some("hello\n")), "{r}");
    }
    times.sort_by(f64::total_cmp);
    times
}

const MIXED_ATTEMPTS: usize = 200;
const MIXED_CONCURRENCY: usize = 3;
/// Rounds in which the slow cases (a 1 GB flood, the memory and fork bombs) take part.
const HEAVY_ROUNDS: usize = 2;

/// The runs of one scheduled unit of the mixed run: a case, or a session's cases in order.
struct UnitRuns {
    runs: Vec<(Outcome, Values)>,
    session: Option<String>,
}

/// The mixed run's schedule: rounds through every case, a session's cases kept together and
/// in order, until there are [`MIXED_ATTEMPTS`] requests.
fn mixed_schedule(cases: &[Case]) -> Vec<(usize, Vec<&Case>)> {
    let mut units: Vec<Vec<&Case>> = Vec::new();
    for case in cases.iter().filter(|c| c.unsupported().is_none()) {
        match units.iter_mut().find(|u| case.session().is_some() && u[0].session() == case.session()) {
            Some(unit) => unit.push(case),
            None => units.push(vec![case]),
        }
    }
    let mut schedule = Vec::new();
    let mut requests = 0;
    for round in 0.. {
        for unit in &units {
            if requests >= MIXED_ATTEMPTS {
                return schedule;
            }
            if round >= HEAVY_ROUNDS && unit.iter().any(|c| c.heavy()) {
                continue;
            }
            requests += unit.len();
            schedule.push((round, unit.clone()));
        }
    }
    unreachable!()
}

#[tokio::test]
async fn two_hundred_mixed_attempts_leave_the_daemon_healthy() {
    let Some(mut host) = host(Warmth::Prebuilt, As::Root).await else { return };
    let cases = cases::load();
    let before = hello_latencies(&host, 7).await;
    let rss_before = host.rss_kb();
    let started = Instant::now();
    let units = run_mixed(&host, mixed_schedule(&cases)).await;
    let took = started.elapsed();
    let failures = leaks_between_units(&host, &units);
    let attempts: usize = units.iter().map(|u| u.runs.len()).sum();
    let markers: Vec<String> = units.iter().flat_map(|u| u.runs.iter().map(|(_, v)| v["MARKER"].clone())).collect();
    let host_problems = host.check(&markers).await;
    let after = hello_latencies(&host, 7).await;
    let rows = per_case(&units);
    print_table(
        &format!("{attempts} mixed attempts, {MIXED_CONCURRENCY} at a time, in {:.1} s", took.as_secs_f64()),
        &rows,
    );
    print_latencies(&before, &after);
    eprintln!("daemon RSS: {} MiB before the mixed run, {} MiB after", rss_before / 1024, host.rss_kb() / 1024);

    assert!(attempts >= MIXED_ATTEMPTS, "only {attempts} attempts ran");
    assert!(host_problems.is_empty(), "the host after the mixed run: {host_problems:#?}");
    assert!(failures.is_empty(), "leaks between runs: {failures:#?}");
    let failed: Vec<String> =
        rows.iter().filter(|(_, _, f)| !f.is_empty()).map(|(c, _, f)| format!("{c}: {}", f.join("; "))).collect();
    assert!(failed.is_empty(), "{} cases failed in the mixed run:\n{}", failed.len(), failed.join("\n"));
    // Health is asserted above; the daemon must also still be quick to answer at all.
    let r = tokio::time::timeout(Duration::from_secs(60), host.daemon.get("/health")).await.expect("/health hangs");
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Runs the schedule's units, `MIXED_CONCURRENCY` at a time, each unit's cases in order.
async fn run_mixed(host: &Host, schedule: Vec<(usize, Vec<&Case>)>) -> Vec<UnitRuns> {
    futures::stream::iter(schedule)
        .map(|(round, unit)| async move {
            let mut done = Vec::new();
            for case in &unit {
                let values = host.values();
                done.push((run_case(host, case, &values, &format!("-mixed-{round}"), &[]).await, values));
            }
            UnitRuns { runs: done, session: unit[0].session().map(|s| format!("{s}-{round}")) }
        })
        .buffer_unordered(MIXED_CONCURRENCY)
        .collect()
        .await
}

/// Tokens of another run (concurrent or not) that a run saw, other than its own session's.
fn leaks_between_units(host: &Host, units: &[UnitRuns]) -> Vec<String> {
    let mut failures: Vec<String> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let others: Vec<String> = units
            .iter()
            .enumerate()
            .filter(|(j, other)| *j != i && (other.session.is_none() || other.session != unit.session))
            .flat_map(|(_, other)| other.runs.iter().map(|(_, v)| v["TOKEN"].clone()))
            .collect();
        for (outcome, _) in &unit.runs {
            for result in &outcome.results {
                failures.extend(host.leaks(result, &others).into_iter().map(|l| format!("{}: {l}", outcome.case)));
            }
        }
    }
    failures
}

/// Per case: its runs, how many failed, and the first failed run's reasons.
fn per_case(units: &[UnitRuns]) -> Vec<(String, String, Vec<String>)> {
    let mut per_case: BTreeMap<String, (usize, usize, Vec<String>)> = BTreeMap::new();
    for (outcome, _) in units.iter().flat_map(|u| &u.runs) {
        let entry = per_case.entry(outcome.case.clone()).or_default();
        entry.0 += 1;
        if !outcome.failures.is_empty() {
            entry.1 += 1;
            if entry.2.is_empty() {
                entry.2 = outcome.failures.clone();
            }
        }
    }
    per_case
        .into_iter()
        .map(|(case, (runs, failed, first))| (case, format!("{runs} runs, {failed} failed"), first))
        .collect()
}

fn print_latencies(before: &[f64], after: &[f64]) {
    let p50 = |t: &[f64]| t[t.len() / 2];
    eprintln!(
        "hello world before: p50 {:.1} ms (min {:.1}, max {:.1}); after: p50 {:.1} ms (min {:.1}, max {:.1})",
        p50(before),
        before[0],
        before[before.len() - 1],
        p50(after),
        after[0],
        after[after.len() - 1]
    );
}
