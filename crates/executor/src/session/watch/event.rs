//! What a watch reports and what it follows, and its caps.

use sandbox::workspace_fs;

/// Watches one session may have at once (streams and watchers together).
pub const MAX_WATCHERS_PER_SESSION: usize = 16;
/// Events one watch keeps unread; past it, new events are dropped.
pub const MAX_QUEUED_EVENTS: usize = 4096;
/// Directories one recursive watch follows at most.
pub const MAX_WATCHED_DIRS: usize = 4096;

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
