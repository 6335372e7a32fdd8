//! The README's quickstart and the sessions walk-through of `docs/sessions.md`, run as printed:
//! every bash block runs against a real daemon (only the port differs), and the fields shown in
//! the JSON block under it must match what the daemon answered.

use crate::common;
use crate::common::Daemon;
use serde_json::Value;

const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
const SESSIONS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sessions.md"));
/// Fields compared between the shown and the actual result; others (times, ids) vary.
const COMPARED: [&str; 7] = ["status", "process_status", "exit_code", "stdout", "stderr", "return_value", "path"];

/// (bash block, the JSON block right after it, if any) of the Quickstart section.
fn examples() -> Vec<(String, Option<String>)> {
    examples_of(README, "Quickstart")
}

/// (bash block, the JSON block right after it, if any) of the section `title` of `doc`.
fn examples_of(doc: &str, title: &str) -> Vec<(String, Option<String>)> {
    let heading = format!("\n## {title}\n");
    let start = doc.find(&heading).unwrap_or_else(|| panic!("the document has no {title} section")) + 1;
    let end = doc[start + 3..].find("\n## ").map(|i| start + 3 + i).unwrap_or(doc.len());
    // Fenced blocks, line by line: a fence of n backticks closes only at n backticks, so a
    // block may itself contain a shorter fence.
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for line in doc[start..end].lines() {
        let ticks = line.chars().take_while(|c| *c == '`').count();
        match &mut open {
            Some((n, _, _)) if ticks == *n && line.trim() == "`".repeat(*n) => {
                let (_, lang, body) = open.take().unwrap();
                blocks.push((lang, body));
            }
            Some((_, _, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None if ticks >= 3 => open = Some((ticks, line[ticks..].trim().to_string(), String::new())),
            None => {}
        }
    }
    let mut out = Vec::new();
    for (i, (lang, body)) in blocks.iter().enumerate() {
        if lang == "bash" {
            let shown = blocks.get(i + 1).filter(|(l, _)| l == "json").map(|(_, b)| b.clone());
            out.push((body.clone(), shown));
        }
    }
    out
}

fn compare(shown: &Value, actual: &Value, context: &str) {
    match (shown, actual) {
        (Value::Object(s), Value::Object(a)) => {
            for (key, value) in s {
                if key == "artifacts" {
                    let (Some(s), Some(a)) = (value.as_array(), a.get(key).and_then(Value::as_array)) else { continue };
                    assert_eq!(s.len(), a.len(), "{context}: artifacts differ: {actual}");
                    for (s, a) in s.iter().zip(a) {
                        compare(s, a, context);
                    }
                } else if key == "error" && value.is_object() {
                    assert_eq!(value["type"], a[key]["type"], "{context}: error type differs: {actual}");
                } else if COMPARED.contains(&key.as_str()) && value != "..." {
                    assert_eq!(Some(value), a.get(key), "{context}: field {key} differs: {actual}");
                }
            }
        }
        _ => panic!("{context}: expected JSON objects"),
    }
}

#[tokio::test]
async fn every_quickstart_example_works_as_printed() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let examples = examples();
    assert!(examples.len() >= 9, "the quickstart lost examples: {}", examples.len());
    for (script, shown) in examples {
        let script = script.replace("localhost:8080", &format!("127.0.0.1:{}", d.port));
        let output = std::process::Command::new("bash").arg("-c").arg(&script).output().expect("bash");
        assert!(output.status.success(), "example failed: {script}\n{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let answers: Vec<Value> =
            serde_json::Deserializer::from_str(&stdout).into_iter::<Value>().map(|v| v.unwrap()).collect();
        assert!(!answers.is_empty(), "no JSON answer from: {script}");
        for answer in &answers {
            assert!(answer.get("error_code").is_none(), "the example got an error: {answer}\n{script}");
            let status = answer.get("status").or_else(|| answer.get("process_status"));
            assert!(status.is_some(), "no status in {answer}");
        }
        if let Some(shown) = shown {
            let shown: Value =
                serde_json::from_str(&shown).unwrap_or_else(|e| panic!("the shown JSON does not parse ({e}): {shown}"));
            compare(&shown, &answers[0], &script);
        }
    }
}

/// Fields of the session walk-through's answers that differ from run to run.
const VARYING: [&str; 8] =
    ["session_id", "created_at", "last_used_at", "expires_at", "modified_at", "execution_id", "metrics", "sha256"];

/// Every field shown must be in the answer with the same value, but for [`VARYING`] ones and
/// strings shown as "..." (any value) or ending with "..." (a prefix).
fn compare_shown(shown: &Value, actual: &Value, context: &str) {
    match (shown, actual) {
        (Value::Object(s), Value::Object(a)) => {
            for (key, value) in s {
                if VARYING.contains(&key.as_str()) {
                    continue;
                }
                let got = a.get(key).unwrap_or_else(|| panic!("{context}: no field {key} in {actual}"));
                compare_shown(value, got, &format!("{context}.{key}"));
            }
        }
        (Value::Array(s), Value::Array(a)) => {
            assert_eq!(s.len(), a.len(), "{context}: {actual}");
            for (i, (s, a)) in s.iter().zip(a).enumerate() {
                compare_shown(s, a, &format!("{context}[{i}]"));
            }
        }
        (Value::String(s), _) if s == "..." => {}
        (Value::String(s), Value::String(a)) if s.ends_with("...") => {
            assert!(a.starts_with(s.trim_end_matches("...")), "{context}: {a:?} does not start as shown: {s}")
        }
        _ => assert_eq!(shown, actual, "{context}"),
    }
}

/// The walk-through of `docs/sessions.md`, its blocks run in order in one shell (they share
/// `$SID`), each answer compared with the JSON shown under its block.
#[tokio::test]
async fn the_session_walk_through_works_as_printed() {
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let examples = examples_of(SESSIONS, "Walk-through");
    assert!(examples.len() >= 7, "the walk-through lost steps: {}", examples.len());
    let mut script = String::from("set -u\n");
    for (i, (block, _)) in examples.iter().enumerate() {
        script.push_str(&block.replace("localhost:8080", &format!("127.0.0.1:{}", d.port)));
        script.push_str(&format!("\necho; echo '@@step {i}@@'\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let output =
        std::process::Command::new("bash").arg("-c").arg(&script).current_dir(dir.path()).output().expect("bash");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "the walk-through failed:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let mut rest = stdout.as_str();
    for (i, (block, shown)) in examples.iter().enumerate() {
        let marker = format!("@@step {i}@@");
        let (out, after) = rest.split_once(&marker).unwrap_or_else(|| panic!("step {i} did not finish: {stdout}"));
        rest = after;
        let answers: Vec<Value> =
            serde_json::Deserializer::from_str(out).into_iter::<Value>().map_while(Result::ok).collect();
        for answer in &answers {
            assert!(answer.get("error_code").is_none(), "step {i} got an error: {answer}\n{block}");
        }
        if let Some(shown) = shown {
            let shown: Value =
                serde_json::from_str(shown).unwrap_or_else(|e| panic!("the shown JSON does not parse ({e}): {shown}"));
            let actual = answers.first().unwrap_or_else(|| panic!("step {i} answered no JSON: {out}\n{block}"));
            compare_shown(&shown, actual, &format!("step {i}"));
        }
    }
    assert!(stdout.contains("plot.png: PNG image data"), "the downloaded chart is not a PNG: {stdout}");
}
