//! docs/configuration.md against the code: every variable the daemon reads (its flags' `env`,
//! and `config::READ_DIRECTLY`) is documented, every one documented is read, and every direct
//! `std::env::var` read in the crates is one of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::config::READ_DIRECTLY;

/// Variables the code reads that are not the daemon's configuration: the system's, and the
/// unit tests' switches.
const NOT_CONFIGURATION: &[&str] = &["HOME", "XDG_STATE_HOME", "HOSTNAME", "UPDATE_SNAPSHOT", "UPDATE_OPENAPI"];

/// Upper-case words in backticks of the docs that are not variables of the daemon: a log level
/// name, a resource limit, the test suite's and the compose file's variables.
const NOT_VARIABLES: &[&str] = &[
    "WARNING",
    // A kernel resource limit's name.
    "RLIMIT_NOFILE",
    "SANDBOX_TESTS_REQUIRED",
    "SANDBOX_TEST_TOOLS",
    "SANDBOX_E2B_SDKS",
    "SANDBOX_OPENAPI_CLIENT",
    "SANDBOX_TEST_PYTHON",
    "EXECUTOR_BIND",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `env` of every flag of every subcommand, and the variables read directly.
fn read_variables() -> BTreeSet<String> {
    fn walk(command: &clap::Command, into: &mut BTreeSet<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                into.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, into);
        }
    }
    let mut read = BTreeSet::new();
    walk(&crate::Cli::command(), &mut read);
    read.extend(READ_DIRECTLY.iter().map(|v| v.to_string()));
    read
}

/// Words of `[A-Z][A-Z0-9_]*` in backticks in `text`.
fn upper_case_words(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.len() > 1 && w.starts_with(|c: char| c.is_ascii_uppercase()))
        .filter(|w| w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_variable_read_is_documented_and_every_documented_one_is_read() {
    let document = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let documented: BTreeSet<String> =
        upper_case_words(&document).into_iter().filter(|w| !NOT_VARIABLES.contains(&w.as_str())).collect();
    let read = read_variables();
    let undocumented: Vec<_> = read.difference(&documented).collect();
    assert!(undocumented.is_empty(), "read but not in docs/configuration.md: {undocumented:?}");
    let unread: Vec<_> = documented.difference(&read).collect();
    assert!(unread.is_empty(), "in docs/configuration.md but never read: {unread:?}");
}

/// A variable of ours named anywhere in the docs (by its prefix, `SANDBOX_`, `EXECUTOR_`...)
/// is one the daemon reads.
#[test]
fn the_other_docs_name_only_variables_that_are_read() {
    let read = read_variables();
    let prefixes: BTreeSet<String> =
        read.iter().filter_map(|v| v.split_once('_')).map(|(prefix, _)| format!("{prefix}_")).collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs")).unwrap().map(|e| e.unwrap().path()).collect();
    docs.push(root().join("README.md"));
    for doc in docs.iter().filter(|p| p.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(doc).unwrap();
        for word in upper_case_words(&text) {
            let ours = prefixes.iter().any(|p| word.starts_with(p.as_str()));
            let known = read.contains(&word) || NOT_VARIABLES.contains(&word.as_str());
            assert!(!ours || known, "{} names {word}, which the daemon does not read", doc.display());
        }
    }
}

/// Each variable a crate reads by name through `std::env` is the daemon's
/// (listed in `READ_DIRECTLY` or a flag's `env`) or not configuration at all.
#[test]
fn every_direct_read_is_listed() {
    let read = read_variables();
    let mut unlisted = BTreeSet::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.retain(|d| !d.ends_with("bench"));
    let mut files = Vec::new();
    for dir in dirs {
        collect_sources(&dir.join("src"), &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for call in ["env::var(\"", "env::var_os(\""] {
            for (at, _) in text.match_indices(call) {
                let rest = &text[at + call.len()..];
                let name = &rest[..rest.find('"').unwrap_or(0)];
                if !read.contains(name) && !NOT_CONFIGURATION.contains(&name) {
                    unlisted.insert(format!("{name} ({})", file.display()));
                }
            }
        }
    }
    assert!(unlisted.is_empty(), "read directly but not in config::READ_DIRECTLY: {unlisted:?}");
}

fn collect_sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}
