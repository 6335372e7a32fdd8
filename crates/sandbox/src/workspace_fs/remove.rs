//! Removing trees the sandboxed code made, and opening a built tree to others: at any depth
//! (see `tree`), never following a symlink.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmod, fchmodat, fstat, fstatat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::entries::{beneath, parent_of};
use super::tree::{depth_first, Visitor};
use super::{child_names, joined, open_beneath, open_root, WorkspaceFsError};

/// Removes `rel`: a file or symlink, or a directory with everything in it.
pub fn remove(root: &Path, rel: &str) -> Result<(), WorkspaceFsError> {
    beneath(rel)?;
    let root = open_root(root)?;
    let (dir, name) = parent_of(&root, rel)?;
    remove_in(&dir, OsStr::new(name), rel)
}

/// Removes the directory (or file) at the host path `path` with everything in it, such as a
/// workspace after its run: nothing under it is followed, however deep.
pub fn remove_tree(path: &Path) -> Result<(), WorkspaceFsError> {
    let shown = path.display().to_string();
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(WorkspaceFsError::IsADirectory(shown));
    };
    let parent = open_root(if parent.as_os_str().is_empty() { Path::new(".") } else { parent })?;
    remove_in(&parent, name, &shown)
}

fn remove_in(dir: &OwnedFd, name: &OsStr, shown: &str) -> Result<(), WorkspaceFsError> {
    let stat = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| WorkspaceFsError::Io(shown.into(), e))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        return unlinkat(dir, name, UnlinkatFlags::NoRemoveDir).map_err(|e| WorkspaceFsError::Io(shown.into(), e));
    }
    let sub = open_beneath(dir, name, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), shown)?;
    depth_first(&sub, shown, &mut Remover)?;
    unlinkat(dir, name, UnlinkatFlags::RemoveDir).map_err(|e| WorkspaceFsError::Io(shown.into(), e))
}

/// Unlinks what is not a directory on the way down, each directory on the way up.
struct Remover;

impl Visitor for Remover {
    fn enter(&mut self, dir: &OwnedFd, prefix: &str, _depth: usize) -> Result<Vec<OsString>, WorkspaceFsError> {
        let mut subdirs = Vec::new();
        for name in child_names(dir, prefix)? {
            let failed = |e| WorkspaceFsError::Io(joined(prefix, &name), e);
            let stat = match fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(failed(e)),
            };
            if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                subdirs.push(name);
                continue;
            }
            match unlinkat(dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(subdirs)
    }

    fn leave(&mut self, parent: &OwnedFd, name: &OsStr, path: &str) -> Result<(), WorkspaceFsError> {
        match unlinkat(parent, name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(WorkspaceFsError::Io(path.to_string(), e)),
        }
    }

    fn unopened(&mut self, error: WorkspaceFsError) -> Result<(), WorkspaceFsError> {
        match error.is_not_found() {
            true => Ok(()),
            false => Err(error),
        }
    }
}

/// Makes everything under `root` readable by others, and executable by others where its
/// owner may execute it (directories, programs); symlinks are left alone.
pub fn open_to_others(root: &Path) -> Result<(), WorkspaceFsError> {
    depth_first(&open_root(root)?, "", &mut Opener)
}

struct Opener;

impl Visitor for Opener {
    fn enter(&mut self, dir: &OwnedFd, prefix: &str, _depth: usize) -> Result<Vec<OsString>, WorkspaceFsError> {
        let mut subdirs = Vec::new();
        for name in child_names(dir, prefix)? {
            let Ok(stat) = fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else { continue };
            match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
                // Changed on entering it, through the descriptor the walk opens.
                SFlag::S_IFDIR => subdirs.push(name),
                // A built tree nothing changes any more: still the file just seen.
                SFlag::S_IFREG => add_file_modes(dir, &name, stat.st_mode, &joined(prefix, &name))?,
                _ => {}
            }
        }
        add_modes(dir, prefix)?;
        Ok(subdirs)
    }
}

/// The bits to add to `mode` (of a directory, or of a file) so that others may read it,
/// and execute it where its owner may.
fn wanted(mode: u32, is_dir: bool) -> u32 {
    if mode & 0o100 != 0 || is_dir {
        0o555
    } else {
        0o444
    }
}

fn add_modes(dir: &OwnedFd, shown: &str) -> Result<(), WorkspaceFsError> {
    let mode = fstat(dir).map_err(|e| WorkspaceFsError::Io(shown.into(), e))?.st_mode;
    let wanted = wanted(mode, true);
    if mode & wanted != wanted {
        fchmod(dir, Mode::from_bits_truncate((mode | wanted) & 0o7777))
            .map_err(|e| WorkspaceFsError::Io(shown.into(), e))?;
    }
    Ok(())
}

/// Adds the wanted bits to the regular file `name` of `dir`.
fn add_file_modes(dir: &OwnedFd, name: &OsStr, mode: u32, shown: &str) -> Result<(), WorkspaceFsError> {
    let wanted = wanted(mode, false);
    if mode & wanted == wanted {
        return Ok(());
    }
    let mode = Mode::from_bits_truncate((mode | wanted) & 0o7777);
    fchmodat(dir, name, mode, FchmodatFlags::FollowSymlink).map_err(|e| WorkspaceFsError::Io(shown.into(), e))
}
