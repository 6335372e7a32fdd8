//! Environment variables a caller adds to the sandbox's clean environment.

use std::collections::BTreeMap;

use crate::ExecuteError;

pub(super) const MAX_VARS: usize = 256;
const MAX_NAME_LEN: usize = 128;
/// Names and values together; keeps the exec's argument area (ARG_MAX) far away.
const MAX_TOTAL_BYTES: usize = 128 * 1024;

pub(super) fn check_env_vars(vars: &BTreeMap<String, String>) -> Result<(), ExecuteError> {
    check_env_vars_as("env_vars", vars)
}

/// The same checks, for variables sent under the field `field`.
pub(super) fn check_env_vars_as(field: &str, vars: &BTreeMap<String, String>) -> Result<(), ExecuteError> {
    if vars.len() > MAX_VARS {
        return Err(ExecuteError::invalid(field, format!("at most {MAX_VARS} variables, got {}", vars.len())));
    }
    let mut total = 0usize;
    for (name, value) in vars {
        if !is_valid_name(name) {
            return Err(ExecuteError::invalid(
                format!("{field}.{name}"),
                format!(
                    "a name is 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 _, \
                     not starting with a digit"
                ),
            ));
        }
        // execve takes C strings: a NUL would silently cut the value.
        if value.contains('\0') {
            return Err(ExecuteError::invalid(format!("{field}.{name}"), "the value contains a NUL character"));
        }
        total += name.len() + value.len();
    }
    if total > MAX_TOTAL_BYTES {
        return Err(ExecuteError::invalid(
            field,
            format!("names and values total {total} bytes, over the limit of {MAX_TOTAL_BYTES}"),
        ));
    }
    Ok(())
}

pub(super) fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    name.len() <= MAX_NAME_LEN
        && (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
