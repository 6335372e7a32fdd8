//! File system helpers of builds. A built environment is bind-mounted into sandboxes whose
//! user is nobody on the host, so everything in it must be readable by others and every
//! directory above it traversable.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Creates `dir` (and its parents) and lets others list and traverse it.
pub fn create_reachable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    add_mode(dir, 0o755)
}

/// When the daemon is root, the sandbox's pid 1 is an unprivileged host user that must
/// traverse every directory above `dir` to bind it.
pub fn check_reachable(dir: &Path) -> Result<(), Unreachable> {
    if !sandbox::host::is_root() {
        return Ok(());
    }
    let dir = dir.canonicalize().map_err(|source| Unreachable::Resolve { dir: dir.into(), source })?;
    for ancestor in dir.ancestors() {
        let mode = std::fs::metadata(ancestor).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o001 == 0 {
            return Err(Unreachable::NotTraversable { ancestor: ancestor.into(), dir });
        }
    }
    Ok(())
}

/// Why the sandbox user cannot reach the templates directory.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    #[error("{}: {source}", dir.display())]
    Resolve { dir: PathBuf, source: std::io::Error },
    #[error(
        "the templates directory {} is not reachable by the sandbox user: {} lacks the \
         others-execute permission (chmod o+x it, or choose another SANDBOX_TEMPLATES_DIR)",
        dir.display(),
        ancestor.display()
    )]
    NotTraversable { dir: PathBuf, ancestor: PathBuf },
}

/// Adds read permission for everyone to every file under `root`, and execute permission
/// where the owner has it (directories, programs), whatever the umask of the tools was; a
/// package may ship a tree of any depth, so the walk is the workspaces' iterative one.
pub fn open_to_others(root: &Path) -> Result<(), sandbox::workspace_fs::WorkspaceFsError> {
    sandbox::workspace_fs::open_to_others(root)
}

/// Removes the entries of `dir` whose names start with one of `prefixes`.
pub fn remove_matching(dir: &Path, prefixes: &[&str]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if prefixes.iter().any(|p| name.to_string_lossy().starts_with(p)) {
            if let Err(e) = sandbox::workspace_fs::remove_tree(&entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a leftover build");
            }
        }
    }
}

fn add_mode(path: &Path, bits: u32) -> std::io::Result<()> {
    let mode = std::fs::metadata(path)?.permissions().mode();
    if mode & bits == bits {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | bits))
}

/// Opens (creating) `path` and waits for an exclusive lock on it, held until the file is
/// dropped: one builder at a time across threads and processes.
pub fn lock_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::File::options().create(true).truncate(false).write(true).open(path)?;
    file.lock()?;
    Ok(file)
}

/// Now, as RFC 3339 in UTC.
pub fn utc_now() -> String {
    crate::recorder::rfc3339(crate::recorder::now_ms())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_become_readable_and_programs_executable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("lib.py"), "").unwrap();
        std::fs::write(sub.join("tool"), "").unwrap();
        std::fs::set_permissions(sub.join("lib.py"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(sub.join("tool"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
        open_to_others(dir.path()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o755);
        assert_eq!(mode(&sub.join("lib.py")), 0o644);
        assert_eq!(mode(&sub.join("tool")), 0o755);
    }
}
