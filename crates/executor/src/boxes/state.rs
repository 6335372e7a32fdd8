//! What the daemon knows of a box's processes, kept by the one task that reads the agent:
//! the requests waiting for their answer and the processes running, each with its events'
//! sender.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sandbox::agent::protocol::Event;
use sandbox::agent::Received;
use tokio::sync::{broadcast, oneshot};

use super::log::{Logs, OutputEnd, ProcessOutput};
use super::types::{ExitStatus, ProcessEvent, ProcessInfo, Started};

/// Events kept for a reader that lags; past it, that reader misses the oldest (it is told).
/// An output event is a chunk of up to 64 KiB: this bounds what the daemon holds for a process
/// whose stream a client keeps open but never reads (4 MiB).
const EVENTS_KEPT: usize = 64;

/// The answer to a request.
pub(super) enum Answer {
    Started(Started),
    Connected(OwnedFd),
    Refused(String),
}

/// A request sent to the agent whose answer has not come yet.
pub(super) enum Waiting {
    Start { info: ProcessInfo, answer: oneshot::Sender<Answer> },
    Connect { answer: oneshot::Sender<Answer> },
}

impl Waiting {
    fn answer(self, answer: Answer) {
        let sender = match self {
            Waiting::Start { answer, .. } | Waiting::Connect { answer } => answer,
        };
        let _ = sender.send(answer);
    }
}

struct Running {
    info: ProcessInfo,
    events: broadcast::Sender<ProcessEvent>,
}

#[derive(Default)]
pub(super) struct State {
    next_id: u64,
    waiting: HashMap<u64, Waiting>,
    running: BTreeMap<i32, Running>,
    /// Every process's output, fed by its events, kept a while after it ends.
    logs: Logs,
    /// The agent is gone: nothing more will be answered.
    pub ended: bool,
}

pub(super) type Shared = Arc<Mutex<State>>;

impl State {
    /// Registers a request; `None` once the box has ended.
    pub fn wait(&mut self, waiting: Waiting) -> Option<u64> {
        if self.ended {
            return None;
        }
        self.next_id += 1;
        self.waiting.insert(self.next_id, waiting);
        Some(self.next_id)
    }

    /// Forgets a request that could not be sent.
    pub fn forget(&mut self, id: u64) {
        self.waiting.remove(&id);
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        self.running.values().map(|r| r.info.clone()).collect()
    }

    pub fn count(&self) -> usize {
        self.running.len()
    }

    pub fn has(&self, pid: i32) -> bool {
        self.running.contains_key(&pid)
    }

    /// `pid`'s output from offset `from` on, while it runs or a while after it ended.
    pub fn output(&self, pid: i32, from: u64) -> Option<ProcessOutput> {
        self.logs.read(pid, from)
    }

    /// A new reader of `pid`'s events, from now on.
    pub fn subscribe(&self, pid: i32) -> Option<broadcast::Receiver<ProcessEvent>> {
        self.running.get(&pid).map(|r| r.events.subscribe())
    }

    fn take(&mut self, event: Event, data: Vec<u8>, fd: Option<OwnedFd>) {
        match event {
            Event::Started { id, pid, .. } => {
                let Some(Waiting::Start { mut info, answer }) = self.waiting.remove(&id) else { return };
                info.pid = pid;
                let (events, receiver) = broadcast::channel(EVENTS_KEPT);
                self.logs.start(pid);
                self.running.insert(pid, Running { info, events });
                let _ = answer.send(Answer::Started(Started { pid, events: receiver, channel: fd }));
            }
            Event::Refused { id, error } => {
                if let Some(waiting) = self.waiting.remove(&id) {
                    waiting.answer(Answer::Refused(error));
                }
            }
            Event::Connected { id } => {
                let answer =
                    fd.map_or_else(|| Answer::Refused("the connection did not come".into()), Answer::Connected);
                if let Some(waiting) = self.waiting.remove(&id) {
                    waiting.answer(answer);
                }
            }
            Event::Output { pid, stream } => {
                if let Some(running) = self.running.get(&pid) {
                    let data = Bytes::from(data);
                    self.logs.output(pid, stream, &data);
                    let _ = running.events.send(ProcessEvent::Output(stream, data));
                }
            }
            Event::Exited { pid, code, signal } => {
                if let Some(running) = self.running.remove(&pid) {
                    let status = ExitStatus { code, signal };
                    self.logs.finish(pid, OutputEnd::Exited(status));
                    let _ = running.events.send(ProcessEvent::Exited(status));
                }
            }
            Event::Unreadable { error } => tracing::warn!(%error, "a box's agent could not read a request"),
        }
    }

    /// The agent is gone: every waiting request is refused, every process told.
    fn end(&mut self) {
        self.ended = true;
        for (_, waiting) in self.waiting.drain() {
            waiting.answer(Answer::Refused("the sandbox ended".into()));
        }
        for (pid, running) in std::mem::take(&mut self.running) {
            self.logs.finish(pid, OutputEnd::BoxEnded);
            let _ = running.events.send(ProcessEvent::BoxEnded);
        }
    }
}

/// Reads the agent's events into `state` until the agent is gone.
pub(super) async fn read(mut received: Received, state: Shared) {
    loop {
        match received.next().await {
            Ok(Some((event, data, fd))) => lock(&state).take(event, data, fd),
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "a box's agent broke its protocol");
                break;
            }
        }
    }
    lock(&state).end();
}

pub(super) fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
