//! A validated execution request: what the HTTP layer and the CLI hand to the service.

use std::collections::BTreeMap;

use crate::language::Language;
use crate::templates::Template;

/// The tenant of calls that name none.
pub const DEFAULT_TENANT: &str = "default";

/// A request that has passed validation. Built by the server from its JSON body, or by the CLI.
#[derive(Debug, Clone)]
pub struct ExecutionRequest {
    pub execution_id: String,
    pub language: Language,
    pub code: String,
    pub timeout_ms: u64,
    /// Where the run's files live.
    pub workspace: WorkspaceChoice,
    /// Handed to a handler. `None`: parsed from `stdin` when that is JSON, else `{}`.
    pub event: Option<serde_json::Value>,
    pub stdin: String,
    /// Added to the sandbox's clean environment; names already validated.
    pub env_vars: BTreeMap<String, String>,
    /// Written into the workspace before the run; paths already validated lexically.
    pub files: Vec<InputFile>,
    /// The limits asked for, or the template's defaults for those not asked for.
    pub limits: RequestedLimits,
    /// The environment to run in; `None`: the system interpreters as they are.
    pub template: Option<Template>,
    /// Who the run is for (`default` when the caller names nobody); logged with the run.
    pub tenant_id: String,
    /// Free text the caller attached (for example `user:123`); logged with the run.
    pub scope: Option<String>,
    /// Whether a pre-started sandbox may serve the run (when one matches it).
    pub warm: bool,
    /// Where the run may connect through its egress door; `None`: no network at all.
    pub egress: Option<crate::egress::EgressPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceChoice {
    /// A fresh, empty workspace, removed after the run.
    Fresh,
    /// A named persistent workspace (a session's, or the shared default of the NVIDIA dialect),
    /// created on first use.
    Persistent(String),
}

#[derive(Debug, Clone)]
pub struct InputFile {
    /// Relative path inside the workspace.
    pub path: String,
    pub content: Vec<u8>,
}

/// Limits asked for by the caller; `None` takes the server's default. Values above the server's
/// caps are rejected during validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestedLimits {
    pub memory_mb: Option<u64>,
    pub max_output_bytes: Option<u64>,
    pub max_processes: Option<u64>,
}
