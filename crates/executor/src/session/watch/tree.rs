//! The inotify side of a watch: the directories it follows, by watch descriptor, and what
//! each kernel event says in envd's terms.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use inotify::{EventMask, EventOwned, WatchDescriptor, WatchMask, Watches};
use sandbox::workspace_fs::{self, EntryKind};

use super::event::{WatchEvent, WatchEventKind, MAX_WATCHED_DIRS};

/// The directories a watch follows, by watch descriptor: each one's path below the watched
/// directory (empty for the watched directory itself).
pub(super) struct Tree {
    pub(super) workspace: PathBuf,
    /// The watched directory, relative to the workspace.
    pub(super) base: String,
    pub(super) recursive: bool,
    pub(super) include_entry: bool,
    pub(super) dirs: HashMap<WatchDescriptor, String>,
    pub(super) watches: Watches,
    /// The cookie of the last staged file renamed into place.
    pub(super) staged: Option<u32>,
}

pub(super) fn joined(a: &str, b: &str) -> String {
    match (a, b) {
        ("", b) => b.to_string(),
        (a, "") => a.to_string(),
        (a, b) => format!("{a}/{b}"),
    }
}

impl Tree {
    /// Watches the directory `rel` (below the watched one), opened without following links.
    pub(super) fn add(&mut self, rel: &str) -> Result<(), String> {
        if self.dirs.len() >= MAX_WATCHED_DIRS {
            return Ok(());
        }
        let dir = workspace_fs::open_dir(&self.workspace, &joined(&self.base, rel)).map_err(|e| e.to_string())?;
        let mask = WatchMask::CREATE
            | WatchMask::MODIFY
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::ATTRIB
            | WatchMask::ONLYDIR;
        // The descriptor's own name in /proc: the very directory opened, whatever its path is now.
        let wd = self.watches.add(format!("/proc/self/fd/{}", dir.as_raw_fd()), mask).map_err(|e| e.to_string())?;
        self.dirs.insert(wd, rel.to_string());
        Ok(())
    }

    /// When recursive, watches every directory below `rel` as well.
    pub(super) fn add_below(&mut self, rel: &str) {
        if !self.recursive {
            return;
        }
        let Ok(entries) = workspace_fs::list_dir(&self.workspace, &joined(&self.base, rel), 64) else { return };
        for entry in entries.iter().filter(|e| e.kind == EntryKind::Directory) {
            let below = match self.base.as_str() {
                "" => Some(entry.path.as_str()),
                base => entry.path.strip_prefix(base).and_then(|p| p.strip_prefix('/')),
            };
            if let Some(below) = below {
                let _ = self.add(below);
            }
        }
    }

    /// Stops following `rel` and what is below it (moved away).
    fn forget(&mut self, rel: &str) {
        let prefix = format!("{rel}/");
        let gone: Vec<WatchDescriptor> = self
            .dirs
            .iter()
            .filter(|(_, p)| p.as_str() == rel || p.starts_with(&prefix))
            .map(|(wd, _)| wd.clone())
            .collect();
        for wd in gone {
            self.dirs.remove(&wd);
            let _ = self.watches.remove(wd);
        }
    }

    /// What one inotify event says, as envd's events (one per kind of change it carries).
    pub(super) fn changes(&mut self, event: EventOwned) -> Vec<WatchEvent> {
        let mask = event.mask;
        if mask.contains(EventMask::IGNORED) {
            self.dirs.remove(&event.wd);
            return Vec::new();
        }
        let (Some(dir), Some(name)) = (self.dirs.get(&event.wd), event.name.as_ref()) else {
            return Vec::new();
        };
        let file_name = name.to_string_lossy();
        // A file the daemon writes is staged under a name of its own and renamed into place:
        // the staging is not shown, and the file appears created and written, as envd has it.
        if workspace_fs::is_staging_name(&file_name) {
            if mask.contains(EventMask::MOVED_FROM) {
                self.staged = Some(event.cookie);
            }
            return Vec::new();
        }
        let name = joined(dir, &file_name);
        if mask.contains(EventMask::MOVED_TO) && self.staged.take() == Some(event.cookie) {
            return self.described(&name, vec![WatchEventKind::Create, WatchEventKind::Write]);
        }
        if self.recursive && mask.contains(EventMask::ISDIR) {
            if mask.contains(EventMask::MOVED_FROM) {
                self.forget(&name);
            }
            if mask.intersects(EventMask::CREATE | EventMask::MOVED_TO) && self.add(&name).is_ok() {
                self.add_below(&name);
            }
        }
        self.described(&name, kinds(mask))
    }

    /// The events of `kinds` at `name`, with the entry there when the watch asked for it.
    fn described(&self, name: &str, kinds: Vec<WatchEventKind>) -> Vec<WatchEvent> {
        let carries = |kind: WatchEventKind| {
            matches!(kind, WatchEventKind::Create | WatchEventKind::Write | WatchEventKind::Chmod)
        };
        let entry = (self.include_entry && kinds.iter().any(|k| carries(*k)))
            .then(|| workspace_fs::stat(&self.workspace, &joined(&self.base, name)).ok())
            .flatten();
        let event =
            |kind| WatchEvent { name: name.to_string(), kind, entry: if carries(kind) { entry.clone() } else { None } };
        kinds.into_iter().map(event).collect()
    }
}

/// The kinds of change of an inotify mask, in envd's order (a file moved in is created here).
fn kinds(mask: EventMask) -> Vec<WatchEventKind> {
    [
        (EventMask::CREATE | EventMask::MOVED_TO, WatchEventKind::Create),
        (EventMask::MOVED_FROM, WatchEventKind::Rename),
        (EventMask::ATTRIB, WatchEventKind::Chmod),
        (EventMask::MODIFY, WatchEventKind::Write),
        (EventMask::DELETE, WatchEventKind::Remove),
    ]
    .into_iter()
    .filter(|(bits, _)| mask.intersects(*bits))
    .map(|(_, kind)| kind)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_map_to_envd_kinds() {
        assert_eq!(kinds(EventMask::CREATE | EventMask::ISDIR), vec![WatchEventKind::Create]);
        assert_eq!(kinds(EventMask::MOVED_TO), vec![WatchEventKind::Create]);
        assert_eq!(kinds(EventMask::MOVED_FROM), vec![WatchEventKind::Rename]);
        assert_eq!(kinds(EventMask::MODIFY), vec![WatchEventKind::Write]);
        assert_eq!(kinds(EventMask::DELETE), vec![WatchEventKind::Remove]);
        assert_eq!(kinds(EventMask::ATTRIB), vec![WatchEventKind::Chmod]);
        assert_eq!(joined("", "a"), "a");
        assert_eq!(joined("d", "a"), "d/a");
    }
}
