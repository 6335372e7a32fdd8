//! envd's `EntryInfo` of an entry of the workspace: name, type, path, size, mode and
//! permissions, owner and group, modification time, a symlink's target, user metadata.

use executor::{WorkspaceEntry, WorkspaceEntryKind};
use serde_json::{json, Value};

use super::plane::shown_path;

fn permissions(kind: WorkspaceEntryKind, mode: u32) -> String {
    let first = match kind {
        WorkspaceEntryKind::Directory => 'd',
        WorkspaceEntryKind::Symlink => 'l',
        _ => '-',
    };
    let bits = "rwxrwxrwx".chars().enumerate().map(|(i, c)| if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    std::iter::once(first).chain(bits).collect()
}

/// The `EntryInfo` of `entry`.
pub fn entry_info(entry: &WorkspaceEntry) -> Value {
    let kind = match entry.kind {
        WorkspaceEntryKind::File => "FILE_TYPE_FILE",
        WorkspaceEntryKind::Directory => "FILE_TYPE_DIRECTORY",
        WorkspaceEntryKind::Symlink => "FILE_TYPE_SYMLINK",
        WorkspaceEntryKind::Other => "FILE_TYPE_UNSPECIFIED",
    };
    let name = match entry.path.rsplit('/').next() {
        Some("") | None => "user",
        Some(name) => name,
    };
    let modified = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(entry.mtime_ns.max(0) as u64);
    let mut info = json!({
        "name": name,
        "type": kind,
        "path": shown_path(&entry.path),
        "size": entry.size.to_string(),
        "mode": entry.mode,
        "permissions": permissions(entry.kind, entry.mode),
        "owner": "user",
        "group": "user",
        "modifiedTime": humantime::format_rfc3339_nanos(modified).to_string(),
    });
    if let Some(target) = &entry.symlink_target {
        info["symlinkTarget"] = json!(target);
    }
    if !entry.metadata.is_empty() {
        info["metadata"] = json!(entry.metadata);
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_like_ls() {
        assert_eq!(permissions(WorkspaceEntryKind::File, 0o644), "-rw-r--r--");
        assert_eq!(permissions(WorkspaceEntryKind::Directory, 0o755), "drwxr-xr-x");
    }
}
