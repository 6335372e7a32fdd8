//! Depth-first walks of a tree the sandboxed code made, at any depth, without recursion:
//! the code can make a tree tens of thousands of levels deep, which would overflow a
//! thread's stack or run the daemon out of descriptors if each level took a frame and a
//! descriptor. Only the start and the directory being read are open; going back up is `..`
//! of the directory just finished, checked to be the directory that was entered, so a tree
//! rearranged during the walk is an error rather than a wrong answer. Memory is one name
//! per level (and the subdirectories still to visit), never one path per level.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, Mode};

use super::{io_error, open_beneath, WorkspaceFsError};

/// What a walk does in each directory.
pub(super) trait Visitor {
    /// Entered `dir` at `path` (the start's path for the start), `depth` levels below the
    /// start: the names of the subdirectories to enter, in reverse order of visit.
    fn enter(&mut self, dir: &OwnedFd, path: &str, depth: usize) -> Result<Vec<OsString>, WorkspaceFsError>;

    /// Everything under the subdirectory `name` of `parent` was visited; `path` is its path.
    fn leave(&mut self, _parent: &OwnedFd, _name: &OsStr, _path: &str) -> Result<(), WorkspaceFsError> {
        Ok(())
    }

    /// A subdirectory returned by `enter` cannot be opened (gone, or replaced by a
    /// symlink, since it was read): skipped unless this says otherwise.
    fn unopened(&mut self, _error: WorkspaceFsError) -> Result<(), WorkspaceFsError> {
        Ok(())
    }
}

/// A directory entered and what of it is still to visit.
struct Level {
    name: OsString,
    /// The length of the walk's path before this level's name was added.
    parent_len: usize,
    identity: (u64, u64),
    pending: Vec<OsString>,
}

/// Walks the tree under `start` (shown as `path`), depth first.
pub(super) fn depth_first(start: &OwnedFd, path: &str, visitor: &mut impl Visitor) -> Result<(), WorkspaceFsError> {
    let mut path = path.to_string();
    let first = visitor.enter(start, &path, 0)?;
    let mut levels =
        vec![Level { name: OsString::new(), parent_len: 0, identity: identity(start, &path)?, pending: first }];
    let mut current = start.try_clone().map_err(|e| io_error(&path, &e))?;
    while let Some(top) = levels.last_mut() {
        if let Some(name) = top.pending.pop() {
            let parent_len = path.len();
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&name.to_string_lossy());
            match open_beneath(&current, name.as_os_str(), OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), &path) {
                Ok(sub) => {
                    let identity = identity(&sub, &path)?;
                    let pending = visitor.enter(&sub, &path, levels.len())?;
                    levels.push(Level { name, parent_len, identity, pending });
                    current = sub;
                }
                Err(e) => {
                    path.truncate(parent_len);
                    visitor.unopened(e)?;
                }
            }
            continue;
        }
        let done = levels.pop().expect("a level is on the stack");
        let Some(parent) = levels.last() else { break };
        let parent_path = &path[..done.parent_len];
        current = if levels.len() == 1 {
            start.try_clone().map_err(|e| io_error(parent_path, &e))?
        } else {
            let up = openat(&current, "..", OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| WorkspaceFsError::Io(parent_path.to_string(), e))?;
            if identity(&up, parent_path)? != parent.identity {
                return Err(WorkspaceFsError::Changed(parent_path.to_string()));
            }
            up
        };
        visitor.leave(&current, &done.name, &path)?;
        path.truncate(done.parent_len);
    }
    Ok(())
}

fn identity(dir: &OwnedFd, shown: &str) -> Result<(u64, u64), WorkspaceFsError> {
    let stat = fstat(dir).map_err(|e| WorkspaceFsError::Io(shown.to_string(), e))?;
    Ok((stat.st_dev, stat.st_ino))
}
