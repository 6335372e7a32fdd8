//! File operations on a workspace that the sandboxed code controls.
//!
//! The daemon may run as root while the workspace holds whatever the code left there:
//! symlinks to /etc/shadow, FIFOs, hard links. Every path is resolved by the kernel with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so no component may be a symlink or lead
//! outside the workspace, and only regular files are ever read or written.

mod entries;
mod metadata;
mod remove;
mod tree;
mod walk;
mod write;

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, Mode, SFlag};
use nix::NixPath;

pub use entries::{list_dir, make_dir, rename, stat, Entry, EntryKind};
pub use metadata::set_metadata;
pub use remove::{open_to_others, remove, remove_tree};
pub use walk::{list_files, walk, Listing};
pub use write::{is_staging_name, write_file, write_files};

/// The longest path a file route takes (the kernel's `PATH_MAX`); a walk describes no file
/// deeper than that (it counts it).
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest name of one entry (`NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;

#[derive(Debug, thiserror::Error)]
pub enum WorkspaceFsError {
    #[error("{0}: a path component is a symbolic link or leaves the workspace")]
    Symlink(String),
    #[error("{0}: a path component is not a directory")]
    NotADirectory(String),
    #[error("{0}: is a directory")]
    IsADirectory(String),
    #[error("{0}: not a regular file")]
    NotARegularFile(String),
    /// Something else changed the same path meanwhile (the session's code, another upload).
    #[error("{0}: the workspace changed at this path while it was being written or read; nothing was changed")]
    Changed(String),
    #[error("{0}: {1}")]
    Io(String, Errno),
}

impl WorkspaceFsError {
    /// The workspace is full.
    pub fn is_no_space(&self) -> bool {
        matches!(self, WorkspaceFsError::Io(_, Errno::ENOSPC | Errno::EFBIG))
    }

    /// Nothing is at the path.
    pub fn is_not_found(&self) -> bool {
        matches!(self, WorkspaceFsError::Io(_, Errno::ENOENT))
    }

    /// Something is already at the path (or a directory to remove or replace is not empty).
    pub fn is_exists(&self) -> bool {
        matches!(self, WorkspaceFsError::Io(_, Errno::EEXIST | Errno::ENOTEMPTY))
    }

    /// The workspace changed under the operation: trying again may well succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, WorkspaceFsError::Changed(_))
    }

    /// The daemon (`EMFILE`) or the system (`ENFILE`) is out of open descriptors: the
    /// host's state at the moment, not the path's fault.
    pub fn is_out_of_descriptors(&self) -> bool {
        matches!(self, WorkspaceFsError::Io(_, Errno::EMFILE | Errno::ENFILE))
    }

    /// The path itself is unacceptable (as opposed to an I/O failure or a race): the
    /// caller's mistake, such as a name too long for the kernel or a file where a
    /// directory must be.
    pub fn is_path_problem(&self) -> bool {
        match self {
            WorkspaceFsError::Io(_, errno) => matches!(
                errno,
                Errno::ENAMETOOLONG | Errno::ENOTDIR | Errno::EISDIR | Errno::ELOOP | Errno::EINVAL | Errno::EXDEV
            ),
            WorkspaceFsError::Changed(_) => false,
            _ => true,
        }
    }
}

/// A regular file found in a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    pub size: u64,
    pub inode: u64,
    pub mtime_ns: i128,
    /// Change time: the code can forge mtime, not ctime.
    pub ctime_ns: i128,
}

fn resolve() -> ResolveFlag {
    ResolveFlag::RESOLVE_BENEATH
        | ResolveFlag::RESOLVE_NO_SYMLINKS
        | ResolveFlag::RESOLVE_NO_MAGICLINKS
        | ResolveFlag::RESOLVE_NO_XDEV
}

fn open_beneath<P: ?Sized + NixPath>(
    dir: impl AsFd,
    name: &P,
    flags: OFlag,
    mode: Mode,
    shown: &str,
) -> Result<OwnedFd, WorkspaceFsError> {
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW).mode(mode).resolve(resolve());
    openat2(dir.as_fd(), name, how).map_err(|e| match e {
        Errno::ELOOP | Errno::EXDEV => WorkspaceFsError::Symlink(shown.to_string()),
        // O_NOFOLLOW | O_DIRECTORY on a symlink says ENOTDIR: tell the caller what is there.
        Errno::ENOTDIR if is_symlink(dir.as_fd(), name) => WorkspaceFsError::Symlink(shown.to_string()),
        Errno::ENOTDIR => WorkspaceFsError::NotADirectory(shown.to_string()),
        Errno::EISDIR => WorkspaceFsError::IsADirectory(shown.to_string()),
        e => WorkspaceFsError::Io(shown.to_string(), e),
    })
}

/// An I/O error about `shown`, as the workspace's error.
fn io_error(shown: &str, e: &std::io::Error) -> WorkspaceFsError {
    WorkspaceFsError::Io(shown.to_string(), Errno::from_raw(e.raw_os_error().unwrap_or(0)))
}

/// The names in the directory `dir` (shown as `shown`), but `.` and `..`, as the kernel has
/// them (the code may make names that are not UTF-8).
fn child_names(dir: &OwnedFd, shown: &str) -> Result<Vec<OsString>, WorkspaceFsError> {
    use std::os::unix::ffi::OsStrExt;
    let copy = dir.try_clone().map_err(|e| io_error(shown, &e))?;
    let mut listing = nix::dir::Dir::from_fd(copy).map_err(|e| WorkspaceFsError::Io(shown.to_string(), e))?;
    Ok(listing
        .iter()
        .flatten()
        .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect())
}

/// `prefix/name` (or `name` when `prefix` is empty), as text.
fn joined(prefix: &str, name: &std::ffi::OsStr) -> String {
    match prefix {
        "" => name.to_string_lossy().into_owned(),
        prefix => format!("{prefix}/{}", name.to_string_lossy()),
    }
}

fn is_symlink<P: ?Sized + NixPath>(dir: impl AsFd, name: &P) -> bool {
    kind_of(dir, name) == Some(SFlag::S_IFLNK)
}

/// The type of what `name` is in `dir` (a symlink is not followed), or None if nothing is.
fn kind_of<P: ?Sized + NixPath>(dir: impl AsFd, name: &P) -> Option<SFlag> {
    let stat = fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).ok()?;
    Some(SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT)
}

fn open_root(root: &Path) -> Result<OwnedFd, WorkspaceFsError> {
    open(root, OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| WorkspaceFsError::Io(root.display().to_string(), e))
}

/// Opens the regular file at `rel` for reading, refusing symlinks anywhere in the path and
/// anything that is not a regular file (a FIFO would block the daemon).
pub fn open_file(root: &Path, rel: &str) -> Result<File, WorkspaceFsError> {
    let root = open_root(root)?;
    let flags = OFlag::O_RDONLY | OFlag::O_NONBLOCK;
    let fd = open_beneath(&root, rel.trim_start_matches('/'), flags, Mode::empty(), rel)?;
    let stat = fstat(&fd).map_err(|e| WorkspaceFsError::Io(rel.into(), e))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(WorkspaceFsError::NotARegularFile(rel.into()));
    }
    Ok(File::from(fd))
}

/// Opens the directory at `rel` (the workspace itself when empty), refusing symlinks anywhere
/// in the path: the descriptor names that very directory, wherever it is later moved (a
/// watch on the workspace is added through it, never through a path the code could swap).
pub fn open_dir(root: &Path, rel: &str) -> Result<OwnedFd, WorkspaceFsError> {
    entries::beneath(rel)?;
    let root = open_root(root)?;
    let parts = entries::parts(rel);
    if parts.is_empty() {
        return Ok(root);
    }
    open_beneath(&root, parts.join("/").as_str(), OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), rel)
}

#[cfg(test)]
mod tests;
