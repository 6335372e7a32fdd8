//! What a box's processes are to their callers: how one starts, what it is while it runs,
//! and the one stream of events every protocol reads it by.

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;
pub use sandbox::agent::protocol::{Stream, TerminalSize};
use tokio::sync::broadcast;

/// A process to start in a box.
#[derive(Debug, Clone, Default)]
pub struct ProcessStart {
    /// The program (looked up on the box's `PATH`) and its arguments.
    pub argv: Vec<String>,
    /// Added to the box's environment (the template's, the session's).
    pub env: BTreeMap<String, String>,
    /// Absolute, inside the box; `None`: the box's home.
    pub cwd: Option<String>,
    /// Whether stdin is a pipe the caller writes to (else empty).
    pub stdin: bool,
    /// Runs on a terminal of this size.
    pub pty: Option<TerminalSize>,
    /// A name the caller finds it by.
    pub tag: Option<String>,
    /// A socket of its own at this descriptor (an interpreter's request channel); the daemon's
    /// end comes back in [`Started::channel`].
    pub channel_fd: Option<i32>,
}

/// A process of a box while it runs.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    /// Its pid in the box.
    pub pid: i32,
    pub argv: Vec<String>,
    /// The variables its start added.
    pub env: BTreeMap<String, String>,
    pub cwd: String,
    pub tag: Option<String>,
    pub pty: bool,
    pub started_at: SystemTime,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl ExitStatus {
    /// The shell's number for it: the code, or 128 + the signal.
    pub fn shell_code(&self) -> i32 {
        self.code.unwrap_or_else(|| 128 + self.signal.unwrap_or(0))
    }
}

/// What happens to a process, in order: output chunks, then its end. Every reader of a
/// process (a command's stream, a client attached later, a terminal) reads these.
#[derive(Debug, Clone)]
pub enum ProcessEvent {
    Output(Stream, Bytes),
    Exited(ExitStatus),
    /// The box itself ended (killed, its lifetime over) before the process did.
    BoxEnded,
}

/// A process just started: its pid and its events from its first byte on.
pub struct Started {
    pub pid: i32,
    pub events: broadcast::Receiver<ProcessEvent>,
    /// The daemon's end of its channel, when it asked for one.
    pub channel: Option<std::os::fd::OwnedFd>,
}
