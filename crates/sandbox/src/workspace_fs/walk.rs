//! Walks a workspace at any depth. Only the directory being read is open (and the root):
//! going back up is `..` of the directory just finished, checked to be the same directory
//! that was entered, so neither a deep nor a wide tree runs the daemon out of descriptors,
//! and a tree rearranged during the walk is an error rather than a wrong answer.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};

use super::{io_error, open_beneath, open_root, FileEntry, WorkspaceFsError};

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

/// A directory entered and what of it is still to visit.
struct Level {
    prefix: String,
    identity: (u64, u64),
    subdirs: Vec<String>,
}

/// Counts every regular file under `root` and describes the first `max_listed`, sorted by path.
pub fn walk(root: &Path, max_listed: usize) -> Result<Listing, WorkspaceFsError> {
    let root_fd = open_root(root)?;
    let mut listing = Listing::default();
    let mut current = root_fd.try_clone().map_err(|e| io_error("", &e))?;
    let first = read_dir(&current, "", &mut listing, max_listed)?;
    let mut stack = vec![Level { prefix: String::new(), identity: identity(&current, "")?, subdirs: first }];
    while let Some(top) = stack.last_mut() {
        if let Some(name) = top.subdirs.pop() {
            let path = if top.prefix.is_empty() { name.clone() } else { format!("{}/{name}", top.prefix) };
            // Vanished or replaced by a symlink since it was read: nothing to count there.
            let Ok(sub) = open_beneath(&current, &name, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), &path)
            else {
                continue;
            };
            let subdirs = read_dir(&sub, &path, &mut listing, max_listed)?;
            stack.push(Level { identity: identity(&sub, &path)?, prefix: path, subdirs });
            current = sub;
            continue;
        }
        stack.pop();
        let Some(parent) = stack.last() else { break };
        current = if stack.len() == 1 {
            root_fd.try_clone().map_err(|e| io_error("", &e))?
        } else {
            let up = openat(&current, "..", OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| WorkspaceFsError::Io(parent.prefix.clone(), e))?;
            if identity(&up, &parent.prefix)? != parent.identity {
                return Err(WorkspaceFsError::Changed(parent.prefix.clone()));
            }
            up
        };
    }
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listing)
}

/// Counts (and lists, while there is room) the regular files of `dir`; returns its subdirectories.
fn read_dir(
    dir: &OwnedFd,
    prefix: &str,
    listing: &mut Listing,
    max_listed: usize,
) -> Result<Vec<String>, WorkspaceFsError> {
    let copy = dir.try_clone().map_err(|e| io_error(prefix, &e))?;
    let mut entries = Dir::from_fd(copy).map_err(|e| WorkspaceFsError::Io(prefix.to_string(), e))?;
    let mut subdirs = Vec::new();
    for entry in entries.iter().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let Ok(stat) = fstatat(dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
        match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFREG => {
                listing.count += 1;
                listing.bytes += stat.st_size as u64;
                if listing.files.len() < max_listed {
                    let path = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
                    listing.files.push(FileEntry {
                        path,
                        size: stat.st_size as u64,
                        inode: stat.st_ino,
                        mtime_ns: stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128,
                        ctime_ns: stat.st_ctime as i128 * 1_000_000_000 + stat.st_ctime_nsec as i128,
                    });
                }
            }
            SFlag::S_IFDIR => subdirs.push(name),
            _ => {}
        }
    }
    Ok(subdirs)
}

fn identity(dir: &OwnedFd, shown: &str) -> Result<(u64, u64), WorkspaceFsError> {
    let stat = fstat(dir).map_err(|e| WorkspaceFsError::Io(shown.to_string(), e))?;
    Ok((stat.st_dev, stat.st_ino))
}
