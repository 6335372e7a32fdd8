//! The escape cases of tests/escape/: one program per attack, with its expectation in a header
//! of `key: value` comment lines (see tests/escape/README.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InSession {
    Lives,
    Dies,
}

pub struct Case {
    pub name: String,
    pub language: &'static str,
    source: String,
    header: BTreeMap<String, String>,
}

/// Every case, in file-name order (so the steps of one session run in order).
pub fn load() -> Vec<Case> {
    let dir = cases_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| language_of(p).is_some())
        .collect();
    paths.sort();
    let cases: Vec<Case> = paths.iter().map(|p| parse(p)).collect();
    assert!(cases.len() >= 30, "only {} cases in {}", cases.len(), dir.display());
    cases
}

pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/escape")
}

fn language_of(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "py" => Some("python"),
        "js" => Some("javascript"),
        "sh" => Some("shell"),
        _ => None,
    }
}

fn parse(path: &Path) -> Case {
    let source = std::fs::read_to_string(path).unwrap();
    let mut header = BTreeMap::new();
    for line in source.lines() {
        let Some(rest) = line.strip_prefix("# ").or_else(|| line.strip_prefix("// ")) else { break };
        let Some((key, value)) = rest.split_once(": ") else { break };
        header.insert(key.trim().to_string(), value.trim().to_string());
    }
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(header.contains_key("what"), "{name}: the header says not what the case attempts");
    // Helpers several cases share (tests/escape/prelude/) go before the case's own code.
    let source = match header.get("prelude") {
        Some(prelude) => {
            let shared = path.with_file_name("prelude").join(prelude).with_extension(path.extension().unwrap());
            let shared = std::fs::read_to_string(&shared).unwrap_or_else(|e| panic!("{}: {e}", shared.display()));
            format!("{shared}\n{source}")
        }
        None => source,
    };
    let case = Case { name, language: language_of(path).unwrap(), source, header };
    assert!(
        ["http", "reject-paths", "status"].iter().any(|k| case.header.contains_key(*k)),
        "{}: the header names no expected status",
        case.name
    );
    case
}

impl Case {
    fn get(&self, key: &str) -> Option<&str> {
        self.header.get(key).map(String::as_str)
    }

    /// The case's source with the runner's values filled in.
    pub fn program(&self, values: &BTreeMap<&str, String>) -> String {
        fill(&self.source, values)
    }

    /// The /execute body for this case.
    pub fn body(&self, values: &BTreeMap<&str, String>, session_suffix: &str) -> Value {
        let mut body = json!({
            "code": self.program(values),
            "language": self.language,
            "timeout": self.get("timeout").map_or(20, |t| t.parse::<u64>().unwrap()),
        });
        for key in ["limits", "files", "env_vars", "stdin", "egress"] {
            if let Some(raw) = self.get(key) {
                let value: Value = serde_json::from_str(&fill(raw, values))
                    .unwrap_or_else(|e| panic!("{}: {key} is not JSON: {e}", self.name));
                body[key] = value;
            }
        }
        if let Some(session) = self.session() {
            body["session_id"] = json!(format!("{session}{session_suffix}"));
        }
        body
    }

    pub fn session(&self) -> Option<&str> {
        self.get("session")
    }

    /// The isolation layers (as `GET /info` names them) the case's expected result needs.
    pub fn needs(&self) -> Vec<&str> {
        self.get("needs").map_or_else(Vec::new, |n| n.split(", ").collect())
    }

    /// Whether a run of another tenant must be in flight while the case runs (and survive it).
    pub fn bystander(&self) -> bool {
        self.get("bystander") == Some("yes")
    }

    /// How the case goes as a cell of an interpreter session: None, not run there; `Lives`, as
    /// its header says; `Dies`, it ends its own interpreter (its output with it).
    pub fn in_session(&self) -> Option<InSession> {
        match self.get("in-session")? {
            "yes" => Some(InSession::Lives),
            "dies" => Some(InSession::Dies),
            other => panic!("{}: in-session is yes or dies, not {other:?}", self.name),
        }
    }

    pub fn heavy(&self) -> bool {
        self.get("mixed") == Some("heavy")
    }

    /// Why this host cannot run the case, if it cannot.
    pub fn unsupported(&self) -> Option<String> {
        let arch = self.get("arch")?;
        (arch != std::env::consts::ARCH)
            .then(|| format!("uses {arch} syscall numbers, this host is {}", std::env::consts::ARCH))
    }

    pub fn expected_http(&self) -> Option<u16> {
        self.get("http").map(|s| s.parse().unwrap())
    }

    /// `files` names that must each be refused with 400.
    pub fn rejected_paths(&self, values: &BTreeMap<&str, String>) -> Option<Vec<String>> {
        let raw = self.get("reject-paths")?;
        Some(serde_json::from_str(&fill(raw, values)).unwrap_or_else(|e| panic!("{}: reject-paths: {e}", self.name)))
    }

    /// Whether the statuses and reason the header asks for match the result; the reason why not.
    pub fn check_result(&self, r: &Value, values: &BTreeMap<&str, String>) -> Vec<String> {
        let mut failures = Vec::new();
        let status = r["status"].as_str().unwrap_or("?");
        let reason = r["termination_reason"].as_str().unwrap_or("none");
        if let Some(want) = self.get("status") {
            if !want.split('|').any(|s| s == status) {
                failures.push(format!("status {status}, expected {want}"));
            }
        }
        if let Some(want) = self.get("reason") {
            if want != reason {
                failures.push(format!("termination_reason {reason}, expected {want}"));
            }
        }
        if self.get("truncated") == Some("stdout") && r["truncated"]["stdout"] != true {
            failures.push("stdout was not marked truncated".into());
        }
        let stdout = r["stdout"].as_str().unwrap_or("");
        for line in stdout.lines().filter(|l| l.starts_with("ESCAPED")) {
            failures.push(line.chars().take(300).collect());
        }
        for marker in self.denied_markers(values) {
            let seen = |word: &str| stdout.lines().any(|l| l.starts_with(&format!("{word} {marker}")));
            // An ESCAPED line for the marker already says why its DENIED line is missing.
            if !seen("DENIED") && !seen("ESCAPED") {
                failures.push(format!("no 'DENIED {marker}' line"));
            }
        }
        failures
    }

    fn denied_markers(&self, values: &BTreeMap<&str, String>) -> Vec<String> {
        self.get("denied").map_or_else(Vec::new, |d| fill(d, values).split(", ").map(str::to_string).collect())
    }
}

fn fill(text: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = text.to_string();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(at) = out.find("{{") {
        panic!("a placeholder has no value: {}", out[at..].chars().take(40).collect::<String>());
    }
    out
}
