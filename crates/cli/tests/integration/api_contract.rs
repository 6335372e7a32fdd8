//! The API contract, checked by tools others wrote: the OpenAPI document (committed and
//! served) by an OpenAPI validator, and the running daemon by schemathesis with every check,
//! with and without an API token. Any finding fails the test. The tools live in the venv that
//! `scripts/install-test-tools.sh` makes (`SANDBOX_TEST_TOOLS`).

use crate::common;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Daemon;

const TOKEN: &str = "contract-test-token";

/// The tools' venv, or None (skipped with the reason printed) off CI when it is not installed.
fn tools() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("SANDBOX_TEST_TOOLS").unwrap_or_else(|_| "/var/cache/sandbox-executor/test-tools".into()),
    );
    if dir.join("bin/schemathesis").exists() && dir.join("bin/openapi-spec-validator").exists() {
        return Some(dir);
    }
    let reason =
        format!("the API contract tools are not installed in {} (scripts/install-test-tools.sh)", dir.display());
    if common::sandbox_tests_required() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
    None
}

fn run(tool: &Path, args: &[&str]) -> (bool, String) {
    // Schemathesis keeps a cache in its working directory: a fresh one for each run.
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(tool)
        .args(args)
        .current_dir(scratch.path())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", tool.display()));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Validates the OpenAPI document in the file `location`.
fn validate(tools: &Path, location: &str) {
    let (ok, out) = run(&tools.join("bin/openapi-spec-validator"), &[location]);
    assert!(ok, "the OpenAPI document at {location} is not valid:\n{out}");
}

#[tokio::test]
async fn the_committed_and_served_documents_are_valid_openapi() {
    let Some(tools) = tools() else { return };
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    validate(&tools, committed.to_str().unwrap());
    let open = Daemon::start().await;
    let served = served_document(&tools, &open, None).await;
    assert!(served.get("security").is_none(), "a daemon without a token must not declare security: {served}");
    let locked = Daemon::start_with(&[("EXECUTOR_API_TOKEN", TOKEN)]).await;
    let served = served_document(&tools, &locked, Some(TOKEN)).await;
    assert!(served["security"].as_array().is_some_and(|s| !s.is_empty()), "a token must be declared: {served}");
}

/// The daemon's own document, validated (the validator reads files only).
async fn served_document(tools: &Path, daemon: &Daemon, token: Option<&str>) -> serde_json::Value {
    let mut request = daemon.client().get(format!("{}/openapi.json", daemon.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let text = request.send().await.unwrap().text().await.unwrap();
    let file = daemon.state.path().join("served-openapi.json");
    std::fs::write(&file, &text).unwrap();
    validate(tools, file.to_str().unwrap());
    serde_json::from_str(&text).unwrap()
}

/// Schemathesis against `daemon` with every check; `token` is sent as a bearer token.
fn schemathesis(tools: &Path, daemon: &Daemon, token: Option<&str>) {
    let url = format!("{}/openapi.json", daemon.base);
    let report = daemon.state.path().join("schemathesis.ndjson");
    let mut args = vec![
        "run".to_owned(),
        url,
        "--checks=all".into(),
        // Fixed, so that a finding is reproducible with the same command.
        "--seed=20261202".into(),
        "--max-examples=25".into(),
        "--workers=2".into(),
        // A run of a template that is still being built waits for the build.
        "--request-timeout=300".into(),
        "--max-response-time=300".into(),
        "--no-color".into(),
        "--generation-database=none".into(),
        "--report=ndjson".into(),
        // A session's ports reach whatever the session serves: a port nothing listens on is
        // the proxy's 502 by design (tested in session_ports), not a server error.
        "--exclude-path-regex=/ports/".into(),
        format!("--report-ndjson-path={}", report.display()),
    ];
    if let Some(token) = token {
        args.push(format!("--header=Authorization: Bearer {token}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/run-schemathesis.py");
    let mut args = args;
    args.insert(0, launcher.to_str().unwrap());
    let (ok, out) = run(&tools.join("bin/python"), &args);
    let summary = out.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    eprintln!("schemathesis ({}):\n{summary}", if token.is_some() { "with a token" } else { "without a token" });
    assert!(ok, "schemathesis found problems:\n{out}");
}

/// A daemon for schemathesis: templates it creates stay in a directory of its own.
async fn contract_daemon(templates: &Path, token: Option<&str>) -> Daemon {
    let templates = templates.to_str().unwrap();
    let mut env = vec![("SANDBOX_TEMPLATES_DIR", templates)];
    if let Some(token) = token {
        env.push(("EXECUTOR_API_TOKEN", token));
    }
    Daemon::start_with(&env).await
}

#[tokio::test]
async fn schemathesis_finds_nothing_with_or_without_a_token() {
    let Some(tools) = tools() else { return };
    let templates = common::fresh_dir("se-contract-templates-");
    let open = contract_daemon(templates.path(), None).await;
    if !common::sandbox_or_skip(&open).await {
        return;
    }
    schemathesis(&tools, &open, None);
    drop(open);
    let locked = contract_daemon(templates.path(), Some(TOKEN)).await;
    schemathesis(&tools, &locked, Some(TOKEN));
}
