//! Watching a directory of a session's workspace (E2B's `files.watch_dir`): an inotify
//! instance of its own per watch, on the workspace's host directory, with a watch on each
//! subdirectory too when recursive (added as they appear). A directory is always opened
//! beneath the workspace without following a symlink and watched through that descriptor,
//! so code that swaps a directory for a symlink never gets a host path watched.
//!
//! Bounded: at most [`MAX_WATCHERS_PER_SESSION`] watches a session, [`MAX_WATCHED_DIRS`]
//! directories a watch and [`MAX_QUEUED_EVENTS`] unread events a watch (later ones are dropped
//! until the reader catches up). A watch ends when its reader goes (its stream dropped, its
//! watcher removed) or its session ends; its inotify descriptor closes with it.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use inotify::{EventMask, EventOwned, Inotify, WatchDescriptor, WatchMask, Watches};
use sandbox::workspace_fs::{self, EntryKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Sessions;
use crate::validate::validate_workspace_path;
use crate::ExecuteError;

/// Watches one session may have at once (streams and watchers together).
pub const MAX_WATCHERS_PER_SESSION: usize = 16;
/// Events one watch keeps unread; past it, new events are dropped.
pub const MAX_QUEUED_EVENTS: usize = 4096;
/// Directories one recursive watch follows at most.
pub const MAX_WATCHED_DIRS: usize = 4096;

/// How long a flush waits for the kernel's next event before it takes the queue as complete.
const FLUSH_QUIET: std::time::Duration = std::time::Duration::from_millis(15);

/// What happened to an entry, as envd names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEventKind {
    Create,
    Write,
    Remove,
    Rename,
    Chmod,
}

/// One change under a watched directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// Relative to the watched directory, `/`-separated.
    pub name: String,
    pub kind: WatchEventKind,
    /// What is at the path now, when the watch asked for it and the change leaves something
    /// there (a creation, a write, a change of mode).
    pub entry: Option<workspace_fs::Entry>,
}

/// What a watch follows.
#[derive(Debug, Clone, Default)]
pub struct WatchSpec {
    /// The directory, relative to the workspace.
    pub path: String,
    /// Its subdirectories too, at any depth.
    pub recursive: bool,
    /// Each event with the entry it is about.
    pub include_entry: bool,
}

/// The events of one watch as they come; `None` once the watch ended (its session ended).
pub struct WatchStream {
    pub events: mpsc::Receiver<WatchEvent>,
    /// Held so the watch's task keeps its flush channel (a stream has no use for it).
    _flush: Flush,
}

/// Asks a watch's task to pass on every event the kernel has for it now, and says when done.
type Flush = mpsc::Sender<tokio::sync::oneshot::Sender<()>>;

/// A watcher read by calls: its unread events, and its flush.
pub(crate) struct Watcher {
    events: tokio::sync::Mutex<mpsc::Receiver<WatchEvent>>,
    flush: Flush,
}

/// The watches of every session: each session's, by watcher id (a streamed watch has no
/// receiver here: its caller holds it).
#[derive(Default)]
pub(crate) struct WatchTable {
    sessions: Mutex<HashMap<String, HashMap<String, WatcherSlot>>>,
}

impl WatchTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, WatcherSlot>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for the watch `watcher` of `session`, or says why not.
    fn enter(&self, session: &str, watcher: &str) -> Result<(), ExecuteError> {
        let mut sessions = self.lock();
        let own = sessions.entry(session.to_string()).or_default();
        if own.len() >= MAX_WATCHERS_PER_SESSION {
            return Err(ExecuteError::SessionLimit(format!(
                "the sandbox has {} watches, the most one may have at once; stop one first",
                own.len()
            )));
        }
        own.insert(watcher.to_string(), None);
        Ok(())
    }

    fn leave(&self, session: &str, watcher: &str) -> Option<WatcherSlot> {
        let mut sessions = self.lock();
        let own = sessions.get_mut(session)?;
        let slot = own.remove(watcher);
        if own.is_empty() {
            sessions.remove(session);
        }
        slot
    }
}

type WatcherSlot = Option<Arc<Watcher>>;

impl Sessions {
    /// Watches the directory `path` of the session's workspace (and its subdirectories when
    /// `recursive`) until the stream is dropped or the session ends.
    pub fn watch(&self, id: &str, tenant: &str, spec: &WatchSpec) -> Result<WatchStream, ExecuteError> {
        let watcher = format!("w{}", uuid::Uuid::new_v4().simple());
        let (events, flush) = self.start_watch(id, tenant, spec, &watcher)?;
        Ok(WatchStream { events, _flush: flush })
    }

    /// A watch whose events are read by [`Sessions::watcher_events`]: its id.
    pub fn create_watcher(&self, id: &str, tenant: &str, spec: &WatchSpec) -> Result<String, ExecuteError> {
        let watcher = format!("w{}", uuid::Uuid::new_v4().simple());
        let (events, flush) = self.start_watch(id, tenant, spec, &watcher)?;
        let mut sessions = self.watches.lock();
        if let Some(slot) = sessions.get_mut(id).and_then(|own| own.get_mut(&watcher)) {
            *slot = Some(Arc::new(Watcher { events: tokio::sync::Mutex::new(events), flush }));
        }
        Ok(watcher)
    }

    /// The events of the watcher since the last call (every change made before this call
    /// included); `None` when it has no such watcher.
    pub async fn watcher_events(
        &self,
        id: &str,
        tenant: &str,
        watcher: &str,
    ) -> Result<Option<Vec<WatchEvent>>, ExecuteError> {
        self.registry.peek(id, tenant)?;
        let slot = self.watches.lock().get(id).and_then(|own| own.get(watcher).cloned()).flatten();
        let Some(watcher) = slot else { return Ok(None) };
        let (done, flushed) = tokio::sync::oneshot::channel();
        if watcher.flush.send(done).await.is_ok() {
            let _ = flushed.await;
        }
        let mut receiver = watcher.events.lock().await;
        let mut events = Vec::new();
        while let Ok(event) = receiver.try_recv() {
            events.push(event);
        }
        Ok(Some(events))
    }

    /// Ends the watcher; false when it has no such watcher.
    pub fn remove_watcher(&self, id: &str, tenant: &str, watcher: &str) -> Result<bool, ExecuteError> {
        self.registry.peek(id, tenant)?;
        // Dropping its receiver ends its task.
        Ok(matches!(self.watches.leave(id, watcher), Some(Some(_))))
    }

    fn start_watch(
        &self,
        id: &str,
        tenant: &str,
        spec: &WatchSpec,
        watcher: &str,
    ) -> Result<(mpsc::Receiver<WatchEvent>, Flush), ExecuteError> {
        let path = spec.path.as_str();
        validate_workspace_path(path).map_err(|m| ExecuteError::invalid("path", m))?;
        let session = self.registry.peek(id, tenant)?;
        match workspace_fs::stat(&session.workspace, path) {
            Ok(entry) if entry.kind == EntryKind::Directory => {}
            Ok(_) => return Err(ExecuteError::invalid("path", format!("{path}: not a directory"))),
            Err(e) if e.is_not_found() => return Err(ExecuteError::FileNotFound(path.to_string())),
            Err(e) => return Err(ExecuteError::invalid("path", e.to_string())),
        }
        let inotify = Inotify::init().map_err(|e| ExecuteError::ResourcesExhausted(format!("inotify: {e}")))?;
        let stream = inotify
            .into_event_stream(vec![0u8; 16 * 1024])
            .map_err(|e| ExecuteError::ResourcesExhausted(format!("inotify: {e}")))?;
        let mut tree = Tree {
            workspace: session.workspace.clone(),
            base: path.trim_matches('/').to_string(),
            recursive: spec.recursive,
            include_entry: spec.include_entry,
            dirs: HashMap::new(),
            watches: stream.watches(),
            staged: None,
        };
        tree.add("").map_err(|e| ExecuteError::Internal(format!("watching {path}: {e}")))?;
        tree.add_below("");
        self.watches.enter(id, watcher)?;
        let (tx, rx) = mpsc::channel(MAX_QUEUED_EVENTS);
        let (flush, flushes) = mpsc::channel(4);
        let table = Arc::clone(&self.watches);
        let (session_id, watcher) = (id.to_string(), watcher.to_string());
        let stop = session.cancel.clone();
        tokio::spawn(async move {
            relay(stream, tree, (tx, flushes), stop).await;
            table.leave(&session_id, &watcher);
        });
        Ok((rx, flush))
    }
}

/// Passes the watch's events on until the reader goes or the session ends; on a flush, first
/// every event the kernel holds for it.
async fn relay(
    mut stream: inotify::EventStream<Vec<u8>>,
    mut tree: Tree,
    (tx, mut flushes): (mpsc::Sender<WatchEvent>, mpsc::Receiver<tokio::sync::oneshot::Sender<()>>),
    stop: CancellationToken,
) {
    // A full queue drops the event: the reader is that far behind.
    let pass = |tree: &mut Tree, event| tree.changes(event).into_iter().for_each(|c| drop(tx.try_send(c)));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tx.closed() => return,
            Some(done) = flushes.recv() => {
                // Until the kernel has had nothing more for a moment (the reactor may take
                // that long to see what it queued).
                while let Ok(Some(Ok(event))) = tokio::time::timeout(FLUSH_QUIET, stream.next()).await {
                    pass(&mut tree, event);
                }
                let _ = done.send(());
            }
            event = stream.next() => match event {
                Some(Ok(event)) => pass(&mut tree, event),
                _ => return,
            },
        }
    }
}

/// The directories a watch follows, by watch descriptor: each one's path below the watched
/// directory (empty for the watched directory itself).
struct Tree {
    workspace: PathBuf,
    /// The watched directory, relative to the workspace.
    base: String,
    recursive: bool,
    include_entry: bool,
    dirs: HashMap<WatchDescriptor, String>,
    watches: Watches,
    /// The cookie of the last staged file renamed into place.
    staged: Option<u32>,
}

fn joined(a: &str, b: &str) -> String {
    match (a, b) {
        ("", b) => b.to_string(),
        (a, "") => a.to_string(),
        (a, b) => format!("{a}/{b}"),
    }
}

impl Tree {
    /// Watches the directory `rel` (below the watched one), opened without following links.
    fn add(&mut self, rel: &str) -> Result<(), String> {
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
    fn add_below(&mut self, rel: &str) {
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
    fn changes(&mut self, event: EventOwned) -> Vec<WatchEvent> {
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
