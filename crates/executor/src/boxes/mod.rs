//! The box: one long-lived sandbox whose processes (commands, interpreters, servers,
//! terminals) live together, sharing its loopback, its `/tmp`, its files and its cgroup. Its
//! program is the agent of [`sandbox::agent`], which starts and supervises them on request;
//! this is the daemon's side: the one owner of a box's processes and of their events, which
//! every protocol reads.

mod log;
mod metrics;
mod state;
mod types;

pub use log::{OutputChunk, OutputEnd, ProcessOutput, ENDED_KEPT, LOG_BYTES};
pub use metrics::{cpu_count, BoxMetrics};
pub use types::{ExitStatus, ProcessEvent, ProcessInfo, ProcessStart, Started, Stream, TerminalSize};

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sandbox::agent::protocol::{ProcessSpec, Request, MAX_DATA};
use sandbox::agent::AgentLink;
use sandbox::runner::Adjustable;
use sandbox::SandboxSpec;
use tokio::sync::{broadcast, oneshot};
use tokio_util::sync::CancellationToken;

use crate::egress::Door;
use crate::launcher::{Launcher, OutputCap};
use crate::live::LiveSandbox;
use crate::ExecuteError;
use state::{lock, Answer, Shared, Waiting};

/// How long a box may take to start.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How long the agent may take to answer a request.
const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// Bytes kept of the agent's own stdout and stderr (never a process's).
const AGENT_OUTPUT: u64 = 64 * 1024;
/// Processes of one box the daemon keeps track of at once.
pub const MAX_PROCESSES: usize = 256;

/// A running box.
pub struct LiveBox {
    live: tokio::sync::Mutex<LiveSandbox>,
    cancel: CancellationToken,
    /// Sends are one at a time: frames must not interleave.
    link: tokio::sync::Mutex<AgentLink>,
    state: Shared,
    /// Every process's environment before its own variables.
    base_env: Vec<(String, String)>,
    /// Where a process starts when its caller names no directory.
    home: String,
    /// Its egress door, when its policy has one; closed with it.
    _door: Option<Door>,
    /// Its usage, sampled while it lives.
    series: metrics::Series,
}

/// What a box is made of.
pub(crate) struct BoxParts {
    pub launcher: Arc<dyn Launcher>,
    /// A spec with [`SandboxSpec::agent`] set and a session socket.
    pub spec: SandboxSpec,
    pub door: Option<(Door, OwnedFd)>,
    pub cancel: CancellationToken,
    pub home: String,
    /// The memory it may hold, where its cgroup does not say.
    pub memory_bytes: u64,
}

impl LiveBox {
    /// Starts the box and waits until its agent is ready.
    pub(crate) async fn start(parts: BoxParts) -> Result<LiveBox, ExecuteError> {
        let BoxParts { launcher, spec, door, cancel, home, memory_bytes } = parts;
        let base_env = spec.env.clone();
        let (door, socket) = door.unzip();
        let adjust = Adjustable::new(AGENT_OUTPUT);
        let output = OutputCap::Adjustable(Arc::clone(&adjust));
        let (mut live, mut socket) =
            LiveSandbox::start_handing(launcher, spec, output, cancel.clone(), socket.into_iter().collect())
                .map_err(|e| ExecuteError::io("box socket", &e))?;
        live.ready(&mut socket, READY_WAIT)
            .await
            .map_err(|message| ExecuteError::Sandbox { stage: "box".into(), message })?;
        let (link, received) = AgentLink::new(socket);
        let state = Shared::default();
        tokio::spawn(state::read(received, Arc::clone(&state)));
        let series = metrics::Series::default();
        tokio::spawn(metrics::sample(adjust, Arc::clone(&series), memory_bytes, cancel.clone()));
        Ok(LiveBox {
            series,
            live: tokio::sync::Mutex::new(live),
            cancel,
            link: tokio::sync::Mutex::new(link),
            state,
            base_env,
            home,
            _door: door,
        })
    }

    /// Starts a process; its events are read from its first byte on.
    pub async fn spawn(&self, start: ProcessStart) -> Result<Started, ExecuteError> {
        if start.argv.is_empty() {
            return Err(ExecuteError::invalid("cmd", "a process needs a program"));
        }
        if lock(&self.state).count() >= MAX_PROCESSES {
            return Err(ExecuteError::invalid(
                "process",
                format!("the sandbox runs {MAX_PROCESSES} processes, the most it may; end one first"),
            ));
        }
        let cwd = start.cwd.clone().unwrap_or_else(|| self.home.clone());
        let mut env: std::collections::BTreeMap<String, String> = self.base_env.iter().cloned().collect();
        env.extend(start.env.clone());
        let spec = ProcessSpec {
            argv: start.argv.clone(),
            env: env.into_iter().collect(),
            cwd: cwd.clone(),
            stdin: start.stdin,
            pty: start.pty,
            channel_fd: start.channel_fd,
        };
        let info = ProcessInfo {
            pid: 0,
            argv: start.argv,
            env: start.env,
            cwd,
            tag: start.tag,
            pty: start.pty.is_some(),
            started_at: SystemTime::now(),
        };
        let (answer, answered) = oneshot::channel();
        match self.ask(Waiting::Start { info, answer }, |id| Request::Start { id, spec }, answered).await? {
            Answer::Started(started) => Ok(started),
            Answer::Refused(why) => Err(ExecuteError::invalid("cmd", why)),
            Answer::Connected(_) => Err(ExecuteError::Internal("the agent answered a start with a connection".into())),
        }
    }

    /// A TCP connection to `port` on the box's loopback.
    pub async fn connect(&self, port: u16) -> Result<tokio::net::TcpStream, ExecuteError> {
        let (answer, answered) = oneshot::channel();
        match self.ask(Waiting::Connect { answer }, |id| Request::Connect { id, port }, answered).await? {
            Answer::Connected(fd) => {
                let stream = std::net::TcpStream::from(fd);
                stream.set_nonblocking(true).map_err(|e| ExecuteError::io("port connection", &e))?;
                tokio::net::TcpStream::from_std(stream).map_err(|e| ExecuteError::io("port connection", &e))
            }
            Answer::Refused(why) => Err(ExecuteError::PortUnavailable(why)),
            Answer::Started(_) => Err(ExecuteError::Internal("the agent answered a connection with a process".into())),
        }
    }

    async fn ask(
        &self,
        waiting: Waiting,
        request: impl FnOnce(u64) -> Request,
        answered: oneshot::Receiver<Answer>,
    ) -> Result<Answer, ExecuteError> {
        let id = lock(&self.state).wait(waiting).ok_or_else(ended)?;
        if let Err(e) = self.link.lock().await.send(&request(id), &[]).await {
            lock(&self.state).forget(id);
            return Err(ExecuteError::io("box socket", &e));
        }
        match tokio::time::timeout(ANSWER_WAIT, answered).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(ended()),
            Err(_) => {
                lock(&self.state).forget(id);
                Err(ExecuteError::Internal("the sandbox's agent did not answer in time".into()))
            }
        }
    }

    /// Its usage over the last hour, oldest first.
    pub fn metrics(&self) -> Vec<BoxMetrics> {
        self.series.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect()
    }

    /// The processes running now.
    pub fn list(&self) -> Vec<ProcessInfo> {
        lock(&self.state).list()
    }

    /// `pid`'s output from offset `from` on (see [`ProcessOutput`]), while it runs and a
    /// while after it ended.
    pub fn output(&self, pid: i32, from: u64) -> Result<ProcessOutput, ExecuteError> {
        lock(&self.state).output(pid, from).ok_or(ExecuteError::ProcessNotFound(pid))
    }

    /// Reads `pid`'s events from now on.
    pub fn subscribe(&self, pid: i32) -> Result<broadcast::Receiver<ProcessEvent>, ExecuteError> {
        lock(&self.state).subscribe(pid).ok_or(ExecuteError::ProcessNotFound(pid))
    }

    /// Writes `data` to `pid`'s stdin (or terminal).
    pub async fn input(&self, pid: i32, data: &[u8]) -> Result<(), ExecuteError> {
        self.running(pid)?;
        for chunk in data.chunks(MAX_DATA) {
            self.send(&Request::Input { pid }, chunk).await?;
        }
        Ok(())
    }

    pub async fn close_input(&self, pid: i32) -> Result<(), ExecuteError> {
        self.running(pid)?;
        self.send(&Request::CloseInput { pid }, &[]).await
    }

    /// Sends `signal` to `pid` and what it started (its process group).
    pub async fn signal(&self, pid: i32, signal: i32) -> Result<(), ExecuteError> {
        self.running(pid)?;
        self.send(&Request::Signal { pid, signal }, &[]).await
    }

    pub async fn resize(&self, pid: i32, size: TerminalSize) -> Result<(), ExecuteError> {
        self.running(pid)?;
        self.send(&Request::Resize { pid, size }, &[]).await
    }

    fn running(&self, pid: i32) -> Result<(), ExecuteError> {
        let state = lock(&self.state);
        if state.ended {
            return Err(ended());
        }
        state.has(pid).then_some(()).ok_or(ExecuteError::ProcessNotFound(pid))
    }

    async fn send(&self, request: &Request, data: &[u8]) -> Result<(), ExecuteError> {
        let sent = self.link.lock().await.send(request, data).await;
        sent.map_err(|e| ExecuteError::io("box socket", &e))
    }

    /// Whether the box still runs.
    pub fn alive(&self) -> bool {
        !self.cancel.is_cancelled() && !lock(&self.state).ended
    }

    /// Kills the box and everything in it, and waits (a bounded time) for its end.
    pub async fn kill(&self) {
        self.cancel.cancel();
        self.live.lock().await.kill().await;
    }
}

impl Drop for LiveBox {
    /// A box nobody holds any more must not live on.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn ended() -> ExecuteError {
    ExecuteError::BoxEnded
}
