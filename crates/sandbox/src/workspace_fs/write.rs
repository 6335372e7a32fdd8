//! Writes into a workspace, all or nothing. Each file is first written under a temporary
//! name beside its destination; only when every file of the batch is written are they moved
//! into place, each by one `rename` (an existing file is set aside first, never written
//! through: it could be a hard link). If anything fails, what was set aside is put back and
//! every temporary file and directory the batch created is removed. The one exception: when
//! the workspace has no room for a replaced file's old and new copies at once, the old ones
//! are removed before the batch is written again.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{renameat, OFlag};
use nix::sys::stat::{mkdirat, Mode, SFlag};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};

use super::{io_error, kind_of, open_beneath, open_root, WorkspaceFsError};

/// Makes the temporary names of this process unique (with its pid and the time).
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` at `rel` (already checked lexically: relative, no `..`), creating
/// parent directories and giving what it creates to `owner`.
pub fn write_file(root: &Path, rel: &str, contents: &[u8], owner: Option<(u32, u32)>) -> Result<(), WorkspaceFsError> {
    write_files(root, &[(rel, contents)], owner).map_err(|(_, e)| e)
}

/// Writes every `(rel, contents)` or none of them; the error names the index of the file
/// that failed, or none when the workspace itself could not be opened (out of descriptors,
/// say). Paths are checked lexically by the caller (relative, no `..`), and no two may name
/// the same file.
pub fn write_files(
    root: &Path,
    files: &[(&str, &[u8])],
    owner: Option<(u32, u32)>,
) -> Result<(), (Option<usize>, WorkspaceFsError)> {
    if files.is_empty() {
        return Ok(());
    }
    let root = open_root(root).map_err(|e| (None, e))?;
    let written = match write_batch(&root, files, owner) {
        // No room for old and new copies side by side: the caller asked for the old ones to
        // go, so they go first (a failure after that leaves them removed).
        Err((_, e)) if e.is_no_space() && remove_files(&root, files) => write_batch(&root, files, owner),
        result => result,
    };
    written.map_err(|(index, e)| (Some(index), e))
}

fn write_batch(
    root: &OwnedFd,
    files: &[(&str, &[u8])],
    owner: Option<(u32, u32)>,
) -> Result<(), (usize, WorkspaceFsError)> {
    let mut batch = Batch { owner, created_dirs: Vec::new(), staged: Vec::new(), placed: Vec::new() };
    let result = batch.run(root, files);
    match result {
        Ok(()) => batch.finish(),
        Err(_) => batch.roll_back(),
    }
    result
}

/// Removes the regular files at the batch's paths; whether there was any.
fn remove_files(root: &OwnedFd, files: &[(&str, &[u8])]) -> bool {
    let mut removed = false;
    for (rel, _) in files {
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        let dir = match parent {
            "" => root.try_clone().ok(),
            parent => open_beneath(root, parent, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), rel).ok(),
        };
        if let Some(dir) = dir.filter(|dir| kind_of(dir, name) == Some(SFlag::S_IFREG)) {
            removed |= unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir).is_ok();
        }
    }
    removed
}

struct Batch {
    owner: Option<(u32, u32)>,
    /// Directories this batch created (their parent and name), in creation order.
    created_dirs: Vec<(OwnedFd, String)>,
    staged: Vec<Staged>,
    placed: Vec<Placed>,
}

/// A file written under its temporary name in the directory of its destination.
struct Staged {
    dir: OwnedFd,
    name: String,
    temp: String,
    shown: String,
}

/// A file moved into place; `replaced` when the file that was there waits under `aside`.
struct Placed {
    staged: Staged,
    aside: String,
    replaced: bool,
}

impl Batch {
    fn run(&mut self, root: &OwnedFd, files: &[(&str, &[u8])]) -> Result<(), (usize, WorkspaceFsError)> {
        for (index, (rel, contents)) in files.iter().enumerate() {
            let staged = self.stage(root, rel, contents).map_err(|e| (index, e))?;
            self.staged.push(staged);
        }
        let mut index = 0;
        while !self.staged.is_empty() {
            let staged = self.staged.remove(0);
            let placed = place(staged).map_err(|(staged, e)| {
                self.staged.insert(0, staged);
                (index, e)
            })?;
            self.placed.push(placed);
            index += 1;
        }
        Ok(())
    }

    fn chown(&self, fd: &OwnedFd, shown: &str) -> Result<(), WorkspaceFsError> {
        match self.owner {
            Some((uid, gid)) => fchown(fd, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| WorkspaceFsError::Io(shown.to_string(), e)),
            None => Ok(()),
        }
    }

    fn stage(&mut self, root: &OwnedFd, rel: &str, contents: &[u8]) -> Result<Staged, WorkspaceFsError> {
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let Some((name, parents)) = parts.split_last() else {
            return Err(WorkspaceFsError::IsADirectory(rel.to_string()));
        };
        let mut dir = root.try_clone().map_err(|e| io_error(rel, &e))?;
        let mut shown = String::new();
        for part in parents {
            shown = if shown.is_empty() { part.to_string() } else { format!("{shown}/{part}") };
            let created = match mkdirat(&dir, *part, Mode::from_bits_truncate(0o755)) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(e) => return Err(changed_or_io(&shown, e)),
            };
            let sub = open_beneath(&dir, *part, OFlag::O_DIRECTORY | OFlag::O_RDONLY, Mode::empty(), &shown)
                .map_err(|e| changed_if_gone(e, &shown))?;
            if created {
                let parent = std::mem::replace(&mut dir, sub);
                self.created_dirs.push((parent, part.to_string()));
                self.chown(&dir, &shown)?;
            } else {
                dir = sub;
            }
        }
        if kind_of(&dir, *name) == Some(SFlag::S_IFDIR) {
            return Err(WorkspaceFsError::IsADirectory(rel.into()));
        }
        let temp = temp_name();
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
        let fd = open_beneath(&dir, temp.as_str(), flags, Mode::from_bits_truncate(0o644), rel)
            .map_err(|e| changed_if_gone(e, rel))?;
        let staged = Staged { dir, name: name.to_string(), temp, shown: rel.to_string() };
        // From here on a failure removes the temporary file with the rest of the batch.
        let written =
            self.chown(&fd, rel).and_then(|()| File::from(fd).write_all(contents).map_err(|e| io_error(rel, &e)));
        match written {
            Ok(()) => Ok(staged),
            Err(e) => {
                staged.discard();
                Err(e)
            }
        }
    }

    /// Drops what was set aside: the batch is in place.
    fn finish(&mut self) {
        for placed in self.placed.drain(..) {
            if placed.replaced {
                let _ = unlinkat(&placed.staged.dir, placed.aside.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }

    /// Puts back what was there before, in reverse order, and removes what the batch created.
    fn roll_back(&mut self) {
        for placed in self.placed.drain(..).rev() {
            let Placed { staged, aside, replaced } = placed;
            if replaced {
                let _ = renameat(&staged.dir, aside.as_str(), &staged.dir, staged.name.as_str());
            } else {
                let _ = unlinkat(&staged.dir, staged.name.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
        for staged in self.staged.drain(..) {
            staged.discard();
        }
        for (parent, name) in self.created_dirs.drain(..).rev() {
            let _ = unlinkat(&parent, name.as_str(), UnlinkatFlags::RemoveDir);
        }
    }
}

impl Staged {
    fn discard(self) {
        let _ = unlinkat(&self.dir, self.temp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
}

/// Moves a staged file into place, setting aside what is there; on failure the staged file
/// comes back (to be discarded) and what was set aside is back in place.
fn place(staged: Staged) -> Result<Placed, (Staged, WorkspaceFsError)> {
    let aside = format!("{}-old", staged.temp);
    let (dir, name) = (&staged.dir, staged.name.as_str());
    let replaced = match renameat(dir, name, dir, aside.as_str()) {
        Ok(()) => true,
        Err(Errno::ENOENT) => false,
        Err(e) => {
            let err = changed_or_io(&staged.shown, e);
            return Err((staged, err));
        }
    };
    // A directory may have been swapped in since the file was staged.
    if replaced && kind_of(dir, aside.as_str()) == Some(SFlag::S_IFDIR) {
        let _ = renameat(dir, aside.as_str(), dir, name);
        let err = WorkspaceFsError::IsADirectory(staged.shown.clone());
        return Err((staged, err));
    }
    match renameat(dir, staged.temp.as_str(), dir, name) {
        Ok(()) => Ok(Placed { staged, aside, replaced }),
        Err(e) => {
            if replaced {
                let _ = renameat(dir, aside.as_str(), dir, name);
            }
            let err = changed_or_io(&staged.shown, e);
            Err((staged, err))
        }
    }
}

fn temp_name() -> String {
    let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{}{}-{nanos:x}-{n}", staging_prefix(), std::process::id())
}

fn staging_prefix() -> &'static str {
    ".upload-"
}

/// Whether `name` is one a write stages its file under before renaming it into place (this
/// process's own: the code's files of that form are not).
pub fn is_staging_name(name: &str) -> bool {
    name.strip_prefix(staging_prefix())
        .and_then(|rest| rest.split('-').next())
        .is_some_and(|pid| pid == std::process::id().to_string())
}

/// Errors that mean something else created, removed or replaced the path meanwhile.
fn changed_or_io(shown: &str, e: Errno) -> WorkspaceFsError {
    match e {
        Errno::EEXIST | Errno::ENOENT | Errno::ENOTEMPTY | Errno::EBUSY => WorkspaceFsError::Changed(shown.to_string()),
        Errno::EISDIR => WorkspaceFsError::IsADirectory(shown.to_string()),
        Errno::ENOTDIR => WorkspaceFsError::NotADirectory(shown.to_string()),
        e => WorkspaceFsError::Io(shown.to_string(), e),
    }
}

fn changed_if_gone(e: WorkspaceFsError, shown: &str) -> WorkspaceFsError {
    match e {
        WorkspaceFsError::Io(_, errno @ (Errno::EEXIST | Errno::ENOENT)) => changed_or_io(shown, errno),
        e => e,
    }
}
