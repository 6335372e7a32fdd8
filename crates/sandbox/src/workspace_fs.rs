//! File operations on a workspace that the sandboxed code controls.
//!
//! The daemon may run as root while the workspace holds whatever the code left there:
//! symlinks to /etc/shadow, FIFOs, hard links. Every path is resolved by the kernel with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so no component may be a symlink or lead
//! outside the workspace, and only regular files are ever read or written.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};

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

    /// The path itself is unacceptable (as opposed to an I/O failure).
    pub fn is_path_problem(&self) -> bool {
        !matches!(self, WorkspaceFsError::Io(..))
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

fn open_beneath(
    dir: impl AsFd,
    name: &str,
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

fn is_symlink(dir: impl AsFd, name: &str) -> bool {
    fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK)
}

fn open_root(root: &Path) -> Result<OwnedFd, WorkspaceFsError> {
    open(root, OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| WorkspaceFsError::Io(root.display().to_string(), e))
}

/// Writes `contents` at `rel` (already checked lexically: relative, no `..`), creating parent
/// directories, replacing an existing file rather than writing through it (it could be a hard
/// link), and giving what it creates to `owner`.
pub fn write_file(root: &Path, rel: &str, contents: &[u8], owner: Option<(u32, u32)>) -> Result<(), WorkspaceFsError> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let Some((name, parents)) = parts.split_last() else {
        return Err(WorkspaceFsError::IsADirectory(rel.to_string()));
    };
    let chown = |fd: &OwnedFd, shown: &str| match owner {
        Some((uid, gid)) => fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|e| WorkspaceFsError::Io(shown.to_string(), e)),
        None => Ok(()),
    };
    let mut dir = open_root(root)?;
    let mut shown = String::new();
    for part in parents {
        shown = if shown.is_empty() { part.to_string() } else { format!("{shown}/{part}") };
        let created = match mkdirat(&dir, *part, Mode::from_bits_truncate(0o755)) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(WorkspaceFsError::Io(shown, e)),
        };
        dir = open_beneath(&dir, part, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), &shown)?;
        if created {
            chown(&dir, &shown)?;
        }
    }
    match unlinkat(&dir, *name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(Errno::EISDIR) | Err(Errno::EPERM) => return Err(WorkspaceFsError::IsADirectory(rel.into())),
        Err(e) => return Err(WorkspaceFsError::Io(rel.into(), e)),
    }
    let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
    let fd = open_beneath(&dir, name, flags, Mode::from_bits_truncate(0o644), rel)?;
    chown(&fd, rel)?;
    File::from(fd)
        .write_all(contents)
        .map_err(|e| WorkspaceFsError::Io(rel.into(), Errno::from_raw(e.raw_os_error().unwrap_or(0))))
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

/// Every regular file under `root` (symlinks and special files are skipped, never followed),
/// at most `max_entries` of them and `max_depth` directories deep.
pub fn list_files(root: &Path, max_entries: usize, max_depth: usize) -> Result<Vec<FileEntry>, WorkspaceFsError> {
    let mut found = Vec::new();
    let mut pending = vec![(open_root(root)?, String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = pending.pop() {
        let copy = dir
            .try_clone()
            .map_err(|e| WorkspaceFsError::Io(prefix.clone(), Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
        let mut listing = Dir::from_fd(copy).map_err(|e| WorkspaceFsError::Io(prefix.clone(), e))?;
        for entry in listing.iter().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let Ok(stat) = fstatat(&dir, name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
            match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
                SFlag::S_IFREG if found.len() < max_entries => found.push(FileEntry {
                    path,
                    size: stat.st_size as u64,
                    inode: stat.st_ino,
                    mtime_ns: stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128,
                    ctime_ns: stat.st_ctime as i128 * 1_000_000_000 + stat.st_ctime_nsec as i128,
                }),
                SFlag::S_IFDIR if depth < max_depth => {
                    if let Ok(sub) =
                        open_beneath(&dir, &name, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), &path)
                    {
                        pending.push((sub, path, depth + 1));
                    }
                }
                _ => {}
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}
