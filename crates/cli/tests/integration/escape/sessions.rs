//! The escape cases marked `in-session`, each as the one cell of an interpreter session
//! (`POST /session/create`, `/session/execute`), with the same host checks as the others.

use std::time::Instant;

use serde_json::json;

use super::cases::{self, Case};
use super::host::{As, Host, Warmth};
use super::{host, print_table, run_checked, selected, Outcome, Values};

/// Runs `case` as the one cell of a fresh interpreter session, and destroys the session.
async fn run_in_session(host: &Host, case: &Case, values: &Values, foreign: &[String]) -> Outcome {
    let mut outcome =
        Outcome { case: case.name.clone(), summary: String::new(), failures: Vec::new(), results: vec![] };
    let tenant = "escape-session";
    let created = host.daemon.post("/session/create", &json!({"tenant_id": tenant})).await;
    let Some(id) = created.body["session_id"].as_str().filter(|_| created.status == 201) else {
        outcome.failures.push(format!("/session/create answered {}: {}", created.status, created.body));
        return outcome;
    };
    let call = |code: String| json!({"session_id": id, "tenant_id": tenant, "language": case.language, "code": code, "timeout": 20});
    let r = host.daemon.post("/session/execute", &call(case.program(values))).await;
    let status = r.body["status"].as_str().unwrap_or("?").to_string();
    if r.status != 200 {
        outcome.failures.push(format!("/session/execute answered {}: {}", r.status, r.body));
    } else if case.in_session() == Some(cases::InSession::Dies) {
        // The cell's output died with its interpreter; what it printed before is not kept.
        let stdout = r.body["stdout"].as_str().unwrap_or("");
        outcome.failures.extend(stdout.lines().filter(|l| l.starts_with("ESCAPED")).map(str::to_string));
        // The session goes on in a new interpreter.
        let hello = if case.language == "python" { "print('alive')" } else { "console.log('alive')" };
        let next = host.daemon.post("/session/execute", &call(hello.into())).await;
        if next.body["stdout"] != "alive\n" || next.body["interpreter_restarted"] != true {
            outcome.failures.push(format!("the session's next call: HTTP {}: {}", next.status, next.body));
        }
    } else {
        outcome.failures.extend(case.check_result(&r.body, values));
    }
    outcome.failures.extend(host.leaks(&r.body, foreign));
    let destroyed = host.daemon.post("/session/destroy", &json!({"session_id": id, "tenant_id": tenant})).await;
    if destroyed.status != 200 {
        outcome.failures.push(format!("/session/destroy answered {}: {}", destroyed.status, destroyed.body));
    }
    let denied = r.body["stdout"].as_str().unwrap_or("").lines().filter(|l| l.starts_with("DENIED")).count();
    outcome.summary = format!("{status}, {denied} denied, session");
    outcome.results.push(r.body);
    outcome
}

pub async fn session_cases_are_denied(daemon: As) {
    let Some(mut host) = host(Warmth::Prebuilt, daemon).await else { return };
    let cases: Vec<Case> = selected(cases::load()).into_iter().filter(|c| c.in_session().is_some()).collect();
    let mut earlier: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for case in &cases {
        let values = host.values();
        host.until_pools_ready().await;
        let started = Instant::now();
        let run = run_in_session(&host, case, &values, &earlier);
        let mut outcome = run_checked(&host, case, run).await;
        outcome.failures.extend(host.check(&[values["MARKER"].clone()]).await);
        earlier.push(values["TOKEN"].clone());
        rows.push((
            outcome.case,
            format!("{} ({:.1} s)", outcome.summary, started.elapsed().as_secs_f64()),
            outcome.failures,
        ));
    }
    print_table(&format!("escape suite in interpreter sessions, {daemon:?} daemon"), &rows);
    assert!(rows.len() >= 4, "only {} cases run in sessions", rows.len());
    let failed: Vec<String> =
        rows.iter().filter(|(_, _, f)| !f.is_empty()).map(|(c, _, f)| format!("{c}: {}", f.join("; "))).collect();
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), rows.len(), failed.join("\n"));
}
