//! A session's workspace as a filesystem (the E2B compatibility layer's Filesystem service):
//! what is at a path, listings, and making, moving and removing entries, all through the
//! workspace's safe file access (no symlink is ever followed).

use sandbox::workspace_fs::{self, Entry, WorkspaceFsError};

use super::Sessions;
use crate::validate::validate_workspace_path;
use crate::ExecuteError;

fn error(path: &str, e: WorkspaceFsError) -> ExecuteError {
    match e {
        e if e.is_not_found() => ExecuteError::FileNotFound(path.to_string()),
        e if e.is_conflict() => ExecuteError::FileConflict(e.to_string()),
        e if e.is_exists() => ExecuteError::FileConflict(format!("{path}: already exists")),
        e if e.is_path_problem() => ExecuteError::invalid("path", e.to_string()),
        e if e.is_out_of_descriptors() => ExecuteError::ResourcesExhausted(format!("{path}: {e}")),
        e => ExecuteError::Internal(format!("{path}: {e}")),
    }
}

impl Sessions {
    /// The session's workspace, once `paths` are found acceptable.
    fn workspace_of(&self, id: &str, tenant: &str, paths: &[&str]) -> Result<std::path::PathBuf, ExecuteError> {
        for path in paths {
            validate_workspace_path(path).map_err(|m| ExecuteError::invalid("path", m))?;
        }
        Ok(self.registry.get(id, tenant)?.0.workspace.clone())
    }

    /// What is at `path` of the session's workspace (the workspace itself when empty).
    pub fn stat_entry(&self, id: &str, tenant: &str, path: &str) -> Result<Entry, ExecuteError> {
        workspace_fs::stat(&self.workspace_of(id, tenant, &[path])?, path).map_err(|e| error(path, e))
    }

    /// The entries of the directory `path`, `depth` levels down.
    pub fn list_entries(&self, id: &str, tenant: &str, path: &str, depth: u32) -> Result<Vec<Entry>, ExecuteError> {
        workspace_fs::list_dir(&self.workspace_of(id, tenant, &[path])?, path, depth).map_err(|e| error(path, e))
    }

    /// Makes the directory `path` with its parents; false when it was there already.
    pub fn make_dir(&self, id: &str, tenant: &str, path: &str) -> Result<bool, ExecuteError> {
        let owner = Some(self.sandboxes.workspaces.owner());
        workspace_fs::make_dir(&self.workspace_of(id, tenant, &[path])?, path, owner).map_err(|e| error(path, e))
    }

    /// Removes `path`, a directory with everything in it.
    pub fn remove_entry(&self, id: &str, tenant: &str, path: &str) -> Result<(), ExecuteError> {
        workspace_fs::remove(&self.workspace_of(id, tenant, &[path])?, path).map_err(|e| error(path, e))
    }

    /// Gives the file `path` exactly `metadata` (E2B's user metadata of a file).
    pub fn set_metadata(
        &self,
        id: &str,
        tenant: &str,
        path: &str,
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), ExecuteError> {
        workspace_fs::set_metadata(&self.workspace_of(id, tenant, &[path])?, path, metadata).map_err(|e| error(path, e))
    }

    /// Moves `from` to `to`.
    pub fn move_entry(&self, id: &str, tenant: &str, from: &str, to: &str) -> Result<(), ExecuteError> {
        workspace_fs::rename(&self.workspace_of(id, tenant, &[from, to])?, from, to).map_err(|e| error(from, e))
    }
}
