//! Workspaces: the one writable directory a run shares with the host.
//!
//! Each lives under the workspace root, is owned by the sandbox's host user, and (when the
//! daemon is root) is its own size-capped tmpfs so filling it never fills the host's disk.
//! A fresh workspace is removed after its run; a persistent one (a session's, or the NVIDIA
//! dialect's shared one) lives until the daemon stops.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sandbox::{host, workspace_fs};

use crate::{ExecuteError, InputFile, WorkspaceChoice};

pub struct Workspaces {
    root: PathBuf,
    size_bytes: u64,
    owner: (u32, u32),
    mount: bool,
    persistent: Mutex<HashSet<String>>,
    /// Removals of fresh workspaces, done after their runs' results are out.
    removals: tokio_util::task::TaskTracker,
}

/// A workspace prepared for one run.
pub struct Workspace {
    pub path: PathBuf,
    fresh: bool,
}

impl Workspaces {
    /// Prepares the root, clearing what a previous daemon on the same root left behind.
    pub fn open(root: &Path, size_bytes: u64, owner: (u32, u32)) -> Result<Self, ExecuteError> {
        let internal = |e: std::io::Error| ExecuteError::Internal(format!("workspace root {}: {e}", root.display()));
        std::fs::create_dir_all(root).map_err(internal)?;
        let workspaces = Workspaces {
            root: root.to_path_buf(),
            size_bytes,
            owner,
            mount: host::is_root(),
            persistent: Mutex::new(HashSet::new()),
            removals: tokio_util::task::TaskTracker::new(),
        };
        for kind in ["runs", "persistent"] {
            let dir = root.join(kind);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    workspaces.remove(&entry.path());
                }
            }
            std::fs::create_dir_all(&dir).map_err(internal)?;
            set_mode(&dir, 0o711).map_err(internal)?;
        }
        set_mode(root, 0o711).map_err(internal)?;
        if workspaces.mount {
            reachable_by_others(root)?;
        }
        Ok(workspaces)
    }

    /// Whether workspaces are size-capped (they are when the daemon may mount them).
    pub fn size_capped(&self) -> bool {
        self.mount
    }

    pub fn prepare(&self, choice: &WorkspaceChoice, execution_id: &str) -> Result<Workspace, ExecuteError> {
        match choice {
            WorkspaceChoice::Fresh => {
                let name = format!("{execution_id}-{}", uuid::Uuid::new_v4().simple());
                let path = self.root.join("runs").join(name);
                self.create(&path)?;
                Ok(Workspace { path, fresh: true })
            }
            WorkspaceChoice::Persistent(name) => {
                let path = self.root.join("persistent").join(name);
                let mut known = self.persistent.lock().unwrap_or_else(|p| p.into_inner());
                if !known.contains(name) {
                    self.remove(&path);
                    self.create(&path)?;
                    known.insert(name.clone());
                }
                Ok(Workspace { path, fresh: false })
            }
        }
    }

    /// Writes the request's files, all or none; a path through a symlink the code planted is
    /// refused.
    pub fn write_files(&self, workspace: &Workspace, files: &[InputFile]) -> Result<(), ExecuteError> {
        let batch: Vec<(&str, &[u8])> = files.iter().map(|f| (f.path.as_str(), f.content.as_slice())).collect();
        workspace_fs::write_files(&workspace.path, &batch, Some(self.owner)).map_err(|(index, e)| {
            // No file named: the workspace itself could not be opened.
            let Some(path) = index.and_then(|i| files.get(i)).map(|f| f.path.as_str()) else {
                return ExecuteError::workspace_io("opening the workspace", &e);
            };
            if e.is_out_of_descriptors() {
                ExecuteError::ResourcesExhausted(format!("writing the request's files: {e}"))
            } else if e.is_no_space() {
                let adding = files.iter().map(|f| f.content.len() as u64).sum();
                let files_bytes = workspace_fs::walk(&workspace.path, 0).map_or(0, |l| l.bytes);
                ExecuteError::WorkspaceFull { files_bytes, adding, limit: self.size_bytes }
            } else if e.is_conflict() {
                ExecuteError::FileConflict(e.to_string())
            } else if e.is_path_problem() {
                ExecuteError::invalid(format!("files[{path}]"), e.to_string())
            } else {
                ExecuteError::Internal(format!("writing files[{path}]: {e}"))
            }
        })
    }

    /// Removes a fresh workspace whose run is over, in the background (on a runtime): its
    /// sandbox is gone, and unmounting it need not delay the result.
    pub fn release(&self, workspace: Workspace) {
        if workspace.fresh {
            self.remove_later(workspace.path);
        }
    }

    /// Removes `path` on the blocking pool when there is a runtime: what the code left there
    /// may take long to remove, and no async worker waits for it.
    fn remove_later(&self, path: PathBuf) {
        let mount = self.mount;
        match tokio::runtime::Handle::try_current() {
            Ok(_) => drop(self.removals.spawn_blocking(move || remove(mount, &path))),
            Err(_) => remove(mount, &path),
        }
    }

    /// Waits until the workspaces released so far are removed (before the daemon exits).
    pub async fn removed(&self) {
        self.removals.close();
        self.removals.wait().await;
        self.removals.reopen();
    }

    /// Unmounts and removes the persistent workspace `name` (a session's, when it ends), in
    /// the background.
    pub fn remove_persistent(&self, name: &str) {
        let mut known = self.persistent.lock().unwrap_or_else(|p| p.into_inner());
        if known.remove(name) {
            self.remove_later(self.root.join("persistent").join(name));
        }
    }

    /// Who owns what the daemon writes into workspaces (host ids).
    pub fn owner(&self) -> (u32, u32) {
        self.owner
    }

    /// The size cap of each workspace.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Unmounts and removes every persistent workspace (at shutdown; `removed` waits for them).
    pub fn clear_persistent(&self) {
        let mut known = self.persistent.lock().unwrap_or_else(|p| p.into_inner());
        for name in known.drain() {
            self.remove_later(self.root.join("persistent").join(name));
        }
    }

    fn create(&self, path: &Path) -> Result<(), ExecuteError> {
        let internal = |e: String| ExecuteError::Internal(format!("workspace {}: {e}", path.display()));
        std::fs::create_dir(path).map_err(|e| internal(e.to_string()))?;
        if self.mount {
            host::mount_workspace(path, self.size_bytes, self.owner).map_err(|e| internal(e.to_string()))?;
        } else {
            set_mode(path, 0o700).map_err(|e| internal(e.to_string()))?;
        }
        Ok(())
    }

    fn remove(&self, path: &Path) {
        remove(self.mount, path);
    }
}

/// Unmounts (`mount`: only a root daemon's workspaces are mounts; a non-root daemon may not
/// unmount at all) and removes the workspace at `path`.
fn remove(mount: bool, path: &Path) {
    if let Err(e) = if mount { host::unmount(path) } else { Ok(()) } {
        tracing::warn!(path = %path.display(), error = %e, "cannot unmount workspace");
    }
    // The code may have left a tree of any depth: the removal is iterative, holding a
    // bounded number of descriptors.
    if let Err(e) = workspace_fs::remove_tree(path) {
        if !e.is_not_found() {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove workspace");
        }
    }
}

/// The sandbox's user is nobody on the host: every directory above the workspaces must let
/// others through, or each run would fail to bind its workspace.
fn reachable_by_others(root: &Path) -> Result<(), ExecuteError> {
    use std::os::unix::fs::PermissionsExt;
    let root =
        root.canonicalize().map_err(|e| ExecuteError::Internal(format!("workspace root {}: {e}", root.display())))?;
    for dir in root.ancestors() {
        let mode = std::fs::metadata(dir).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o001 == 0 {
            return Err(ExecuteError::Internal(format!(
                "the workspace root {} is not reachable by the sandbox user: {} lacks the others-execute permission (chmod o+x it, or choose another WORKSPACE_PATH)",
                root.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_that_cannot_be_opened_is_an_error_and_no_files_need_none() {
        let root = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(root.path()).unwrap();
        let owner = (std::os::unix::fs::MetadataExt::uid(&meta), std::os::unix::fs::MetadataExt::gid(&meta));
        let workspaces = Workspaces::open(&root.path().join("root"), 1 << 20, owner).unwrap();
        let gone = Workspace { path: root.path().join("gone"), fresh: true };
        workspaces.write_files(&gone, &[]).expect("a run without files opens nothing");
        let file = InputFile { path: "a.txt".into(), content: b"a".to_vec() };
        let err = workspaces.write_files(&gone, &[file]).unwrap_err();
        assert!(matches!(&err, ExecuteError::Internal(why) if why.starts_with("opening the workspace")), "{err}");
    }
}
