//! `GET /metrics` as a scraper reads it: `promtool check metrics` (from Debian's `prometheus`
//! package, unpacked by `scripts/install-test-tools.sh`) finds nothing, every family is there
//! at zero before the first run, histograms reach the longest timeout, and the build is named.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{self, Daemon};

/// promtool as `scripts/install-test-tools.sh` unpacks it (`SANDBOX_PROMTOOL`), else the one on
/// PATH; off CI, a missing one skips the test with the reason printed.
fn promtool() -> Option<PathBuf> {
    let unpacked = std::env::var("SANDBOX_PROMTOOL")
        .unwrap_or_else(|_| "/var/cache/sandbox-executor/promtool/usr/bin/promtool".into());
    for candidate in [PathBuf::from(unpacked), PathBuf::from("promtool")] {
        if Command::new(&candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return Some(candidate);
        }
    }
    let reason = "promtool is not installed (scripts/install-test-tools.sh unpacks Debian's)";
    if common::sandbox_tests_required() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
    None
}

/// `promtool check metrics` on `text`: its complaints, empty when there are none.
fn promtool_findings(promtool: &Path, text: &str) -> String {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let findings = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() && findings.trim().is_empty() {
        return String::new();
    }
    format!("promtool ({}):\n{findings}", output.status)
}

async fn scrape(daemon: &Daemon) -> String {
    let response = daemon.client().get(format!("{}/metrics", daemon.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// Checks what every scrape must satisfy: promtool is content, each family is typed once.
fn check_exposition(promtool: &Path, text: &str) {
    let findings = promtool_findings(promtool, text);
    assert!(findings.is_empty(), "{findings}\nin:\n{text}");
    let mut families = BTreeSet::new();
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).unwrap_or_default();
        assert!(families.insert(name.to_owned()), "family {name} is typed twice in:\n{text}");
        assert!(text.contains(&format!("# HELP {name} ")), "family {name} has no HELP in:\n{text}");
    }
}

#[tokio::test]
async fn metrics_pass_promtool_and_every_family_is_there_from_the_start() {
    let Some(promtool) = promtool() else { return };
    let daemon = Daemon::start().await;
    let text = scrape(&daemon).await;
    check_exposition(&promtool, &text);
    for series in [
        r#"sandbox_executions_total{language="python",status="success"} 0"#,
        r#"sandbox_executions_total{language="shell",status="timeout"} 0"#,
        r#"sandbox_execution_duration_seconds_bucket{language="javascript",le="3600"} 0"#,
        r#"sandbox_execution_phase_seconds_count{phase="launch"} 0"#,
        r#"sandbox_sessions_created_total 0"#,
        r#"sandbox_egress_connections_total{outcome="refused"} 0"#,
        r#"sandbox_callbacks_total{kind="result",outcome="delivered"} 0"#,
        r#"sandbox_queue_depth 0"#,
        r#"sandbox_outbox_pending 0"#,
    ] {
        assert!(text.contains(&format!("{series}\n")), "no {series} before the first run in:\n{text}");
    }
    let version = env!("CARGO_PKG_VERSION");
    let build = format!("sandbox_executor_build_info{{version=\"{version}\"}} 1\n");
    assert!(text.contains(&build), "no {build} in:\n{text}");
    if !common::sandbox_or_skip(&daemon).await {
        return;
    }
    let result = daemon.execute(json!({"code": "print(1)"})).await;
    assert_eq!(result["status"], "success", "{result}");
    let text = scrape(&daemon).await;
    check_exposition(&promtool, &text);
    // A run of any length up to the longest timeout falls in a bucket below +Inf.
    let bucket = r#"sandbox_execution_duration_seconds_bucket{language="python",le="3600"} 1"#;
    assert!(text.contains(&format!("{bucket}\n")), "no {bucket} in:\n{text}");
    assert!(text.contains("sandbox_executions_total{language=\"python\",status=\"success\"} 1\n"), "{text}");
}
