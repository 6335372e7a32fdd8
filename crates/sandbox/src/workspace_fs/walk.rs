//! Walks a workspace at any depth (see `tree`): counts and describes its regular files.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::AtFlags;
use nix::sys::stat::{fstatat, SFlag};

use super::tree::{depth_first, Visitor};
use super::{io_error, joined, open_root, FileEntry, WorkspaceFsError, MAX_PATH_BYTES};

/// The regular files of a workspace: every one counted, the first `max_listed` (in path order
/// of those found) described.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: Vec<FileEntry>,
    /// How many regular files there are, listed or not.
    pub count: u64,
    /// The sum of the sizes of all of them.
    pub bytes: u64,
}

/// Every regular file under `root` (symlinks and special files are skipped, never followed),
/// at most `max_entries` of them.
pub fn list_files(root: &Path, max_entries: usize) -> Result<Vec<FileEntry>, WorkspaceFsError> {
    walk(root, max_entries).map(|listing| listing.files)
}

/// Counts every regular file under `root` and describes the first `max_listed`, sorted by path.
/// A file whose path is longer than any file route accepts is counted, never described.
pub fn walk(root: &Path, max_listed: usize) -> Result<Listing, WorkspaceFsError> {
    let root_fd = open_root(root)?;
    let mut counter = Counter { listing: Listing::default(), max_listed };
    depth_first(&root_fd, "", &mut counter)?;
    let mut listing = counter.listing;
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listing)
}

struct Counter {
    listing: Listing,
    max_listed: usize,
}

impl Visitor for Counter {
    /// Counts (and lists, while there is room) the regular files of `dir`; returns its
    /// subdirectories.
    fn enter(&mut self, dir: &OwnedFd, prefix: &str, _depth: usize) -> Result<Vec<OsString>, WorkspaceFsError> {
        let copy = dir.try_clone().map_err(|e| io_error(prefix, &e))?;
        let mut entries = Dir::from_fd(copy).map_err(|e| WorkspaceFsError::Io(prefix.to_string(), e))?;
        let mut subdirs = Vec::new();
        for entry in entries.iter().flatten() {
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let Ok(stat) = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
            match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
                SFlag::S_IFREG => {
                    let listing = &mut self.listing;
                    listing.count += 1;
                    listing.bytes += stat.st_size as u64;
                    let shown = prefix.len() + 1 + name.len() <= MAX_PATH_BYTES;
                    if listing.files.len() < self.max_listed && shown {
                        listing.files.push(FileEntry {
                            path: joined(prefix, name),
                            size: stat.st_size as u64,
                            inode: stat.st_ino,
                            mtime_ns: stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128,
                            ctime_ns: stat.st_ctime as i128 * 1_000_000_000 + stat.st_ctime_nsec as i128,
                        });
                    }
                }
                SFlag::S_IFDIR => subdirs.push(name.to_os_string()),
                _ => {}
            }
        }
        Ok(subdirs)
    }
}
