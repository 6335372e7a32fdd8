//! A process a caller asks a session's box to start (our API, MCP): the one check of it.

use super::env::check_env_vars_as;
use crate::boxes::ProcessStart;
use crate::{ExecuteError, LimitPolicy};

/// The longest tag.
const MAX_TAG_LEN: usize = 256;

/// Checks `start`: a program, its arguments within the code size cap and without NUL, its
/// variables as `/execute`'s `env_vars` are checked, an absolute working directory, a
/// terminal of some size.
pub fn check_process_start(start: &ProcessStart, policy: &LimitPolicy) -> Result<(), ExecuteError> {
    if start.argv.first().is_none_or(|program| program.trim().is_empty()) {
        return Err(ExecuteError::invalid("command", "is required: a Bash line in `command`, or `argv`"));
    }
    let actual: u64 = start.argv.iter().map(|a| a.len() as u64).sum();
    if actual > policy.max_code_bytes {
        return Err(ExecuteError::TooLarge { what: "command".into(), actual, limit: policy.max_code_bytes });
    }
    if start.argv.iter().any(|a| a.contains('\0')) {
        return Err(ExecuteError::invalid("command", "contains a NUL character"));
    }
    check_env_vars_as("env", &start.env)?;
    if let Some(cwd) = &start.cwd {
        if !cwd.starts_with('/') || cwd.contains('\0') {
            return Err(ExecuteError::invalid("cwd", format!("must be an absolute path in the sandbox, got {cwd:?}")));
        }
    }
    if start.tag.as_ref().is_some_and(|t| t.len() > MAX_TAG_LEN || t.contains('\0')) {
        return Err(ExecuteError::invalid("tag", format!("at most {MAX_TAG_LEN} bytes, no NUL")));
    }
    if start.pty.is_some_and(|size| size.cols == 0 || size.rows == 0) {
        return Err(ExecuteError::invalid("pty", "cols and rows must be at least 1"));
    }
    Ok(())
}
