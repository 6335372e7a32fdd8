//! Every printed command of README.md and docs/*.md works as printed: each shell block runs
//! against a real daemon (only the port differs), with curl failing on an HTTP error, unless
//! `readme.rs` runs its section in order or it is skipped below with the reason. And the
//! README's Streamable HTTP MCP configuration connects the official MCP client as printed.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{self, Daemon};
use crate::mcp;

/// Sections `readme.rs` runs block by block, comparing each answer with the one printed.
const RUN_BY_README_TEST: &[(&str, &str)] = &[("README.md", "Quickstart"), ("docs/sessions.md", "Walk-through")];

/// Blocks that cannot run in a test (document, start of the first line, why).
const SKIPPED: &[(&str, &str, &str)] = &[
    ("README.md", "./scripts/setup.sh", "installs the host's packages and builds; the test machine ran it"),
    ("README.md", "./scripts/test.sh", "runs this very suite"),
    ("docs/security.md", "cargo nextest", "runs a part of this suite"),
    ("docs/operations.md", "sandbox-executor serve", "lists the subcommands: long-running processes and builds"),
    ("docs/deploy.md", "# With a registry", "builds the image (scripts/test-image.sh builds and runs it)"),
    ("docs/deploy.md", "debootstrap", "builds a base image with podman (scripts/test-image.sh does)"),
    (
        "docs/deploy.md",
        "docker run -d --name sandbox-executor --privileged -p 127.0.0.1:8080:8080 sandbox",
        "runs a container (scripts/test-image.sh runs the image)",
    ),
    (
        "docs/deploy.md",
        "docker run -d --name sandbox-executor --privileged -p 127.0.0.1:8080:8080 \\",
        "runs a container next to a control plane",
    ),
    ("docs/deploy.md", "podman run", "runs a container (scripts/test-image.sh runs it with these limits)"),
    ("docs/deploy.md", "INTERNAL_API_TOKEN=", "docker-compose (scripts/check-compose.py checks the file)"),
    ("docs/deploy.md", "kubectl apply", "needs a cluster (scripts/test-kubernetes.sh renders and validates)"),
    (
        "docs/egress.md",
        "curl -s localhost:8080/session/create",
        "reaches pypi.org, and <id> stands for a session: tests reach loopback only",
    ),
];

/// Blocks that create templates: run by a daemon with a templates directory of its own.
const CREATE_TEMPLATES: &[(&str, &str)] = &[("docs/templates.md", "curl -X POST http://localhost:8080/templates")];

const SHELLS: [&str; 4] = ["bash", "sh", "shell", "console"];

struct Block {
    doc: String,
    section: String,
    lang: String,
    body: String,
}

impl Block {
    fn first_line(&self) -> &str {
        self.body.lines().next().unwrap_or_default()
    }

    fn is(&self, doc: &str, start: &str) -> bool {
        self.doc == doc && self.first_line().starts_with(start)
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fenced blocks of `text` (a fence of n backticks closes only at n), with their section.
fn blocks_of(doc: &str, text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut open: Option<(usize, Block)> = None;
    for line in text.lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match &mut open {
            Some((n, _)) if ticks == *n && line.trim() == "`".repeat(*n) => blocks.push(open.take().unwrap().1),
            Some((_, block)) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            None if ticks >= 3 => {
                let lang = line[ticks..].trim().to_owned();
                let block = Block { doc: doc.to_owned(), section: section.clone(), lang, body: String::new() };
                open = Some((ticks, block));
            }
            None => {
                if let Some(title) = line.strip_prefix("## ") {
                    section = title.trim().to_owned();
                }
            }
        }
    }
    blocks
}

/// Every block of README.md and docs/*.md.
fn all_blocks() -> Vec<Block> {
    let mut docs = vec!["README.md".to_owned()];
    let mut names: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    docs.extend(names.into_iter().map(|n| format!("docs/{n}")));
    docs.iter().flat_map(|doc| blocks_of(doc, &std::fs::read_to_string(root().join(doc)).unwrap())).collect()
}

/// The shell blocks this test runs: (block, whether it needs its own templates directory).
fn runnable() -> Vec<(Block, bool)> {
    let blocks: Vec<Block> = all_blocks().into_iter().filter(|b| SHELLS.contains(&b.lang.as_str())).collect();
    for (doc, start, why) in SKIPPED {
        let matching = blocks.iter().filter(|b| b.is(doc, start)).count();
        assert_eq!(matching, 1, "the skip of {doc} `{start}` ({why}) matches {matching} blocks");
    }
    blocks
        .into_iter()
        .filter(|b| !RUN_BY_README_TEST.iter().any(|(doc, section)| b.doc == *doc && b.section == *section))
        .filter(|b| !SKIPPED.iter().any(|(doc, start, _)| b.is(doc, start)))
        .map(|b| {
            let own = CREATE_TEMPLATES.iter().any(|(doc, start)| b.is(doc, start));
            (b, own)
        })
        .collect()
}

/// Runs `block` as printed against `daemon`; curl fails on an HTTP error status.
fn run_block(block: &Block, daemon: &Daemon) {
    let address = format!("127.0.0.1:{}", daemon.port);
    let body = block.body.replace("localhost:8080", &address).replace("127.0.0.1:8080", &address);
    let script =
        format!("set -euo pipefail\ncurl() {{ command curl --silent --show-error --fail-with-body \"$@\"; }}\n{body}");
    let dir = tempfile::tempdir().unwrap();
    let output =
        std::process::Command::new("bash").arg("-c").arg(&script).current_dir(dir.path()).output().expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let context = format!("{} ({}):\n{}", block.doc, block.section, block.body);
    assert!(
        output.status.success(),
        "a printed command failed in {context}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("\"error_code\""), "a printed command got an error in {context}\n{stdout}");
}

#[tokio::test]
async fn every_printed_command_works_as_printed() {
    let blocks = runnable();
    assert!(blocks.len() >= 6, "fewer printed commands than expected: {}", blocks.len());
    let shared = Daemon::start().await;
    if !common::sandbox_or_skip(&shared).await {
        return;
    }
    for (block, _) in blocks.iter().filter(|(_, own)| !own) {
        run_block(block, &shared);
    }
    drop(shared);
    let templates = common::fresh_dir("se-docs-templates-");
    let own = Daemon::start_with(&[("SANDBOX_TEMPLATES_DIR", templates.path().to_str().unwrap())]).await;
    for (block, _) in blocks.iter().filter(|(_, own)| *own) {
        run_block(block, &own);
    }
}

/// The README's Streamable HTTP configuration, its headers as printed (the token put in for
/// its placeholder), connects the official MCP client, whose tools then run code.
#[tokio::test]
async fn the_readme_mcp_http_configuration_works_as_printed() {
    const TOKEN: &str = "docs-mcp-token";
    let Some(python) = mcp::python() else { return };
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let config = blocks_of("README.md", &readme)
        .into_iter()
        .filter(|b| b.lang == "json" && b.section == "Use it from an MCP client")
        .map(|b| serde_json::from_str::<Value>(&b.body).expect("the configuration parses"))
        .find(|c| c["mcpServers"]["sandbox-executor"]["type"] == "http")
        .expect("the README shows a Streamable HTTP configuration");
    let server = &config["mcpServers"]["sandbox-executor"];
    assert_eq!(server["url"], "http://127.0.0.1:8080/mcp", "{config}");
    let mut headers = server["headers"].as_object().cloned().expect("headers");
    for value in headers.values_mut() {
        *value = Value::String(value.as_str().unwrap().replace("<the daemon's token>", TOKEN));
    }
    let d = Daemon::start_with(&[("EXECUTOR_API_TOKEN", TOKEN)]).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let steps = json!([mcp::call("run_code", json!({"code": "print(6 * 7)"}))]);
    let report = mcp::client(&python, mcp::over_http(&d, Value::Object(headers)), steps).await;
    let ran = &report[0];
    assert_ne!(ran["is_error"], true, "{report}");
    assert!(mcp::texts(ran).contains("42"), "{report}");
}

/// A printed curl that sends a JSON body says so, in every block, run or skipped: without
/// `Content-Type` curl sends a form type, which the API answers with 415.
#[test]
fn every_printed_curl_with_a_body_names_its_type() {
    for block in all_blocks().iter().filter(|b| SHELLS.contains(&b.lang.as_str())) {
        let joined = block.body.replace("\\\n", " ");
        for command in joined.lines().flat_map(|l| l.split("curl ").skip(1)) {
            let sends = [" -d ", "--data ", "--data-raw "].iter().any(|flag| command.contains(flag));
            let typed = command.to_ascii_lowercase().contains("content-type: application/json");
            assert!(!sends || typed, "{} ({}) sends a body without its type: curl {command}", block.doc, block.section);
        }
    }
}
