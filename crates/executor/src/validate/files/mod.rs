//! Files a caller uploads into the workspace: lexical path safety and size caps.
//!
//! Paths are checked as text only; the service still opens them without following symlinks,
//! since a persistent workspace may hold links planted by an earlier run.

use std::collections::BTreeSet;

use sandbox::workspace_fs;

use crate::{ExecuteError, InputFile, LimitPolicy};

pub(super) const MAX_PATH_BYTES: usize = 1024;
const MAX_COMPONENT_BYTES: usize = workspace_fs::MAX_NAME_BYTES;

/// Checks a relative file path and returns it in the form the workspace uses.
///
/// Non-canonical spellings (`a//b`, `./a`, `a/`) are rejected rather than rewritten, so two
/// spellings of one file can never both pass and the caller sees exactly what will be written.
pub fn validate_relative_path(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("the path is empty".into());
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!("the path is {} bytes, over {MAX_PATH_BYTES}", path.len()));
    }
    if path.contains('\0') {
        return Err("the path contains a NUL character".into());
    }
    if path.starts_with('/') {
        return Err("the path must be relative to the workspace, not absolute".into());
    }
    if path.ends_with('/') {
        return Err("the path ends with '/', so it names a directory, not a file".into());
    }
    for component in path.split('/') {
        check_component(component)?;
    }
    Ok(path.to_owned())
}

/// Checks a path of a workspace shown as a filesystem (E2B's Filesystem service), relative
/// to the workspace. The code may have made any name, so any character but NUL passes; what
/// is bounded is the work: at most `MAX_PATH_BYTES` of path (so at most half as many
/// components), each name at most `MAX_NAME_BYTES`, as the kernel takes them, and no `..`.
pub fn validate_workspace_path(path: &str) -> Result<(), String> {
    let limit = workspace_fs::MAX_PATH_BYTES;
    if path.len() > limit {
        return Err(format!("the path is {} bytes, over {limit}", path.len()));
    }
    if path.contains('\0') {
        return Err("the path contains a NUL character".into());
    }
    for component in path.split('/') {
        if component == ".." {
            return Err("the path must not contain a \"..\" component".into());
        }
        if component.len() > MAX_COMPONENT_BYTES {
            return Err(format!("a path component is {} bytes, over {MAX_COMPONENT_BYTES}", component.len()));
        }
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("the path has an empty component ('//')".into());
    }
    // ".", ".." and the like: ".." escapes the workspace, the others only confuse.
    if component.bytes().all(|b| b == b'.') {
        return Err(format!("the path must not contain a {component:?} component"));
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(format!("a path component is {} bytes, over {MAX_COMPONENT_BYTES}", component.len()));
    }
    if let Some(bad) = component.chars().find(|&c| !is_allowed_char(c)) {
        return Err(format!("the path contains {bad:?}; allowed: A-Z a-z 0-9 and _ . @ + = - space"));
    }
    if component.starts_with(' ') || component.ends_with(' ') {
        return Err(format!("the component {component:?} starts or ends with a space"));
    }
    Ok(())
}

fn is_allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '+' | '=' | '-' | ' ')
}

pub(super) fn check_files(files: Vec<(String, Vec<u8>)>, policy: &LimitPolicy) -> Result<Vec<InputFile>, ExecuteError> {
    if files.len() > policy.max_files {
        return Err(ExecuteError::invalid("files", format!("at most {} files, got {}", policy.max_files, files.len())));
    }
    let mut seen = BTreeSet::new();
    let mut total = 0u64;
    let mut checked = Vec::with_capacity(files.len());
    for (path, content) in files {
        let field = format!("files[{path:?}]");
        let path = validate_relative_path(&path).map_err(|m| ExecuteError::invalid(&field, m))?;
        if !seen.insert(path.clone()) {
            return Err(ExecuteError::invalid(field, "the same path is given twice"));
        }
        let size = content.len() as u64;
        if size > policy.max_file_bytes {
            return Err(ExecuteError::TooLarge { what: field, actual: size, limit: policy.max_file_bytes });
        }
        total += size;
        checked.push(InputFile { path, content });
    }
    if total > policy.max_files_total_bytes {
        return Err(ExecuteError::TooLarge {
            what: "files (all together)".into(),
            actual: total,
            limit: policy.max_files_total_bytes,
        });
    }
    check_no_file_is_a_parent(&seen)?;
    Ok(checked)
}

/// `a` and `a/b` cannot both be files: one of them would have to be a directory.
pub(crate) fn check_no_file_is_a_parent(paths: &BTreeSet<String>) -> Result<(), ExecuteError> {
    for path in paths {
        let mut parents = path.match_indices('/').map(|(i, _)| &path[..i]);
        if let Some(parent) = parents.find(|p| paths.contains(*p)) {
            return Err(ExecuteError::invalid(
                format!("files[{path:?}]"),
                format!("its parent {parent:?} is also given as a file"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
