//! What is at a path of a workspace, directory listings, and making, moving and removing
//! entries: for file APIs that show a workspace as a filesystem. As everywhere in this
//! module, every path is resolved beneath the workspace without following a symlink; a
//! symlink is described (and removed or moved) as itself, never followed.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{readlinkat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{fchown, Gid, Uid};

use super::tree::{depth_first, Visitor};
use super::{child_names, io_error, joined, open_beneath, open_root, WorkspaceFsError, MAX_PATH_BYTES};

/// Entries listed at most, however deep.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

/// One entry of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the workspace, `/`-separated; empty for the workspace itself.
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i128,
    /// Where a symlink points (as written in it, never resolved).
    pub symlink_target: Option<String>,
    /// Its user metadata (`user.e2b.<key>` extended attributes), by key.
    pub metadata: std::collections::BTreeMap<String, String>,
}

pub(super) fn parts(rel: &str) -> Vec<&str> {
    rel.split('/').filter(|p| !p.is_empty() && *p != ".").collect()
}

/// Refuses `..` anywhere: every name used here must stay beneath the workspace.
pub(super) fn beneath(rel: &str) -> Result<(), WorkspaceFsError> {
    match rel.split('/').any(|p| p == "..") {
        true => Err(WorkspaceFsError::Symlink(rel.to_string())),
        false => Ok(()),
    }
}

/// The directory that holds `rel` (opened beneath the root) and the entry's name in it.
pub(super) fn parent_of<'a>(root: &OwnedFd, rel: &'a str) -> Result<(OwnedFd, &'a str), WorkspaceFsError> {
    let parts = parts(rel);
    let Some((name, parents)) = parts.split_last() else {
        return Err(WorkspaceFsError::IsADirectory(rel.to_string()));
    };
    let dir = match parents.join("/") {
        p if p.is_empty() => root.try_clone().map_err(|e| io_error(rel, &e))?,
        p => open_beneath(root, p.as_str(), OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), rel)?,
    };
    Ok((dir, name))
}

fn describe(dir: &OwnedFd, name: &OsStr, path: String, stat: &FileStat) -> Entry {
    let kind = match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => EntryKind::File,
        SFlag::S_IFDIR => EntryKind::Directory,
        SFlag::S_IFLNK => EntryKind::Symlink,
        _ => EntryKind::Other,
    };
    let symlink_target = (kind == EntryKind::Symlink)
        .then(|| readlinkat(dir, name).ok().map(|t| t.to_string_lossy().into_owned()))
        .flatten();
    Entry {
        path,
        kind,
        size: stat.st_size as u64,
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
        mtime_ns: stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128,
        symlink_target,
        metadata: match kind {
            EntryKind::File | EntryKind::Directory => super::metadata::read_at(dir, name),
            _ => Default::default(),
        },
    }
}

/// What is at `rel` (the workspace itself when empty).
pub fn stat(root: &Path, rel: &str) -> Result<Entry, WorkspaceFsError> {
    beneath(rel)?;
    let root = open_root(root)?;
    if parts(rel).is_empty() {
        let stat = fstat(&root).map_err(|e| WorkspaceFsError::Io(String::new(), e))?;
        return Ok(describe(&root, OsStr::new("."), String::new(), &stat));
    }
    let (dir, name) = parent_of(&root, rel)?;
    let stat = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| WorkspaceFsError::Io(rel.into(), e))?;
    Ok(describe(&dir, OsStr::new(name), parts(rel).join("/"), &stat))
}

/// The entries of the directory `rel`, `depth` levels down (1: its own entries), sorted by
/// path, but none whose path is over `MAX_PATH_BYTES`; symlinked directories are listed,
/// not entered.
pub fn list_dir(root: &Path, rel: &str, depth: u32) -> Result<Vec<Entry>, WorkspaceFsError> {
    beneath(rel)?;
    let root = open_root(root)?;
    let prefix = parts(rel).join("/");
    let dir = match prefix.as_str() {
        "" => root.try_clone().map_err(|e| io_error(rel, &e))?,
        p => open_beneath(&root, p, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), rel)?,
    };
    let mut lister = Lister { entries: Vec::new(), depth: depth.max(1) as usize };
    depth_first(&dir, &prefix, &mut lister)?;
    let mut entries = lister.entries;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Describes entries down to `depth` levels, at most `MAX_ENTRIES` of them.
struct Lister {
    entries: Vec<Entry>,
    depth: usize,
}

impl Visitor for Lister {
    fn enter(&mut self, dir: &OwnedFd, prefix: &str, depth: usize) -> Result<Vec<OsString>, WorkspaceFsError> {
        let mut subdirs = Vec::new();
        for name in child_names(dir, prefix)? {
            if self.entries.len() >= MAX_ENTRIES {
                break;
            }
            // No route takes a longer path (and anything under it is longer still).
            if prefix.len() + 1 + name.len() > MAX_PATH_BYTES {
                continue;
            }
            let Ok(stat) = fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
            let entry = describe(dir, &name, joined(prefix, &name), &stat);
            if entry.kind == EntryKind::Directory && depth + 1 < self.depth {
                subdirs.push(name);
            }
            self.entries.push(entry);
        }
        Ok(subdirs)
    }
}

/// Makes the directory `rel` and its missing parents, given to `owner`; false when it was
/// already there.
pub fn make_dir(root: &Path, rel: &str, owner: Option<(u32, u32)>) -> Result<bool, WorkspaceFsError> {
    beneath(rel)?;
    let mut dir = open_root(root)?;
    let mut created = false;
    let mut shown = String::with_capacity(rel.len());
    for part in parts(rel) {
        if !shown.is_empty() {
            shown.push('/');
        }
        shown.push_str(part);
        created = match mkdirat(&dir, part, Mode::from_bits_truncate(0o755)) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(WorkspaceFsError::Io(shown, e)),
        };
        dir = open_beneath(&dir, part, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), &shown)?;
        if let (true, Some((uid, gid))) = (created, owner) {
            fchown(&dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| WorkspaceFsError::Io(shown.clone(), e))?;
        }
    }
    Ok(created)
}

/// Moves `from` to `to` (whose parent must exist), replacing a file there.
pub fn rename(root: &Path, from: &str, to: &str) -> Result<(), WorkspaceFsError> {
    beneath(from)?;
    beneath(to)?;
    let root = open_root(root)?;
    let (from_dir, from_name) = parent_of(&root, from)?;
    let (to_dir, to_name) = parent_of(&root, to)?;
    renameat(&from_dir, from_name, &to_dir, to_name).map_err(|e| WorkspaceFsError::Io(from.into(), e))
}

#[cfg(test)]
mod tests {
    use super::super::remove;
    use super::*;

    #[test]
    fn entries_are_described_made_moved_and_removed_beneath_the_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let r = root.path();
        assert!(make_dir(r, "d/e", None).unwrap());
        assert!(!make_dir(r, "d/e", None).unwrap());
        std::fs::write(r.join("d/f.txt"), "hello").unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("d/out")).unwrap();
        let listed: Vec<_> = list_dir(r, "d", 1).unwrap().into_iter().map(|e| (e.path, e.kind)).collect();
        assert_eq!(
            listed,
            [
                ("d/e".into(), EntryKind::Directory),
                ("d/f.txt".into(), EntryKind::File),
                ("d/out".into(), EntryKind::Symlink)
            ]
        );
        let link = stat(r, "d/out").unwrap();
        assert_eq!(link.symlink_target.as_deref(), Some(outside.path().to_str().unwrap()));
        assert_eq!(stat(r, "d/f.txt").unwrap().size, 5);
        // Nothing goes through the symlink or above the root.
        assert!(stat(r, "d/out/secret").is_err());
        assert!(list_dir(r, "d/out", 1).is_err());
        assert!(make_dir(r, "d/out/x", None).is_err());
        assert!(stat(r, "../").is_err());
        assert!(remove(r, "d/out/secret").is_err());
        assert!(rename(r, "d/f.txt", "../f.txt").is_err());
        rename(r, "d/f.txt", "d/e/g.txt").unwrap();
        assert_eq!(list_dir(r, "", 3).unwrap().len(), 4);
        remove(r, "d").unwrap();
        assert!(stat(r, "d").unwrap_err().is_not_found());
        assert!(outside.path().join("secret").exists());
    }
}
