//! Starting one process of a box: its stdio as pipes or a terminal, a process group (or, on
//! a terminal, a session) of its own, and the channel it asked for.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::pty::{openpty, Winsize};

use super::protocol::{ProcessSpec, TerminalSize};

/// A process just started, with the agent's ends of its stdio.
pub struct Spawned {
    pub pid: i32,
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// The terminal's master side: its input and its output.
    pub pty: Option<OwnedFd>,
    /// The daemon's end of the process's channel.
    pub channel: Option<OwnedFd>,
}

fn winsize(size: TerminalSize) -> Winsize {
    Winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 }
}

/// Resizes the terminal whose master side is `master`.
pub fn resize(master: &OwnedFd, size: TerminalSize) -> std::io::Result<()> {
    // SAFETY: `master` is an open terminal descriptor this process owns, and the pointer is to
    // a live `Winsize` for the length of the call; TIOCSWINSZ only reads it.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &winsize(size) as *const Winsize) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Starts `spec`. Every descriptor of the agent is close-on-exec, so the process gets its
/// stdio and channel and nothing else.
pub fn spawn(spec: &ProcessSpec) -> std::io::Result<Spawned> {
    let program = spec.argv.first().ok_or_else(|| std::io::Error::other("empty argv"))?;
    if !std::path::Path::new(&spec.cwd).is_dir() {
        return Err(std::io::Error::other(format!("cwd '{}' does not exist", spec.cwd)));
    }
    let mut command = Command::new(program);
    command.args(&spec.argv[1..]).env_clear().envs(spec.env.iter().cloned()).current_dir(&spec.cwd);
    // As a shell sets it: `pwd` then shows the directory by the name it was asked by.
    command.env("PWD", &spec.cwd);
    let channel = match spec.channel_fd {
        Some(at) => Some((UnixStream::pair()?, at)),
        None => None,
    };
    let channel_raw = channel.as_ref().map(|((_, theirs), at)| (theirs.as_raw_fd(), *at));
    let spawned = match spec.pty {
        Some(size) => spawn_on_terminal(command, size, channel_raw)?,
        None => spawn_with_pipes(command, spec.stdin, channel_raw)?,
    };
    let channel = channel.map(|((ours, _theirs), _)| OwnedFd::from(ours));
    Ok(Spawned { channel, ..spawned })
}

fn spawn_with_pipes(mut command: Command, stdin: bool, channel: Option<(RawFd, i32)>) -> std::io::Result<Spawned> {
    command.stdin(if stdin { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // calls (setpgid, dup2, fcntl) on descriptors that exist in the child.
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0))?;
            place_channel(channel)
        });
    }
    let mut child = command.spawn()?;
    let fd = |f: Option<OwnedFd>| f.map(nonblocking).transpose();
    Ok(Spawned {
        pid: child.id() as i32,
        stdin: fd(child.stdin.take().map(OwnedFd::from))?,
        stdout: fd(child.stdout.take().map(OwnedFd::from))?,
        stderr: fd(child.stderr.take().map(OwnedFd::from))?,
        pty: None,
        channel: None,
    })
}

fn spawn_on_terminal(
    mut command: Command,
    size: TerminalSize,
    channel: Option<(RawFd, i32)>,
) -> std::io::Result<Spawned> {
    let pty = openpty(Some(&winsize(size)), None)?;
    let (master, slave) = (pty.master, pty.slave);
    fcntl(&master, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC))?;
    let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
    command.stdin(stdio(&slave)?).stdout(stdio(&slave)?).stderr(stdio(&slave)?);
    // SAFETY: the closure runs in the forked child before exec and only makes async-signal-safe
    // calls (setsid, ioctl, dup2, fcntl) on descriptors that exist in the child.
    unsafe {
        command.pre_exec(move || {
            nix::unistd::setsid()?;
            // The terminal on stdin becomes the new session's controlling terminal.
            if libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            place_channel(channel)
        });
    }
    let child = command.spawn()?;
    drop(slave);
    let master = nonblocking(master)?;
    Ok(Spawned { pid: child.id() as i32, stdin: None, stdout: None, stderr: None, pty: Some(master), channel: None })
}

/// In the child: its end of the channel at the number it asked for, open across exec.
fn place_channel(channel: Option<(RawFd, i32)>) -> std::io::Result<()> {
    let Some((fd, at)) = channel else { return Ok(()) };
    if fd == at {
        // SAFETY: `fd` is open in the child; clearing close-on-exec changes only its flags.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
    // SAFETY: both numbers are valid in the child; dup2 replaces `at` with a copy of `fd`
    // (without close-on-exec), which is what the process is to find there.
    } else if unsafe { libc::dup2(fd, at) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `fd`, set non-blocking: the agent never waits on one process.
pub fn nonblocking(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(fd)
}
