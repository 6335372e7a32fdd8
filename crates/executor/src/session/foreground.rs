//! A process run to its end: started in the session's box, its output gathered from its
//! events (the one stream), killed past its timeout. Our API's `wait` and MCP's foreground
//! `run_command` are this.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;

use super::Sessions;
use crate::boxes::{ExitStatus, ProcessEvent, ProcessStart, Stream, LOG_BYTES};
use crate::{validate, ExecuteError};

/// How long a killed process may take to be reported ended.
const KILL_WAIT: Duration = Duration::from_secs(5);
const SIGKILL: i32 = 9;

/// A process run to its end.
#[derive(Debug, Clone, Default)]
pub struct ProcessRun {
    pub pid: i32,
    /// Its stdout (or terminal), at most [`LOG_BYTES`] of it.
    pub stdout: Vec<u8>,
    /// Its stderr, at most [`LOG_BYTES`] of it.
    pub stderr: Vec<u8>,
    /// How it ended; `None` when the box ended first (or it outlived even its kill).
    pub exit: Option<ExitStatus>,
    /// It ran past its timeout and was killed.
    pub timed_out: bool,
    /// Output was cut (over the cap, or written faster than it could be read).
    pub truncated: bool,
}

impl Sessions {
    /// Starts `start` in the session's box and waits for its end, at most `timeout_secs`
    /// (default: the server's default timeout), killing it (and what it started) past that.
    pub async fn run_process(
        &self,
        id: &str,
        tenant: &str,
        start: ProcessStart,
        timeout_secs: Option<f64>,
    ) -> Result<ProcessRun, ExecuteError> {
        let policy = &self.sandboxes.config.limits;
        let default_secs = validate::default_timeout_secs(None, policy);
        let timeout = Duration::from_millis(validate::timeout_ms(timeout_secs, default_secs, policy)?);
        let started = self.start_process(id, tenant, start).await?;
        let mut run = ProcessRun { pid: started.pid, ..ProcessRun::default() };
        let mut events = started.events;
        if tokio::time::timeout(timeout, gather(&mut events, &mut run)).await.is_err() {
            run.timed_out = true;
            // Gone already (it ended just now): its end is still in the events.
            let _ = self.signal_process(id, tenant, run.pid, SIGKILL).await;
            let _ = tokio::time::timeout(KILL_WAIT, gather(&mut events, &mut run)).await;
        }
        Ok(run)
    }
}

/// Reads events into `run` until the process (or its box) ends.
async fn gather(events: &mut Receiver<ProcessEvent>, run: &mut ProcessRun) {
    loop {
        match events.recv().await {
            Ok(ProcessEvent::Output(stream, data)) => {
                let into = if stream == Stream::Stderr { &mut run.stderr } else { &mut run.stdout };
                let room = (LOG_BYTES as usize).saturating_sub(into.len());
                run.truncated |= data.len() > room;
                into.extend_from_slice(&data[..data.len().min(room)]);
            }
            Ok(ProcessEvent::Exited(status)) => {
                run.exit = Some(status);
                return;
            }
            Ok(ProcessEvent::BoxEnded) | Err(RecvError::Closed) => return,
            Err(RecvError::Lagged(_)) => run.truncated = true,
        }
    }
}
