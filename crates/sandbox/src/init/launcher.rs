//! The launcher: the daemon's direct child. It reads the spec, enters the namespaces, forks
//! the sandbox's pid 1, enforces the wall-clock limit, and reports back.
//!
//! Protocol on standard input (a socket): the daemon writes the spec as JSON and shuts down
//! its writing half; the launcher answers with one [`SandboxReport`] as JSON and exits.
//! Standard output and error are the program's own streams, passed down untouched.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::{pipe2, ForkResult, Pid};

use super::egress::Door;
use super::error::{SetupError, SetupResult, Stage};
use super::fds::{memfd_with, ProgramFds};
use super::pid1::{Pid1Report, Usage};
use super::program::{Resumed, Start};
use super::{pid1, sys, userns};
use crate::spec::{Outcome, SandboxReport, SandboxSpec};

/// Entry point of the init child. Never returns.
pub fn main() -> ! {
    let control = match sys::take_stdin() {
        Ok(fd) => fd,
        Err(_) => sys::exit_now(2),
    };
    let mut control = std::fs::File::from(control);
    let report = match read_spec(&mut control) {
        Ok((spec, handed)) => match launch(&spec, handed, control.as_fd(), Start::Exec) {
            Ok(Launched::Report(report)) => report,
            // An executed program never comes back here.
            Ok(Launched::Program(_)) => sys::exit_now(127),
            Err(e) => failed(e),
        },
        Err(e) => failed(e),
    };
    report_to(&mut control, &report);
    sys::exit_now(0)
}

/// What [`launch`] comes back with: in the launcher, the run's report; in the program of a
/// resumed sandbox, the program itself.
pub enum Launched {
    Report(SandboxReport),
    Program(Resumed),
}

pub fn report_to(control: &mut std::fs::File, report: &SandboxReport) {
    let _ = control.write_all(&serde_json::to_vec(report).unwrap_or_default());
    // The report is whole: the daemon need not wait for this process's end to know it.
    let _ = nix::sys::socket::shutdown(control.as_raw_fd(), nix::sys::socket::Shutdown::Write);
}

/// The spec, and the descriptors the daemon may have sent with its first byte.
pub fn read_spec(control: &mut std::fs::File) -> SetupResult<(SandboxSpec, Vec<OwnedFd>)> {
    let (mut raw, handoff) = crate::handoff::receive(control.as_fd()).stage(|| "read spec".into())?;
    control.read_to_end(&mut raw).stage(|| "read spec".into())?;
    let spec = serde_json::from_slice(&raw).stage(|| "parse spec".into())?;
    Ok((spec, handoff))
}

pub fn failed(e: SetupError) -> SandboxReport {
    SandboxReport {
        outcome: Outcome::SetupFailed { stage: e.stage, message: e.message },
        wall_time_ms: 0.0,
        cpu_time_ms: 0.0,
        peak_memory_kb: 0,
        channel: None,
        channel_truncated: false,
        full_filesystems: Vec::new(),
    }
}

/// Builds the sandbox for `spec` and waits for its end. `handed` are the descriptors that
/// came with the spec: the session socket first when the spec has one, then the mount of a
/// [`Mount::Handed`](crate::Mount::Handed) step.
pub fn launch(spec: &SandboxSpec, handed: Vec<OwnedFd>, control: BorrowedFd<'_>, how: Start) -> SetupResult<Launched> {
    // Out of the daemon's (or the zygote's) session and process group: a pid namespace does
    // not separate process groups, so a signal to theirs would reach this sandbox and the
    // other way round. The program takes a session of its own as well (`program::place`).
    nix::unistd::setsid().stage(|| "new session".into())?;
    let Handed { claim, session, mount, egress } = take_handed(spec, handed)?;
    let stdin = memfd_with("stdin", spec.stdin.as_bytes())?;
    let channel = match spec.channel_fd {
        Some(at) => Some((memfd_with("channel", b"")?, at)),
        None => None,
    };
    let channel_copy = match &channel {
        Some((fd, _)) => Some(fd.try_clone().stage(|| "channel".into())?),
        None => None,
    };
    userns::enter(&spec.identity)?;
    if how == Start::Resume {
        // A zygote's fork dies with the zygote (its only thread that forks), at once: a
        // sandbox it built ahead must not take a run while the zygote's sandbox is coming
        // down. (Set after the change of ids above, which clears it.)
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).stage(|| "set parent death signal".into())?;
    }
    // In the run's network namespace, before anything of the run exists to race for the port.
    let door = network(spec, egress)?;
    let (report_read, report_write) = pipe2(OFlag::O_CLOEXEC).stage(|| "report pipe".into())?;
    let started = Instant::now();
    let pid = match sys::fork().stage(|| "fork sandbox init".into())? {
        ForkResult::Child => {
            drop(report_read);
            drop(channel_copy);
            drop(door);
            let fds = ProgramFds { stdin, channel, session, claim };
            let resumed = pid1::run(spec, fds, mount, report_write, how);
            return Ok(Launched::Program(resumed));
        }
        ForkResult::Parent { child } => child,
    };
    drop(report_write);
    drop(stdin);
    drop(channel);
    // Only the program holds the session and claim sockets: when it dies, the daemon reads
    // end-of-file.
    drop(session);
    drop(claim);
    drop(mount);
    // The program's output pipes must reach end-of-file when the sandbox's last process
    // exits, not when the launcher does.
    let null = std::fs::File::open("/dev/null").stage(|| "open /dev/null".into())?;
    nix::unistd::dup2_stdout(&null).stage(|| "release stdout".into())?;
    nix::unistd::dup2_stderr(&null).stage(|| "release stderr".into())?;

    let limit = Duration::from_millis(spec.limits.wall_time_ms);
    let timed_out = wait_until(pid, started + limit, control, (report_read.as_fd(), door.as_ref()))?;
    let wall_time_ms = started.elapsed().as_secs_f64() * 1000.0;
    let pid1 = pid1_report(report_read);
    let outcome = if timed_out { Outcome::TimedOut } else { pid1.outcome };
    let usage = Usage::children().max(pid1.usage);
    let (channel, channel_truncated) = match channel_copy {
        Some(fd) => read_channel(fd, spec.limits.channel_bytes)?,
        None => (None, false),
    };
    Ok(Launched::Report(SandboxReport {
        outcome,
        wall_time_ms,
        cpu_time_ms: usage.cpu_time_ms,
        peak_memory_kb: usage.peak_memory_kb,
        channel,
        channel_truncated,
        full_filesystems: pid1.full_filesystems,
    }))
}

/// The run's network namespace as its spec wants it: a box's loopback up (for the servers
/// its processes start), and the egress door when it has one.
fn network(spec: &SandboxSpec, egress: Option<OwnedFd>) -> SetupResult<Option<Door>> {
    if spec.agent {
        sys::loopback_up().stage(|| "bring up loopback".into())?;
    }
    match (spec.egress, egress) {
        (Some(at), Some(fd)) => Ok(Some(Door::open(at.port, fd)?)),
        _ => Ok(None),
    }
}

/// The descriptors that came with the spec, each where the spec says it goes.
struct Handed {
    claim: Option<OwnedFd>,
    session: Option<(OwnedFd, i32)>,
    mount: Option<OwnedFd>,
    egress: Option<OwnedFd>,
}

/// Sorts out `handed`: the claim socket first when the spec awaits a claim, the session
/// socket when the spec has one, then the mount of a [`Mount::Handed`](crate::Mount::Handed)
/// step, then the egress door's socket. Fails closed: a session program without its channel,
/// a door without its socket, or a sandbox awaiting a claim without the socket it comes on
/// must not run.
fn take_handed(spec: &SandboxSpec, handed: Vec<OwnedFd>) -> SetupResult<Handed> {
    let mut handed = handed.into_iter();
    let claim = match spec.awaits_claim {
        true => Some(handed.next().ok_or_else(|| SetupError::new("claim socket", "none came with the spec"))?),
        false => None,
    };
    let session = match (spec.session_fd, spec.session_fd.and_then(|_| handed.next())) {
        (Some(at), Some(fd)) if Some(at) != spec.channel_fd => Some((fd, at)),
        (Some(_), Some(_)) => return Err(SetupError::new("session socket", "same descriptor as the channel")),
        (Some(_), None) => return Err(SetupError::new("session socket", "none came with the spec")),
        (None, _) => None,
    };
    let mount = spec.mounts.iter().any(|m| matches!(m, crate::Mount::Handed { .. })).then(|| handed.next()).flatten();
    let egress = match spec.egress {
        Some(_) => Some(handed.next().ok_or_else(|| SetupError::new("egress door", "no socket came with the spec"))?),
        None => None,
    };
    Ok(Handed { claim, session, mount, egress })
}

/// Waits for the end of pid 1's report (it writes it once every other process of the run is
/// reaped, then closes it: nothing of the run is left) until `deadline`; past it, kills pid
/// 1, which takes the whole pid namespace (and so every process of the run, forked,
/// double-forked or not) down with it. The same happens at once if the daemon goes away:
/// its end of the control socket hangs up. A pid 1 that was killed is reaped before the
/// report is made; one that reported is reaped if it is gone already, else its own end
/// (its mount namespace torn down) is left to whoever adopts it.
fn wait_until(pid: Pid, deadline: Instant, control: BorrowedFd<'_>, (report, door): Watched<'_>) -> SetupResult<bool> {
    let mut timed_out = false;
    let reported = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
        // POLLHUP needs no asking; the daemon's half-close after the spec is not a hang-up.
        let mut fds = vec![PollFd::new(report, PollFlags::empty()), PollFd::new(control, PollFlags::empty())];
        if let Some(door) = door {
            fds.push(PollFd::new(door.listener(), PollFlags::POLLIN));
        }
        let hung_up = |fd: &PollFd<'_>| {
            fd.revents().is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL))
        };
        match poll(&mut fds, ms) {
            Ok(0) => {
                timed_out = true;
                let _ = kill(pid, Signal::SIGKILL);
                break false;
            }
            Ok(_) if hung_up(&fds[1]) => {
                let _ = kill(pid, Signal::SIGKILL);
                break false;
            }
            Ok(_) if hung_up(&fds[0]) => break true,
            // The door's listener is ready: hand its connections over and wait on.
            Ok(_) => match door {
                Some(door) => door.pass(),
                None => continue,
            },
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SetupError::new("poll", e)),
        }
    };
    let flags = reported.then_some(WaitPidFlag::WNOHANG);
    loop {
        match waitpid(pid, flags) {
            Ok(_) => return Ok(timed_out),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(SetupError::new("wait for sandbox init", e)),
        }
    }
}

/// What the launcher watches besides pid 1 and the control socket: the read end of pid 1's
/// report, and the egress door's listener if the run has one.
type Watched<'a> = (BorrowedFd<'a>, Option<&'a Door>);

/// Pid 1 reports every failure to build the sandbox; one that ended without a report was
/// killed (from outside, or by the memory limit), perhaps with the program running: the
/// sandbox was lost, which is not a sandbox that could not be built.
fn pid1_report(report: OwnedFd) -> Pid1Report {
    let mut raw = Vec::new();
    let _ = std::fs::File::from(report).read_to_end(&mut raw);
    let lost = Pid1Report { outcome: Outcome::Lost, full_filesystems: Vec::new(), usage: Default::default() };
    serde_json::from_slice(&raw).unwrap_or(lost)
}

fn read_channel(fd: OwnedFd, limit: u64) -> SetupResult<(Option<String>, bool)> {
    let mut file = std::fs::File::from(fd);
    std::io::Seek::rewind(&mut file).stage(|| "rewind channel".into())?;
    let mut raw = Vec::new();
    (&mut file).take(limit + 1).read_to_end(&mut raw).stage(|| "read channel".into())?;
    let truncated = raw.len() as u64 > limit;
    raw.truncate(limit as usize);
    Ok((Some(String::from_utf8_lossy(&raw).into_owned()), truncated))
}
