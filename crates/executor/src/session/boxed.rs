//! An interpreter that is a process of its session's box: started by the box's agent with a
//! socket of its own, killed by a signal, its end and the tail of its stderr read from its
//! events, so that a cell whose interpreter died says why as a sandbox's report would.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandbox::runner::{Captured, RunOutput};
use sandbox::{Outcome, SandboxReport};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::boxes::{ExitStatus, LiveBox, ProcessEvent, ProcessStart, Stream};
use crate::ExecuteError;

/// Bytes kept of the interpreter's own stderr: a crash's last words.
const STDERR_TAIL: usize = 64 * 1024;
/// How long a killed interpreter may take to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct BoxedProcess {
    /// Cancelled to kill it (a child of its session's token).
    pub cancel: CancellationToken,
    ended: watch::Receiver<Option<ExitStatus>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    reported: bool,
}

impl BoxedProcess {
    /// Starts `argv` in `the_box` with its socket at `channel_fd`; the daemon's end of it.
    pub async fn start(
        the_box: Arc<LiveBox>,
        argv: Vec<String>,
        channel_fd: i32,
        cancel: CancellationToken,
    ) -> Result<(BoxedProcess, UnixStream), ExecuteError> {
        let start = ProcessStart { argv, channel_fd: Some(channel_fd), ..Default::default() };
        let started = the_box.spawn(start).await?;
        let channel =
            started.channel.ok_or_else(|| ExecuteError::Internal("the interpreter's socket did not come".into()))?;
        let socket = StdUnixStream::from(channel);
        socket.set_nonblocking(true).map_err(|e| ExecuteError::io("interpreter socket", &e))?;
        let socket = UnixStream::from_std(socket).map_err(|e| ExecuteError::io("interpreter socket", &e))?;
        let (tell, ended) = watch::channel(None);
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let watched = Watched { the_box, pid: started.pid, cancel: cancel.clone(), tell, stderr: Arc::clone(&stderr) };
        tokio::spawn(watched.watch(started.events));
        Ok((BoxedProcess { cancel, ended, stderr, reported: false }, socket))
    }

    /// Kills it and waits (a bounded time) for its end.
    pub async fn kill(&mut self) -> Option<RunOutput> {
        self.cancel.cancel();
        self.report(KILL_WAIT).await
    }

    /// How it ended, if it ends within `wait` (once: `None` after that).
    pub async fn report(&mut self, wait: Duration) -> Option<RunOutput> {
        if self.reported {
            return None;
        }
        let status = *tokio::time::timeout(wait, self.ended.wait_for(Option::is_some)).await.ok()?.ok()?;
        self.reported = true;
        let stderr = self.stderr.lock().unwrap_or_else(|p| p.into_inner()).clone();
        status.map(|status| output(status, stderr))
    }
}

impl Drop for BoxedProcess {
    /// An interpreter nobody holds any more must not live on.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// What the watcher of one interpreter process holds.
struct Watched {
    the_box: Arc<LiveBox>,
    pid: i32,
    cancel: CancellationToken,
    tell: watch::Sender<Option<ExitStatus>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Watched {
    /// Keeps the tail of its output, kills it when its token is cancelled, tells its end.
    async fn watch(self, mut events: broadcast::Receiver<ProcessEvent>) {
        let mut signalled = false;
        let status = loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(ProcessEvent::Output(Stream::Stderr, bytes)) => self.keep(&bytes),
                    Ok(ProcessEvent::Output(..)) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Ok(ProcessEvent::Exited(status)) => break status,
                    Ok(ProcessEvent::BoxEnded) | Err(broadcast::error::RecvError::Closed) => {
                        break ExitStatus { code: None, signal: Some(9) };
                    }
                },
                _ = self.cancel.cancelled(), if !signalled => {
                    signalled = true;
                    let _ = self.the_box.signal(self.pid, 9).await;
                }
            }
        };
        let _ = self.tell.send(Some(status));
    }

    fn keep(&self, bytes: &[u8]) {
        let mut tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        tail.extend_from_slice(bytes);
        let excess = tail.len().saturating_sub(STDERR_TAIL);
        tail.drain(..excess);
    }
}

/// Its end as a sandbox's report would say it.
fn output(status: ExitStatus, stderr: Vec<u8>) -> RunOutput {
    let outcome = match (status.code, status.signal) {
        (Some(code), _) => Outcome::Exited { code },
        (None, signal) => Outcome::Signaled { signal: signal.unwrap_or(9) },
    };
    let report = SandboxReport {
        outcome,
        wall_time_ms: 0.0,
        cpu_time_ms: 0.0,
        peak_memory_kb: 0,
        channel: None,
        channel_truncated: false,
        full_filesystems: Vec::new(),
    };
    let total_bytes = stderr.len() as u64;
    let captured = |bytes: Vec<u8>, total_bytes| Captured { bytes, total_bytes, truncated: false };
    RunOutput { report, stdout: captured(Vec::new(), 0), stderr: captured(stderr, total_bytes), limit: None }
}
