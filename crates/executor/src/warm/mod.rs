//! The warm launch path. Python runs are forked by a zygote into sandboxes of their own (see
//! [`zygote`]); other runs take sandboxes started ahead of them, each used for exactly one run.
//!
//! A pooled sandbox is a cold-path sandbox started early: the same spec (`spec::sandbox_spec`),
//! mounts, cgroup, seccomp and Landlock, its own fresh workspace and /tmp, the same launcher.
//! Its driver imports what it can and then blocks on a socket handed to it at start; the run
//! (code, event, context, environment) arrives there when a request claims the sandbox.
//! After that run the sandbox is gone, like any other; the pool starts a new one.
//!
//! A zygote also builds a few forks ahead of their runs ([`prebuilt`]): sandboxes with their
//! namespaces, root, /tmp and cgroup made, whose program waits for the run that claims it.

mod binds;
mod not_taken;
mod pool;
mod pooled;
mod prebuilt;
mod refill;
mod serve;
mod zygote;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ExecutionRequest, Language, LimitPolicy, RequestedLimits, WorkspaceChoice};

pub(crate) use not_taken::{Ahead, NotTaken};
pub(crate) use pool::{Claim, Pool};
pub(crate) use pooled::Pooled;
pub(crate) use serve::serve;
pub(crate) use zygote::{fork, fork_live, ForkRun, Zygote};

/// How many sandboxes are kept ready, and for how long.
#[derive(Debug, Clone)]
pub struct WarmConfig {
    /// Ready sandboxes per (language, template) where runs are not forked; 0 turns the warm
    /// path off (zygotes too).
    pub per_key: usize,
    /// An idle sandbox older than this is replaced by a fresh one.
    pub max_idle: Duration,
    /// Templates kept warm at once (the most recently used), besides the system interpreters.
    pub max_templates: usize,
    /// Sandboxes each zygote builds ahead of their runs (see [`prebuilt`]).
    pub prebuilt: usize,
    /// The shared library Python zygotes fork runs with; without it Python runs use
    /// pre-started sandboxes like JavaScript.
    pub zygote_lib: Option<PathBuf>,
}

impl Default for WarmConfig {
    /// Off: a service that is not a long-running daemon has no use for it.
    fn default() -> Self {
        WarmConfig { per_key: 0, max_idle: Duration::from_secs(60), max_templates: 2, prebuilt: 0, zygote_lib: None }
    }
}

/// What `GET /info` says about the warm path.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WarmInfo {
    pub enabled: bool,
    /// Ready sandboxes kept per pool.
    pub pool_size: usize,
    /// Seconds an idle sandbox is kept before it is replaced.
    pub max_idle_secs: u64,
    pub pools: Vec<WarmPoolInfo>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WarmPoolInfo {
    pub language: Language,
    /// Null: the system interpreter.
    pub template: Option<String>,
    /// Sandboxes started and waiting for a run (a zygote counts as one).
    pub ready: usize,
    /// Sandboxes the pool's zygote built ahead of their runs, waiting for one each.
    pub prebuilt: usize,
    /// `fork`: a zygote forks a sandbox per run; `pre-start`: each sandbox serves one run.
    pub kind: &'static str,
}

/// Which pool can serve a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub language: Language,
    pub template: Option<String>,
}

/// The limits a sandbox is started with; a run is served warm only with the same ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fixed {
    memory_mb: u64,
    processes: u64,
    output_bytes: u64,
}

impl Fixed {
    pub fn of(limits: &RequestedLimits, policy: &LimitPolicy) -> Fixed {
        Fixed {
            memory_mb: limits.memory_mb.unwrap_or(policy.default_memory_mb),
            processes: limits.max_processes.unwrap_or(policy.default_processes),
            output_bytes: limits.max_output_bytes.unwrap_or(policy.default_output_bytes),
        }
    }
}

/// The pool that may serve `req`, if a warm sandbox can run it exactly as a fresh one would,
/// and nothing the interpreter reads only as it starts is set.
///
/// A zygote's fork (`forking`) is built from the run's own spec, so any Python run can be
/// forked, whatever its workspace, stdin or limits; a shell run too (the fork executes bash).
/// A pre-started sandbox has its workspace, stdin and limits from its start, so it serves
/// only a one-shot run of Python or CommonJS in a fresh workspace with nothing on stdin.
pub(crate) fn key_for(req: &ExecutionRequest, forking: bool) -> Option<Key> {
    if !req.warm || req.env_vars.keys().any(|name| read_at_start(name)) {
        return None;
    }
    let template = req.template.as_ref().map(|t| t.name.clone());
    let key = |language| Some(Key { language, template: template.clone() });
    // A shell run forks from the Python zygote of its template, which has the template's
    // environment: only a Python template has one.
    let python_template = req.template.as_ref().is_none_or(|t| t.language == Language::Python);
    match req.language {
        Language::Python if forking => key(Language::Python),
        Language::Shell if forking && python_template => key(Language::Python),
        Language::Shell => None,
        _ if req.workspace != WorkspaceChoice::Fresh || !req.stdin.is_empty() => None,
        Language::Javascript if crate::runtime::is_es_module(&req.code) => None,
        language => key(language),
    }
}

/// Variables an interpreter (or a preloaded library) reads as it starts: set later, they
/// would not act as they do on a fresh start.
fn read_at_start(name: &str) -> bool {
    const PREFIXES: [&str; 13] =
        ["PYTHON", "NODE_", "UV_", "LD_", "MALLOC", "GLIBC", "OMP_", "OPENBLAS", "MKL_", "NUMEXPR", "MPL", "LC_", "TZ"];
    const NAMES: [&str; 3] = ["LANG", "LANGUAGE", "HOME"];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// Modules a Python template's sandboxes import before their run: the known heavy ones among
/// its packages (a failed import is left for the run to meet).
pub(crate) fn preload(packages: &[String]) -> Vec<String> {
    const KNOWN: [(&str, &str); 4] =
        [("numpy", "numpy"), ("pandas", "pandas"), ("matplotlib", "matplotlib.pyplot"), ("scipy", "scipy")];
    let names: Vec<String> = packages
        .iter()
        .map(|p| {
            let end = p.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'));
            p[..end.unwrap_or(p.len())].to_ascii_lowercase()
        })
        .collect();
    KNOWN
        .iter()
        .filter(|(package, _)| names.iter().any(|n| n == package))
        .map(|(_, module)| module.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_takes_the_known_heavy_modules_of_a_template() {
        let packages = ["numpy>=1.26".to_string(), "pandas".into(), "matplotlib==3.8".into(), "requests".into()];
        assert_eq!(preload(&packages), ["numpy", "pandas", "matplotlib.pyplot"]);
        assert!(preload(&["numpyx".to_string()]).is_empty());
    }

    #[test]
    fn variables_read_at_start_keep_a_run_cold() {
        assert!(read_at_start("PYTHONPATH") && read_at_start("NODE_OPTIONS") && read_at_start("TZ"));
        assert!(!read_at_start("MY_VAR") && !read_at_start("PATH"));
    }

    #[test]
    fn a_zygote_forks_any_python_or_shell_run_and_a_pre_started_sandbox_only_a_plain_one() {
        let mut req = ExecutionRequest {
            execution_id: "1".into(),
            language: Language::Python,
            code: "print(1)".into(),
            timeout_ms: 5_000,
            workspace: WorkspaceChoice::Fresh,
            event: None,
            stdin: String::new(),
            env_vars: Default::default(),
            files: Vec::new(),
            limits: Default::default(),
            template: None,
            tenant_id: "t".into(),
            scope: None,
            warm: true,
            home_alias: false,
            cancel: None,
            egress: None,
        };
        req.stdin = "abc".into();
        req.workspace = WorkspaceChoice::Persistent("s".into());
        assert_eq!(key_for(&req, true).map(|k| k.language), Some(Language::Python));
        assert_eq!(key_for(&req, false), None, "a pre-started sandbox has its stdin and workspace from its start");
        req.language = Language::Shell;
        assert_eq!(key_for(&req, true).map(|k| k.language), Some(Language::Python), "the Python zygote forks it");
        req.workspace = WorkspaceChoice::Fresh;
        req.stdin.clear();
        assert_eq!(key_for(&req, false), None, "no pre-started shell");
        req.language = Language::Javascript;
        assert_eq!(key_for(&req, true).map(|k| k.language), Some(Language::Javascript));
        req.env_vars.insert("NODE_OPTIONS".into(), "--x".into());
        assert_eq!(key_for(&req, true), None);
    }
}
