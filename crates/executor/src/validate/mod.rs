//! Turns what a caller sent into an [`ExecutionRequest`], or says precisely what is wrong.
//!
//! Field names in error messages are the HTTP API's (`timeout`, `limits.memory_mb`, ...), since
//! the caller reads them there.

mod env;
mod files;
mod metadata;
pub mod patterns;
mod process;
mod template;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::{
    EgressPolicy, ExecuteError, ExecutionRequest, Language, LimitPolicy, RequestedLimits, Template, WorkspaceChoice,
};

pub(crate) use files::check_no_file_is_a_parent;
pub use files::{validate_relative_path, validate_workspace_path, PathError};
pub use metadata::validate_metadata;
pub use process::check_process_start;

/// A request as the caller sent it, before validation (JSON already decoded, base64 file
/// contents already decoded).
#[derive(Debug, Clone, Default)]
pub struct RequestDraft {
    pub execution_id: Option<String>,
    pub language: Option<String>,
    pub code: String,
    pub timeout_secs: Option<f64>,
    /// A session's persistent workspace.
    pub session_id: Option<String>,
    /// A named shared workspace chosen by the server (the NVIDIA dialect's default one).
    pub shared_workspace: Option<String>,
    pub event: Option<serde_json::Value>,
    pub stdin: Option<String>,
    pub env_vars: BTreeMap<String, String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub limits: RequestedLimits,
    /// The template the caller named (already looked up); its language is the default and
    /// its limits are the defaults.
    pub template: Option<Template>,
    /// `None`: the default tenant.
    pub tenant_id: Option<String>,
    pub scope: Option<String>,
    /// Whether a pre-started sandbox may serve the run; `None`: yes.
    pub warm: Option<bool>,
    /// Any positive timeout up to the server's maximum is taken, below its minimum too (the
    /// NVIDIA dialect: its client sends timeouts such as 0.05 s).
    pub any_positive_timeout: bool,
    /// The destinations the run may reach (`egress`); empty: no network.
    pub egress: Vec<String>,
}

/// The timeout of a call that names none: the template's, or the server's default.
pub(crate) fn default_timeout_secs(template: Option<&Template>, policy: &LimitPolicy) -> f64 {
    template::default_timeout_secs(template, policy)
}

/// The limits asked for, with the template's defaults for those not asked for.
pub(crate) fn limits_with_template(
    asked: RequestedLimits,
    template: Option<&Template>,
    policy: &LimitPolicy,
) -> RequestedLimits {
    template::with_defaults(asked, template, policy)
}

/// Longest execution or session id; ids become directory and log names.
pub(crate) const MAX_ID_LEN: usize = 128;

pub fn build_request(draft: RequestDraft, policy: &LimitPolicy) -> Result<ExecutionRequest, ExecuteError> {
    check_code(&draft.code, policy)?;
    let requested = draft.language.as_deref().map(parse_language).transpose()?;
    let language = template::language(requested, draft.template.as_ref())?;
    let default_timeout = template::default_timeout_secs(draft.template.as_ref(), policy);
    let timeout_ms = match draft.timeout_secs {
        Some(secs) if draft.any_positive_timeout => positive_timeout_ms(secs, policy)?,
        secs => timeout_ms(secs, default_timeout, policy)?,
    };
    let execution_id = match draft.execution_id {
        Some(id) => check_id("execution_id", id)?,
        None => format!("exec_{}", uuid::Uuid::new_v4().simple()),
    };
    let tenant_id = check_id("tenant_id", draft.tenant_id.unwrap_or_else(|| crate::DEFAULT_TENANT.to_owned()))?;
    let workspace = workspace_choice(draft.session_id, draft.shared_workspace, &tenant_id)?;
    env::check_env_vars(&draft.env_vars)?;
    let files = files::check_files(draft.files, policy)?;
    check_limits(&draft.limits, policy)?;
    let limits = template::with_defaults(draft.limits, draft.template.as_ref(), policy);
    let stdin = draft.stdin.unwrap_or_default();
    let event = draft.event.or_else(|| event_from_stdin(&stdin));
    let scope = draft.scope.map(check_scope).transpose()?;
    let egress = check_egress(&draft.egress)?.or_else(|| draft.template.as_ref().and_then(|t| t.egress.clone()));
    Ok(ExecutionRequest {
        execution_id,
        language,
        code: draft.code,
        timeout_ms,
        workspace,
        event,
        stdin,
        env_vars: draft.env_vars,
        files,
        limits,
        template: draft.template,
        tenant_id,
        scope,
        warm: draft.warm.unwrap_or(true),
        home_alias: false,
        cancel: None,
        egress,
    })
}

/// The run's egress policy; `None`: no network.
pub fn check_egress(asked: &[String]) -> Result<Option<EgressPolicy>, ExecuteError> {
    EgressPolicy::parse(asked).map_err(|why| ExecuteError::invalid("egress", why.to_string()))
}

/// Longest `scope`.
pub(crate) const MAX_SCOPE_CHARS: usize = 256;

/// A scope is free text, but short and printable: it goes into logs.
pub fn check_scope(scope: String) -> Result<String, ExecuteError> {
    if scope.chars().count() > MAX_SCOPE_CHARS || scope.chars().any(char::is_control) {
        return Err(ExecuteError::invalid(
            "scope",
            format!("at most {MAX_SCOPE_CHARS} characters, without control characters"),
        ));
    }
    Ok(scope)
}

pub(crate) fn check_code(code: &str, policy: &LimitPolicy) -> Result<(), ExecuteError> {
    // Whitespace-only code runs nothing; it is almost certainly a caller's mistake.
    if code.trim().is_empty() {
        return Err(ExecuteError::invalid("code", "is required and must not be empty"));
    }
    let actual = code.len() as u64;
    if actual > policy.max_code_bytes {
        return Err(ExecuteError::TooLarge { what: "code".into(), actual, limit: policy.max_code_bytes });
    }
    Ok(())
}

fn parse_language(name: &str) -> Result<Language, ExecuteError> {
    Language::parse(name).ok_or_else(|| {
        ExecuteError::invalid("language", format!("unknown language {name:?}; accepted: {}", Language::ACCEPTED))
    })
}

pub(crate) fn timeout_ms(secs: Option<f64>, default_secs: f64, policy: &LimitPolicy) -> Result<u64, ExecuteError> {
    let secs = secs.unwrap_or(default_secs);
    if !secs.is_finite() || secs < policy.min_timeout_secs || secs > policy.max_timeout_secs {
        return Err(ExecuteError::invalid(
            "timeout",
            format!("must be between {} and {} seconds, got {secs}", policy.min_timeout_secs, policy.max_timeout_secs),
        ));
    }
    // In range and finite, so the cast cannot saturate.
    Ok((secs * 1000.0).round() as u64)
}

/// A caller's timeout in seconds, when it gives one: within the server's limits.
pub fn check_timeout(secs: Option<f64>, policy: &LimitPolicy) -> Result<(), ExecuteError> {
    secs.map_or(Ok(()), |secs| timeout_ms(Some(secs), secs, policy).map(drop))
}

/// A timeout that only has to be positive and within the maximum; at least 1 ms.
fn positive_timeout_ms(secs: f64, policy: &LimitPolicy) -> Result<u64, ExecuteError> {
    if !secs.is_finite() || secs <= 0.0 || secs > policy.max_timeout_secs {
        return Err(ExecuteError::invalid(
            "timeout",
            format!("must be more than 0 and at most {} seconds, got {secs}", policy.max_timeout_secs),
        ));
    }
    Ok(((secs * 1000.0).round() as u64).max(1))
}

/// Ids name directories and log lines: a short, shell- and path-safe alphabet.
/// Checks an execution or session id: the one rule for ids wherever they arrive.
pub fn check_id(field: &str, id: String) -> Result<String, ExecuteError> {
    let safe = id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    // "." and ".." would name the parent or the directory itself.
    let only_dots = id.bytes().all(|b| b == b'.');
    if id.is_empty() || id.len() > MAX_ID_LEN || !safe || only_dots {
        return Err(ExecuteError::invalid(
            field,
            format!(
                "must be 1 to {MAX_ID_LEN} characters of A-Z a-z 0-9 . _ - (not only dots), \
                 got {id:?}"
            ),
        ));
    }
    Ok(id)
}

/// A session wins over the server's shared workspace: a caller naming a session wants its own.
/// Both are the tenant's own: the same name given by two tenants names two workspaces, so one
/// tenant's id (guessed or learnt) never reaches another's files.
fn workspace_choice(
    session_id: Option<String>,
    shared: Option<String>,
    tenant: &str,
) -> Result<WorkspaceChoice, ExecuteError> {
    match (session_id, shared) {
        (Some(id), _) => {
            let id = check_id("session_id", id)?;
            Ok(WorkspaceChoice::Persistent(tenant_workspace(&format!("session-{id}"), tenant)))
        }
        (None, Some(name)) => Ok(WorkspaceChoice::Persistent(tenant_workspace(&name, tenant))),
        (None, None) => Ok(WorkspaceChoice::Fresh),
    }
}

/// `name` of `tenant`'s: `name@<SHA-256 of the tenant>`. `@` is outside the id alphabet, so
/// the split is unambiguous; the digest keeps the name within a directory name's 255 bytes
/// (a 128-character tenant and id side by side would not be).
fn tenant_workspace(name: &str, tenant: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{name}@{:x}", Sha256::digest(tenant.as_bytes()))
}

/// The runtime executor's contract: a JSON `stdin` is the handler's event.
fn event_from_stdin(stdin: &str) -> Option<serde_json::Value> {
    let trimmed = stdin.trim();
    if trimmed.is_empty() {
        return None;
    }
    serde_json::from_str(trimmed).ok()
}

fn check_limits(limits: &RequestedLimits, policy: &LimitPolicy) -> Result<(), ExecuteError> {
    let checks = [
        ("limits.memory_mb", limits.memory_mb, policy.max_memory_mb),
        ("limits.max_output_bytes", limits.max_output_bytes, policy.max_output_bytes),
        ("limits.max_processes", limits.max_processes, policy.max_processes),
    ];
    for (field, requested, cap) in checks {
        match requested {
            Some(value) if value < 1 || value > cap => {
                return Err(ExecuteError::invalid(field, format!("must be between 1 and {cap}, got {value}")));
            }
            _ => {}
        }
    }
    Ok(())
}
