//! Files of a session's workspace: upload, list, download. The workspace holds whatever the
//! session's code left there, so paths are checked as text first (the same rules as the
//! files of `/execute`) and then opened by the kernel beneath the workspace without ever
//! following a symlink; a file with more than one hard link is never read (it could be a
//! link to a file the caller must not see).

use std::io::Read;
use std::os::unix::fs::MetadataExt;

use sandbox::workspace_fs::{self, WorkspaceFsError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ExecutionService;
use crate::validate::validate_relative_path;
use crate::ExecuteError;

/// Files beyond this many are not listed.
const MAX_LISTED: usize = 10_000;
const MAX_DEPTH: usize = 32;

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

impl ExecutionService {
    /// Writes `content` at `path` in the session's workspace (replacing a file there, never
    /// writing through it), within the per-file and per-workspace caps.
    pub fn upload_session_file(
        &self,
        id: &str,
        tenant: &str,
        path: &str,
        content: &[u8],
    ) -> Result<SessionFile, ExecuteError> {
        let (session, _busy) = self.sessions.get(id, tenant)?;
        let path = checked(path)?;
        let size = content.len() as u64;
        let per_file = self.config.limits.max_file_bytes;
        if size > per_file {
            return Err(ExecuteError::TooLarge { what: format!("file {path:?}"), actual: size, limit: per_file });
        }
        let cap = self.workspaces.size_bytes();
        let others: u64 = workspace_fs::list_files(&session.workspace, MAX_LISTED, MAX_DEPTH)
            .unwrap_or_default()
            .iter()
            .filter(|f| f.path != path)
            .map(|f| f.size)
            .sum();
        if others + size > cap {
            return Err(ExecuteError::TooLarge {
                what: "the session's workspace (its files and this one)".into(),
                actual: others + size,
                limit: cap,
            });
        }
        workspace_fs::write_file(&session.workspace, &path, content, Some(self.workspaces.owner())).map_err(|e| {
            if e.is_no_space() {
                ExecuteError::TooLarge { what: "the session's workspace".into(), actual: others + size, limit: cap }
            } else {
                fs_error(&path, e)
            }
        })?;
        let listed = workspace_fs::list_files(&session.workspace, MAX_LISTED, MAX_DEPTH).unwrap_or_default();
        let entry = listed.into_iter().find(|f| f.path == path);
        Ok(describe(&path, entry.map_or((size, 0), |f| (f.size, f.mtime_ns))))
    }

    /// Every regular file of the session's workspace (symlinks and special files are left out).
    pub fn list_session_files(&self, id: &str, tenant: &str) -> Result<Vec<SessionFile>, ExecuteError> {
        let (session, _busy) = self.sessions.get(id, tenant)?;
        let files = workspace_fs::list_files(&session.workspace, MAX_LISTED, MAX_DEPTH)
            .map_err(|e| ExecuteError::Internal(format!("listing the session's files: {e}")))?;
        Ok(files.into_iter().map(|f| describe(&f.path, (f.size, f.mtime_ns))).collect())
    }

    /// The bytes of the file at `path` and its MIME type.
    pub fn download_session_file(&self, id: &str, tenant: &str, path: &str) -> Result<(Vec<u8>, String), ExecuteError> {
        let (session, _busy) = self.sessions.get(id, tenant)?;
        let path = checked(path)?;
        let mut file = workspace_fs::open_file(&session.workspace, &path).map_err(|e| fs_error(&path, e))?;
        let meta = file.metadata().map_err(|e| ExecuteError::Internal(format!("{path}: {e}")))?;
        if meta.nlink() > 1 {
            return Err(ExecuteError::invalid(
                "path",
                format!("{path}: the file has {} hard links; only files with one link are served", meta.nlink()),
            ));
        }
        let cap = self.workspaces.size_bytes();
        let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
        (&mut file)
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ExecuteError::Internal(format!("reading {path}: {e}")))?;
        if bytes.len() as u64 > cap {
            return Err(ExecuteError::TooLarge {
                what: format!("file {path:?}"),
                actual: bytes.len() as u64,
                limit: cap,
            });
        }
        Ok((bytes, mime(&path)))
    }
}

fn checked(path: &str) -> Result<String, ExecuteError> {
    validate_relative_path(path).map_err(|m| ExecuteError::invalid("path", format!("{path:?}: {m}")))
}

fn fs_error(path: &str, e: WorkspaceFsError) -> ExecuteError {
    match e {
        e if e.is_not_found() => ExecuteError::FileNotFound(path.to_string()),
        e if e.is_path_problem() => ExecuteError::invalid("path", e.to_string()),
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
