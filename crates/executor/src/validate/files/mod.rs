//! Files a caller uploads into the workspace: lexical path safety and size caps.
//!
//! Paths are checked as text only; the service still opens them without following symlinks,
//! since a persistent workspace may hold links planted by an earlier run.

use std::collections::BTreeSet;

use sandbox::workspace_fs;

use crate::{ExecuteError, InputFile, LimitPolicy};

pub(super) const MAX_PATH_BYTES: usize = 1024;
const MAX_COMPONENT_BYTES: usize = workspace_fs::MAX_NAME_BYTES;

/// Why a path was refused; its text is what the API shows (after the field it belongs to).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty")]
    Empty,
    #[error("the path is {bytes} bytes, over {limit}")]
    TooLong { bytes: usize, limit: usize },
    #[error("the path contains a NUL character")]
    Nul,
    #[error("the path must be relative to the workspace, not absolute")]
    Absolute,
    #[error("the path ends with '/', so it names a directory, not a file")]
    Directory,
    #[error("the path has an empty component ('//')")]
    EmptyComponent,
    #[error("the path must not contain a {0:?} component")]
    Dots(String),
    #[error("a path component is {bytes} bytes, over {limit}")]
    ComponentTooLong { bytes: usize, limit: usize },
    #[error("the path contains {0:?}; allowed: A-Z a-z 0-9 and _ . @ + = - space")]
    Character(char),
    #[error("the component {0:?} starts or ends with a space")]
    Spaces(String),
}

/// The message of an invalid-field error.
impl From<PathError> for String {
    fn from(error: PathError) -> String {
        error.to_string()
    }
}

/// Checks a relative file path and returns it in the form the workspace uses.
///
/// Non-canonical spellings (`a//b`, `./a`, `a/`) are rejected rather than rewritten, so two
/// spellings of one file can never both pass and the caller sees exactly what will be written.
pub fn validate_relative_path(path: &str) -> Result<String, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong { bytes: path.len(), limit: MAX_PATH_BYTES });
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    if path.ends_with('/') {
        return Err(PathError::Directory);
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
pub fn validate_workspace_path(path: &str) -> Result<(), PathError> {
    let limit = workspace_fs::MAX_PATH_BYTES;
    if path.len() > limit {
        return Err(PathError::TooLong { bytes: path.len(), limit });
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    for component in path.split('/') {
        if component == ".." {
            return Err(PathError::Dots(component.into()));
        }
        if component.len() > MAX_COMPONENT_BYTES {
            return Err(PathError::ComponentTooLong { bytes: component.len(), limit: MAX_COMPONENT_BYTES });
        }
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), PathError> {
    if component.is_empty() {
        return Err(PathError::EmptyComponent);
    }
    // ".", ".." and the like: ".." escapes the workspace, the others only confuse.
    if component.bytes().all(|b| b == b'.') {
        return Err(PathError::Dots(component.into()));
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::ComponentTooLong { bytes: component.len(), limit: MAX_COMPONENT_BYTES });
    }
    if let Some(bad) = component.chars().find(|&c| !is_allowed_char(c)) {
        return Err(PathError::Character(bad));
    }
    if component.starts_with(' ') || component.ends_with(' ') {
        return Err(PathError::Spaces(component.into()));
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
