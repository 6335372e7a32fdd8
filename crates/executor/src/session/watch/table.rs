//! The watches of every session, within each session's cap, and what a caller holds of one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::event::{WatchEvent, MAX_WATCHERS_PER_SESSION};
use crate::ExecuteError;

/// The events of one watch as they come; `None` once the watch ended (its session ended).
pub struct WatchStream {
    pub events: mpsc::Receiver<WatchEvent>,
    /// Held so the watch's task keeps its flush channel (a stream has no use for it).
    pub(super) _flush: Flush,
}

/// Asks a watch's task to pass on every event the kernel has for it now, and says when done.
pub(super) type Flush = mpsc::Sender<tokio::sync::oneshot::Sender<()>>;

/// A watcher read by calls: its unread events, and its flush.
pub(crate) struct Watcher {
    pub(super) events: tokio::sync::Mutex<mpsc::Receiver<WatchEvent>>,
    pub(super) flush: Flush,
}

/// The watches of every session: each session's, by watcher id (a streamed watch has no
/// receiver here: its caller holds it).
#[derive(Default)]
pub(crate) struct WatchTable {
    sessions: Mutex<HashMap<String, HashMap<String, WatcherSlot>>>,
}

impl WatchTable {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, WatcherSlot>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a place for the watch `watcher` of `session`, or says why not.
    pub(super) fn enter(&self, session: &str, watcher: &str) -> Result<(), ExecuteError> {
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

    pub(super) fn leave(&self, session: &str, watcher: &str) -> Option<WatcherSlot> {
        let mut sessions = self.lock();
        let own = sessions.get_mut(session)?;
        let slot = own.remove(watcher);
        if own.is_empty() {
            sessions.remove(session);
        }
        slot
    }
}

pub(super) type WatcherSlot = Option<Arc<Watcher>>;
