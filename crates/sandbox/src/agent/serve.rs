//! The agent's loop, inside the box: one thread polling the daemon's socket, every process's
//! output and its own `SIGCHLD`s. It never waits on one process: a process that does not read
//! its stdin keeps what is pending for it, one that writes fast is read in bounded chunks.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::protocol::{self, Event, ProcessSpec, Request, Stream};
use super::spawn::{self, Spawned};

/// Bytes read from one output at a time.
const CHUNK: usize = 64 * 1024;
/// Bytes of stdin kept for a process that does not read it yet; past it, input is refused.
const MAX_PENDING_INPUT: usize = 4 << 20;
/// How long a connection to a port of the box may take.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// One process the agent started, until its end is reported and its outputs are closed.
struct Process {
    outputs: Vec<(OwnedFd, Stream)>,
    stdin: Option<OwnedFd>,
    pty: Option<OwnedFd>,
    pending: Vec<u8>,
    /// Its end was reported: what it (or what it left behind) still writes is read and dropped.
    ended: bool,
}

pub(super) struct Agent {
    control: std::fs::File,
    buffer: Vec<u8>,
    processes: BTreeMap<i32, Process>,
    children: SignalFd,
}

/// Serves the daemon on `control` until it hangs up (0) or the socket breaks (1).
pub fn serve(control: OwnedFd) -> i32 {
    match Agent::new(control) {
        Ok(mut agent) => agent.run(),
        Err(_) => 1,
    }
}

impl Agent {
    fn new(control: OwnedFd) -> std::io::Result<Agent> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.thread_block()?;
        let children = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        let mut control = std::fs::File::from(control);
        control.write_all(b"ready\n")?;
        Ok(Agent { control, buffer: Vec::new(), processes: BTreeMap::new(), children })
    }

    /// Runs until the daemon hangs up (0) or the socket breaks (1).
    fn run(&mut self) -> i32 {
        loop {
            let ready = match self.wait() {
                Ok(ready) => ready,
                Err(_) => return 1,
            };
            if ready.control && !self.read_control() {
                return 0;
            }
            if ready.children {
                self.reap();
            }
            for (pid, fd) in ready.outputs {
                self.read_output(pid, fd);
            }
            for pid in ready.writable {
                self.flush_input(pid);
            }
        }
    }

    fn wait(&self) -> nix::Result<Ready> {
        let mut fds = vec![
            PollFd::new(self.control.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.children.as_fd(), PollFlags::POLLIN),
        ];
        let mut owners = Vec::new();
        for (pid, process) in &self.processes {
            for (fd, _) in &process.outputs {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                owners.push((*pid, fd.as_raw_fd(), false));
            }
            if let Some(fd) = process.pty.as_ref() {
                let mut flags = PollFlags::POLLIN;
                if !process.pending.is_empty() {
                    flags |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(fd.as_fd(), flags));
                owners.push((*pid, fd.as_raw_fd(), !process.pending.is_empty()));
            }
            if let (Some(fd), false) = (process.stdin.as_ref(), process.pending.is_empty()) {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
                owners.push((*pid, -1, true));
            }
        }
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
        let happened = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        let mut ready = Ready { control: happened(&fds[0]), children: happened(&fds[1]), ..Ready::default() };
        for ((pid, raw, writes), fd) in owners.into_iter().zip(&fds[2..]) {
            let revents = fd.revents().unwrap_or(PollFlags::empty());
            if raw >= 0 && revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                ready.outputs.push((pid, raw));
            }
            if writes && revents.intersects(PollFlags::POLLOUT | PollFlags::POLLERR | PollFlags::POLLHUP) {
                ready.writable.push(pid);
            }
        }
        Ok(ready)
    }

    /// Reads what the daemon sent and acts on each whole request; `false` once it hung up.
    fn read_control(&mut self) -> bool {
        let mut chunk = vec![0u8; CHUNK];
        match self.control.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return true,
            Err(_) => return false,
        }
        loop {
            match protocol::take_frame::<Request>(&mut self.buffer) {
                Ok(Some((request, data))) => self.act(request, data),
                Ok(None) => return true,
                Err(protocol::FrameError::Unreadable(error)) => self.send(&Event::Unreadable { error }, &[]),
                // The stream cannot be followed past a frame that is too large.
                Err(_) => return false,
            }
        }
    }

    fn act(&mut self, request: Request, data: Vec<u8>) {
        match request {
            Request::Start { id, spec } => self.start(id, &spec),
            Request::Input { pid } => self.input(pid, data),
            Request::CloseInput { pid } => self.close_input(pid),
            Request::Signal { pid, signal } => {
                if let Ok(signal) = Signal::try_from(signal) {
                    // The whole group: what the process started goes with it.
                    if nix::sys::signal::killpg(Pid::from_raw(pid), signal).is_err() {
                        let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
                    }
                }
            }
            Request::Resize { pid, size } => {
                if let Some(master) = self.processes.get(&pid).and_then(|p| p.pty.as_ref()) {
                    let _ = spawn::resize(master, size);
                }
            }
            Request::Connect { id, port } => self.connect(id, port),
        }
    }

    fn start(&mut self, id: u64, spec: &ProcessSpec) {
        let Spawned { pid, stdin, stdout, stderr, pty, channel } = match spawn::spawn(spec) {
            Ok(spawned) => spawned,
            Err(e) => return self.send(&Event::Refused { id, error: e.to_string() }, &[]),
        };
        let outputs = [stdout.map(|fd| (fd, Stream::Stdout)), stderr.map(|fd| (fd, Stream::Stderr))];
        let process =
            Process { outputs: outputs.into_iter().flatten().collect(), stdin, pty, pending: Vec::new(), ended: false };
        self.processes.insert(pid, process);
        let event = Event::Started { id, pid, channel: channel.is_some() };
        match channel {
            Some(fd) => self.send_with_fd(&event, &fd),
            None => self.send(&event, &[]),
        }
    }

    fn input(&mut self, pid: i32, data: Vec<u8>) {
        let Some(process) = self.processes.get_mut(&pid) else { return };
        if process.ended || process.pending.len() + data.len() > MAX_PENDING_INPUT {
            return;
        }
        process.pending.extend(data);
        self.flush_input(pid);
    }

    /// Writes what is pending for `pid`'s stdin, as much as it takes now.
    fn flush_input(&mut self, pid: i32) {
        let Some(process) = self.processes.get_mut(&pid) else { return };
        let Some(fd) = process.stdin.as_ref().or(process.pty.as_ref()) else {
            process.pending.clear();
            return;
        };
        while !process.pending.is_empty() {
            match nix::unistd::write(fd, &process.pending) {
                Ok(n) => drop(process.pending.drain(..n)),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => return,
                Err(_) => {
                    // It closed its stdin: what is left can never be read.
                    process.pending.clear();
                    process.stdin = None;
                    return;
                }
            }
        }
    }

    fn close_input(&mut self, pid: i32) {
        let Some(process) = self.processes.get_mut(&pid) else { return };
        if process.pty.is_some() {
            // A terminal's end of input is ^D at the start of a line.
            process.pending.push(4);
            self.flush_input(pid);
        } else {
            self.flush_input(pid);
            if let Some(process) = self.processes.get_mut(&pid) {
                process.pending.clear();
                process.stdin = None;
            }
        }
    }

    fn connect(&mut self, id: u64, port: u16) {
        let addresses = [SocketAddr::from((Ipv4Addr::LOCALHOST, port)), SocketAddr::from((Ipv6Addr::LOCALHOST, port))];
        let mut last = String::from("no address");
        for address in addresses {
            match TcpStream::connect_timeout(&address, CONNECT_WAIT) {
                Ok(stream) => return self.send_with_fd(&Event::Connected { id }, &OwnedFd::from(stream)),
                Err(e) => last = e.to_string(),
            }
        }
        self.send(&Event::Refused { id, error: format!("nothing listens on port {port} of the box: {last}") }, &[]);
    }

    /// Reaps every child that ended (orphans of the box come to pid 1, not here) and reports
    /// the end of each process it started, after the output it wrote before.
    fn reap(&mut self) {
        while self.children.read_signal().ok().flatten().is_some() {}
        loop {
            let (pid, code, signal) = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid.as_raw(), Some(code), None),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid.as_raw(), None, Some(signal as i32)),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            let Some(process) = self.processes.get(&pid) else { continue };
            let outputs = process.outputs.iter().map(|(fd, _)| fd.as_raw_fd());
            let fds: Vec<i32> = outputs.chain(process.pty.as_ref().map(|fd| fd.as_raw_fd())).collect();
            for fd in fds {
                self.read_output(pid, fd);
            }
            self.send(&Event::Exited { pid, code, signal }, &[]);
            if let Some(process) = self.processes.get_mut(&pid) {
                process.ended = true;
                process.stdin = None;
                process.pending.clear();
            }
            self.forget_if_done(pid);
        }
    }

    /// Reads what `pid`'s output `raw` has now (all of it, in bounded chunks).
    fn read_output(&mut self, pid: i32, raw: i32) {
        let mut chunk = vec![0u8; CHUNK];
        loop {
            let Some(process) = self.processes.get_mut(&pid) else { return };
            let (fd, stream) = match process.outputs.iter().find(|(fd, _)| fd.as_raw_fd() == raw) {
                Some((fd, stream)) => (fd, *stream),
                None => match process.pty.as_ref().filter(|fd| fd.as_raw_fd() == raw) {
                    Some(fd) => (fd, Stream::Pty),
                    None => return,
                },
            };
            match nix::unistd::read(fd, &mut chunk) {
                Ok(0) | Err(Errno::EIO) => {
                    // End of file (a terminal says EIO once its last writer is gone).
                    process.outputs.retain(|(fd, _)| fd.as_raw_fd() != raw);
                    if stream == Stream::Pty {
                        process.pty = None;
                    }
                    self.forget_if_done(pid);
                    return;
                }
                Ok(n) => {
                    if !process.ended {
                        let event = Event::Output { pid, stream };
                        self.send(&event, &chunk[..n]);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            }
        }
    }

    fn forget_if_done(&mut self, pid: i32) {
        if let Some(process) = self.processes.get(&pid) {
            if process.ended && process.outputs.is_empty() && process.pty.is_none() {
                self.processes.remove(&pid);
            }
        }
    }

    fn send(&mut self, event: &Event, data: &[u8]) {
        let _ = self.control.write_all(&protocol::frame(event, data));
    }

    fn send_with_fd(&mut self, event: &Event, fd: &OwnedFd) {
        let bytes = protocol::frame(event, &[]);
        match crate::handoff::send(self.control.as_fd(), &bytes[..1], &[fd.as_fd()]) {
            Ok(_) => {
                let _ = self.control.write_all(&bytes[1..]);
            }
            Err(_) => {
                let _ = self.control.write_all(&bytes);
            }
        }
    }
}

#[derive(Default)]
struct Ready {
    control: bool,
    children: bool,
    outputs: Vec<(i32, i32)>,
    writable: Vec<i32>,
}
