//! One long-lived interpreter of a session: a sandbox whose program serves one request per
//! line on a socket handed to it at start, and answers each with one line.

use std::sync::Arc;
use std::time::Duration;

use sandbox::runner::RunOutput;
use sandbox::SandboxSpec;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::boxed::BoxedProcess;
use crate::egress::Door;
use crate::launcher::{Launcher, OutputCap};
use crate::live::LiveSandbox;
use crate::rich::{LiveEvent, RichResult, Tap};
use crate::{deadline, ExecuteError, ExecutionError, LaunchPath, NetworkReport};
use std::os::fd::OwnedFd;

/// Bytes kept of the interpreter's own stdout and stderr (not a cell's: the drivers capture
/// those per cell); the tail of stderr explains a crash.
const STREAM_CAP: u64 = 64 * 1024;
/// How long an interpreter that closed its socket may take to exit by itself.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// The interpreter of one language in a session, or why the last one is gone.
#[derive(Default)]
pub(crate) struct Slot {
    pub live: Option<Interpreter>,
    /// Set when an interpreter timed out or died: the next one says state was lost.
    pub lost: Option<String>,
}

pub(crate) struct Interpreter {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    host: Host,
    next_id: u64,
    /// How its sandbox was started: cold, or forked by a zygote.
    pub path: LaunchPath,
    /// Its egress door, when its session has a policy; closed with it.
    door: Option<Door>,
}

/// Where an interpreter runs: a sandbox of its own, or a process of its session's box.
enum Host {
    Sandbox(LiveSandbox),
    Boxed(BoxedProcess),
}

impl Host {
    /// Cancelled to kill it.
    fn cancel(&self) -> &CancellationToken {
        match self {
            Host::Sandbox(live) => &live.cancel,
            Host::Boxed(process) => &process.cancel,
        }
    }

    async fn kill(&mut self) -> Option<RunOutput> {
        match self {
            Host::Sandbox(live) => live.kill().await,
            Host::Boxed(process) => process.kill().await,
        }
    }

    async fn report(&mut self, wait: Duration) -> Option<RunOutput> {
        match self {
            Host::Sandbox(live) => live.report(wait).await,
            Host::Boxed(process) => process.report(wait).await,
        }
    }
}

/// What a driver answers for one cell.
#[derive(Debug, Deserialize)]
pub(crate) struct CellReply {
    pub id: u64,
    #[serde(default)]
    pub stdout: String,
    #[serde(default)]
    pub stderr: String,
    #[serde(default)]
    pub stdout_truncated: bool,
    #[serde(default)]
    pub stderr_truncated: bool,
    #[serde(default)]
    pub display: Option<String>,
    #[serde(default)]
    pub value: Option<crate::ExactJson>,
    #[serde(default)]
    pub error: Option<ExecutionError>,
    #[serde(default)]
    pub cpu_ms: f64,
    #[serde(default)]
    pub peak_kb: u64,
    /// The interpreter's count of the cells it ran, this one included.
    #[serde(default)]
    pub execution_count: Option<u64>,
    /// What the cell displayed, from the event lines before the answer.
    #[serde(skip)]
    pub results: Vec<RichResult>,
}

/// A line a driver sends while a cell runs, before its answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum EventLine {
    Stdout { text: String },
    Stderr { text: String },
    Result(RichResult),
}

/// What event lines start with (drivers write the tag first); an answer starts with `{"id"`.
const EVENT_PREFIX: &[u8] = b"{\"event\"";

pub(crate) enum CallOutcome {
    Reply(CellReply),
    /// No answer in time: the interpreter was killed.
    TimedOut,
    /// The interpreter ended (or broke the protocol) and was killed; with why and what its
    /// sandbox reported.
    Died(String, Option<RunOutput>),
}

/// Limits of one call.
pub(crate) struct CallLimits {
    pub timeout: Duration,
    pub max_output: u64,
    pub max_value: u64,
}

/// The event lines of one call: passed on to the tap, results kept, their bytes counted.
struct Events<'a> {
    tap: Option<&'a Tap>,
    results: Vec<RichResult>,
    /// Bytes of event lines still allowed in this call.
    budget: u64,
}

impl Events<'_> {
    fn take(&mut self, raw: &[u8]) -> Result<(), String> {
        self.budget = self
            .budget
            .checked_sub(raw.len() as u64)
            .ok_or("the interpreter's event lines for one cell are over their cap")?;
        let event = serde_json::from_slice::<EventLine>(raw)
            .map_err(|e| format!("the interpreter's event line is unreadable: {e}"))?;
        let live = match event {
            EventLine::Stdout { text } => LiveEvent::Stdout(text),
            EventLine::Stderr { text } => LiveEvent::Stderr(text),
            EventLine::Result(result) => {
                self.results.push(result.clone());
                LiveEvent::Result(result)
            }
        };
        if let Some(tap) = self.tap {
            tap.send(live);
        }
        Ok(())
    }
}

impl Interpreter {
    /// Starts the sandbox of `spec` with one end of a fresh socket pair; `cancel` (a child of
    /// the session's token) kills it.
    /// `door`: its egress door and the socket that goes to its launcher.
    pub fn start(
        launcher: Arc<dyn Launcher>,
        spec: SandboxSpec,
        cancel: CancellationToken,
        door: Option<(Door, OwnedFd)>,
    ) -> Result<Interpreter, ExecuteError> {
        let (door, socket) = door.unzip();
        let (live, session_socket) = LiveSandbox::start_handing(
            launcher,
            spec,
            OutputCap::Fixed(STREAM_CAP),
            cancel,
            socket.into_iter().collect(),
        )
        .map_err(|e| ExecuteError::io("session socket", &e))?;
        Ok(Interpreter::serving(live, session_socket, LaunchPath::Cold).with_door(door))
    }

    /// The interpreter of a sandbox started elsewhere (forked), serving on `socket`.
    pub fn serving(live: LiveSandbox, socket: UnixStream, path: LaunchPath) -> Interpreter {
        let (reader, writer) = socket.into_split();
        Interpreter { reader: BufReader::new(reader), writer, host: Host::Sandbox(live), next_id: 1, path, door: None }
    }

    /// The interpreter that is `process` of its session's box, serving on `socket`.
    pub fn boxed(process: BoxedProcess, socket: UnixStream) -> Interpreter {
        let (reader, writer) = socket.into_split();
        let host = Host::Boxed(process);
        Interpreter { reader: BufReader::new(reader), writer, host, next_id: 1, path: LaunchPath::Boxed, door: None }
    }

    /// The interpreter with `door` (its egress door), closed with it.
    pub fn with_door(mut self, door: Option<Door>) -> Interpreter {
        self.door = door;
        self
    }

    /// Where its door's list of attempts is now (see [`Interpreter::network_since`]).
    pub fn network_mark(&self) -> usize {
        self.door.as_ref().map_or(0, Door::mark)
    }

    /// What went through its door since `mark`, when it has one.
    pub fn network_since(&self, mark: usize) -> Option<NetworkReport> {
        self.door.as_ref().map(|door| door.since(mark))
    }

    /// Sends `code` and waits for the answer, passing what the cell shows meanwhile to `tap`;
    /// on a timeout, a death or a broken answer the interpreter is killed before this returns.
    pub async fn call(&mut self, code: &str, limits: &CallLimits, tap: Option<&Tap>) -> CallOutcome {
        let id = self.next_id;
        self.next_id += 1;
        let request = serde_json::json!({
            "id": id,
            "code": code,
            "max_output": limits.max_output,
            "max_value": limits.max_value,
            // Output chunks are sent as they come only when somebody listens.
            "live": tap.is_some(),
        });
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        // What one answer may take: both streams (JSON escapes take up to 6 bytes a byte),
        // the value and the display text, and room for the rest.
        let cap = 6 * (2 * limits.max_output + limits.max_value) + (1 << 20);
        let kill = self.host.cancel().clone();
        let (writer, reader) = (&mut self.writer, &mut self.reader);
        let mut events = Events { tap, results: Vec::new(), budget: cap };
        let exchange = async {
            writer.write_all(&line).await.map_err(|e| format!("cannot send the cell: {e}"))?;
            loop {
                match read_line(reader, cap).await? {
                    Some(raw) if raw.starts_with(EVENT_PREFIX) => events.take(&raw)?,
                    other => return Ok(other),
                }
            }
        };
        // The session's end cancels the sandbox's token too: the answer then breaks off, and
        // the call reports the interpreter gone.
        let (answer, ended) = deadline::race(exchange, limits.timeout, &kill, &kill).await;
        if ended == deadline::Ended::TimedOut {
            self.kill().await;
            return CallOutcome::TimedOut;
        }
        match answer {
            Ok(Some(raw)) => match serde_json::from_slice::<CellReply>(&raw) {
                Ok(mut reply) if reply.id == id => {
                    reply.results = events.results;
                    CallOutcome::Reply(reply)
                }
                Ok(reply) => {
                    let why = format!("the interpreter answered request {} instead of {id}", reply.id);
                    CallOutcome::Died(why, self.kill().await)
                }
                Err(e) => CallOutcome::Died(format!("the interpreter's answer is unreadable: {e}"), self.kill().await),
            },
            Ok(None) => CallOutcome::Died("the interpreter exited".into(), self.ended().await),
            Err(why) => CallOutcome::Died(why, self.kill().await),
        }
    }

    /// Kills the sandbox and waits (a bounded time) for what it reported.
    pub async fn kill(&mut self) -> Option<RunOutput> {
        self.host.kill().await
    }

    /// The interpreter closed its socket, so its sandbox is ending: its own report says how
    /// (an exit code, a signal). Killed if it lingers.
    async fn ended(&mut self) -> Option<RunOutput> {
        match self.host.report(EXIT_WAIT).await {
            Some(output) => {
                self.host.cancel().cancel();
                Some(output)
            }
            None => self.host.kill().await,
        }
    }
}

impl Drop for Interpreter {
    /// An interpreter nobody holds any more must not live on until the lifetime cap.
    fn drop(&mut self) {
        self.host.cancel().cancel();
    }
}

/// One line (without its newline), at most `cap` bytes; `None` at end of file.
async fn read_line(reader: &mut BufReader<OwnedReadHalf>, cap: u64) -> Result<Option<Vec<u8>>, String> {
    let mut raw = Vec::new();
    let n = (&mut *reader)
        .take(cap + 1)
        .read_until(b'\n', &mut raw)
        .await
        .map_err(|e| format!("cannot read the interpreter's answer: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    if raw.last() != Some(&b'\n') {
        if raw.len() as u64 > cap {
            return Err(format!("the interpreter's answer is over {cap} bytes"));
        }
        return Ok(None);
    }
    raw.pop();
    Ok(Some(raw))
}
