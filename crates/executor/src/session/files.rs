//! Files of a session's workspace: upload, list, download (streamed by the caller). The workspace holds whatever the
//! session's code left there, so paths are checked as text first (the same rules as the
//! files of `/execute`) and then opened by the kernel beneath the workspace without ever
//! following a symlink; a file with more than one hard link is never read (it could be a
//! link to a file the caller must not see).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

use sandbox::workspace_fs::{self, WorkspaceFsError};
use serde::Serialize;
use utoipa::ToSchema;

use super::transfers::Transfer;
use super::Sessions;
use crate::validate::{check_no_file_is_a_parent, validate_relative_path};
use crate::ExecuteError;

/// Files beyond this many are not listed (at any depth: they all count for the size cap).
const MAX_LISTED: usize = 10_000;

/// A regular file of a session's workspace.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionFile {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Guessed from the extension.
    pub mime_type: String,
    /// RFC 3339.
    pub modified_at: String,
}

impl Sessions {
    /// Writes each `(path, content)` into the session's workspace, all of them or none
    /// (replacing a file there, never writing through it), within the per-file and
    /// per-workspace caps, and describes them in the order given.
    pub fn upload_files(
        &self,
        id: &str,
        tenant: &str,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<SessionFile>, ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        let workspace = &session.workspace;
        let per_file = self.sandboxes.config.limits.max_file_bytes;
        let mut paths = BTreeSet::new();
        let mut checked = Vec::with_capacity(files.len());
        for (path, content) in files {
            let path = checked_path(&path)?;
            let size = content.len() as u64;
            if size > per_file {
                return Err(ExecuteError::TooLarge { what: format!("file {path:?}"), actual: size, limit: per_file });
            }
            if !paths.insert(path.clone()) {
                return Err(ExecuteError::invalid("path", format!("{path:?} is given twice")));
            }
            checked.push((path, content));
        }
        check_no_file_is_a_parent(&paths)?;
        let adding: u64 = checked.iter().map(|(_, c)| c.len() as u64).sum();
        let cap = self.sandboxes.workspaces.size_bytes();
        let listing = workspace_fs::walk(workspace, 0)
            .map_err(|e| ExecuteError::workspace_io("measuring the session's workspace", &e))?;
        // Files about to be replaced stop counting.
        let replaced: u64 = paths
            .iter()
            .filter_map(|p| workspace_fs::open_file(workspace, p).ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        let kept = listing.bytes.saturating_sub(replaced);
        if kept + adding > cap {
            return Err(ExecuteError::TooLarge {
                what: format!(
                    "the session's workspace (its {} files hold {} bytes, {kept} of them kept, and this upload adds {adding})",
                    listing.count, listing.bytes
                ),
                actual: kept + adding,
                limit: cap,
            });
        }
        let batch: Vec<(&str, &[u8])> = checked.iter().map(|(p, c)| (p.as_str(), c.as_slice())).collect();
        workspace_fs::write_files(workspace, &batch, Some(self.sandboxes.workspaces.owner())).map_err(
            |(index, e)| {
                let path = index.and_then(|i| checked.get(i)).map_or("", |(path, _)| path.as_str());
                if e.is_out_of_descriptors() {
                    ExecuteError::ResourcesExhausted(format!("writing the files: {e}"))
                } else if e.is_no_space() {
                    ExecuteError::WorkspaceFull { files_bytes: kept, adding, limit: cap }
                } else if e.is_conflict() {
                    ExecuteError::FileConflict(e.to_string())
                } else {
                    fs_error(path, e)
                }
            },
        )?;
        let described = checked.iter().map(|(path, content)| {
            let found = workspace_fs::open_file(workspace, path).ok().and_then(|f| f.metadata().ok());
            let mtime_ns = found.as_ref().map_or(0, |m| m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128);
            describe(path, (found.map_or(content.len() as u64, |m| m.len()), mtime_ns))
        });
        Ok(described.collect())
    }

    /// Every regular file of the session's workspace (symlinks and special files are left out).
    pub fn list_files(&self, id: &str, tenant: &str) -> Result<Vec<SessionFile>, ExecuteError> {
        let (session, _busy) = self.registry.get(id, tenant)?;
        let files = workspace_fs::list_files(&session.workspace, MAX_LISTED)
            .map_err(|e| ExecuteError::workspace_io("listing the session's files", &e))?;
        Ok(files.into_iter().map(|f| describe(&f.path, (f.size, f.mtime_ns))).collect())
    }

    /// The regular file at `path`, opened for reading (never through a symlink, never one with
    /// several hard links), with its place among the transfers under way: the caller streams
    /// it, and the place is freed when the download is dropped.
    pub fn download_file(&self, id: &str, tenant: &str, path: &str) -> Result<FileDownload, ExecuteError> {
        let (session, call) = self.registry.get(id, tenant)?;
        let path = checked_path(path)?;
        let file = workspace_fs::open_file(&session.workspace, &path).map_err(|e| fs_error(&path, e))?;
        let meta = file.metadata().map_err(|e| ExecuteError::Internal(format!("{path}: {e}")))?;
        if meta.nlink() > 1 {
            return Err(ExecuteError::invalid(
                "path",
                format!("{path}: the file has {} hard links; only files with one link are served", meta.nlink()),
            ));
        }
        let cap = self.sandboxes.workspaces.size_bytes();
        if meta.len() > cap {
            return Err(ExecuteError::TooLarge { what: format!("file {path:?}"), actual: meta.len(), limit: cap });
        }
        let transfer = Transfer::new(self.transfers.begin(tenant)?, call);
        Ok(FileDownload { file, size: meta.len(), mime_type: mime(&path), transfer })
    }
}

/// A file of a session's workspace being downloaded. Its bytes are read from `file` as they
/// go out, `size` of them at most (what the file held when it was opened: a file the
/// session's code grows meanwhile is served as it was then).
pub struct FileDownload {
    pub file: std::fs::File,
    pub size: u64,
    /// Guessed from the extension.
    pub mime_type: String,
    /// Held until the download ends.
    pub transfer: Transfer,
}

fn checked_path(path: &str) -> Result<String, ExecuteError> {
    validate_relative_path(path).map_err(|m| ExecuteError::invalid("path", format!("{path:?}: {m}")))
}

fn fs_error(path: &str, e: WorkspaceFsError) -> ExecuteError {
    match e {
        e if e.is_not_found() => ExecuteError::FileNotFound(path.to_string()),
        e if e.is_path_problem() => ExecuteError::invalid("path", e.to_string()),
        e if e.is_out_of_descriptors() => ExecuteError::ResourcesExhausted(format!("{path}: {e}")),
        e => ExecuteError::Internal(format!("{path}: {e}")),
    }
}

fn describe(path: &str, (size, mtime_ns): (u64, i128)) -> SessionFile {
    let modified = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(mtime_ns.max(0) as u64);
    SessionFile {
        path: path.to_string(),
        size,
        mime_type: mime(path),
        modified_at: humantime::format_rfc3339_millis(modified).to_string(),
    }
}

fn mime(path: &str) -> String {
    mime_guess::from_path(path).first_or_octet_stream().essence_str().to_string()
}
