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
use std::sync::Arc;

use futures::StreamExt;
use inotify::Inotify;
use sandbox::workspace_fs::{self, EntryKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod event;
mod table;
mod tree;

pub use event::{WatchEvent, WatchEventKind, WatchSpec, MAX_QUEUED_EVENTS, MAX_WATCHED_DIRS, MAX_WATCHERS_PER_SESSION};
pub use table::WatchStream;
pub(crate) use table::WatchTable;

use super::Sessions;
use crate::validate::validate_workspace_path;
use crate::ExecuteError;
use table::{Flush, Watcher};
use tree::Tree;

/// How long a flush waits for the kernel's next event before it takes the queue as complete.
const FLUSH_QUIET: std::time::Duration = std::time::Duration::from_millis(15);

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
