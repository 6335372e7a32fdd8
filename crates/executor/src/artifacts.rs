//! Artifacts: the files a run created or changed in its workspace, and nothing else.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use sandbox::workspace_fs::{self, FileEntry};
use sha2::{Digest, Sha256};

use crate::Artifact;

/// Files beyond this many are not listed (a run can create millions).
const MAX_FILES: usize = 10_000;
const MAX_DEPTH: usize = 32;

/// What the workspace held before a run, to tell what the run changed.
pub struct Snapshot(HashMap<String, FileEntry>);

pub fn snapshot(workspace: &Path) -> Snapshot {
    let files = workspace_fs::list_files(workspace, MAX_FILES, MAX_DEPTH).unwrap_or_default();
    Snapshot(files.into_iter().map(|f| (f.path.clone(), f)).collect())
}

/// Files that are new or changed since `before` (a change of content, size, inode or change
/// time: the code can reset mtime, not ctime).
pub fn changed_since(workspace: &Path, before: &Snapshot) -> Vec<Artifact> {
    let after = workspace_fs::list_files(workspace, MAX_FILES, MAX_DEPTH).unwrap_or_default();
    after.into_iter().filter(|f| before.0.get(&f.path) != Some(f)).filter_map(|f| describe(workspace, f)).collect()
}

fn describe(workspace: &Path, file: FileEntry) -> Option<Artifact> {
    let mut handle = workspace_fs::open_file(workspace, &file.path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = handle.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    let mime_type = mime_guess::from_path(&file.path).first_or_octet_stream().essence_str().to_string();
    Some(Artifact { path: file.path, size, mime_type, sha256: format!("{:x}", hasher.finalize()) })
}
