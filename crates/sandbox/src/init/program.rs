//! Starts the user's program (the sandbox's pid 2) and reaps every process of the sandbox.

use std::borrow::Cow;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, execve, pipe2, ForkResult, Pid};

use super::error::{SetupError, SetupResult, Stage};
use super::fds::ProgramFds;
use super::{claim, confine, privileges, rlimit, sys};
use crate::spec::{Outcome, SandboxSpec};

/// How the program starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `execve` of the spec's argv: a fresh executable.
    Exec,
    /// The forked process itself goes on as the program (a zygote's fork): it returns from
    /// the launch with everything in place, to be confined by [`Resumed::confine`].
    Resume,
}

/// Held only by the program of a resumed sandbox: its descriptors, directory, limits and
/// privileges are the run's, its confinement is still to come. In a sandbox built ahead of
/// its run, all of that waits for the run's claim ([`Resumed::take_claim`]).
pub struct Resumed {
    confinement: crate::Confinement,
    /// Descriptors from here on are not the program's.
    keep_below: i32,
    /// Closed once the program is confined; a message on it means it never ran.
    errors: OwnedFd,
    /// The sandbox's spec and the program's descriptors while it waits for its claim.
    waiting: Option<Box<(SandboxSpec, ProgramFds)>>,
}

impl Resumed {
    /// Whether it still waits for the claim of its run.
    pub fn awaits_claim(&self) -> bool {
        self.waiting.is_some()
    }

    /// Waits for the run's claim and puts the run in place: its descriptors, directory,
    /// limits and privileges (see [`super::claim`]). Never returns when that fails.
    pub fn take_claim(self) -> Resumed {
        let Resumed { errors, waiting, .. } = self;
        let Some(waited) = waiting else { return Resumed { errors, waiting: None, ..self } };
        let (spec, fds) = *waited;
        let placed = claimed(&spec, fds).and_then(|(run, fds)| Ok((run.confinement.clone(), place(&run, fds)?)));
        match placed {
            Ok((confinement, keep_below)) => Resumed { confinement, keep_below, errors, waiting: None },
            Err(err) => fail(errors, err),
        }
    }

    /// Closes every descriptor the program does not own (the zygote's and the launcher's),
    /// then applies the confinement (a sandbox built ahead takes its claim first). Call it
    /// last, once nothing else holds a descriptor. Never returns when something fails: the
    /// program must not run unconfined.
    pub fn confine(self) {
        let this = self.take_claim();
        let errors = this.errors.as_raw_fd();
        let closed = sys::close_from(this.keep_below, errors);
        // An executed program may read its own /proc files; so may this one.
        let steps = closed
            .stage(|| "close descriptors".into())
            .and_then(|()| nix::sys::prctl::set_dumpable(true).stage(|| "set dumpable".into()))
            .and_then(|()| confine::apply(&this.confinement));
        if let Err(err) = steps {
            fail(this.errors, err)
        }
    }
}

/// Tells the program's pid 1 why it never ran, and ends it.
fn fail(errors: OwnedFd, err: SetupError) -> ! {
    let mut pipe = std::fs::File::from(errors);
    let _ = pipe.write_all(format!("{}\n{}", err.stage, err.message).as_bytes());
    sys::exit_now(127)
}

/// What [`start`] returns: the program's pid in its parent, or (resumed) the program itself.
pub enum Started {
    Parent(Pid, OwnedFd),
    Program(Resumed),
}

/// Forks the program; returns its pid and the read end of a pipe that carries an error
/// message if it failed before it started (the pipe closes on a successful exec, or once a
/// resumed program is confined).
pub fn start(spec: &SandboxSpec, fds: ProgramFds, how: Start) -> SetupResult<Started> {
    let (err_read, err_write) = pipe2(OFlag::O_CLOEXEC).stage(|| "exec error pipe".into())?;
    // Out of the way of the numbers the program's descriptors are placed at.
    let err_write = sys::rehome(err_write).stage(|| "exec error pipe".into())?;
    match sys::fork().stage(|| "fork program".into())? {
        ForkResult::Child => {
            drop(err_read);
            if how == Start::Resume && fds.claim.is_some() {
                // Its claim is taken once the resumed interpreter asks for it.
                let waiting = Some(Box::new((spec.clone(), fds)));
                let confinement = Default::default();
                return Ok(Started::Program(Resumed { confinement, keep_below: 0, errors: err_write, waiting }));
            }
            let err = match (claimed(spec, fds), how) {
                (Err(e), _) => e,
                (Ok((spec, fds)), Start::Exec) => exec(&spec, fds),
                (Ok((spec, fds)), Start::Resume) => match place(&spec, fds) {
                    Ok(keep_below) => {
                        let confinement = spec.confinement.clone();
                        let resumed = Resumed { confinement, keep_below, errors: err_write, waiting: None };
                        return Ok(Started::Program(resumed));
                    }
                    Err(e) => e,
                },
            };
            let mut pipe = std::fs::File::from(err_write);
            let _ = pipe.write_all(format!("{}\n{}", err.stage, err.message).as_bytes());
            sys::exit_now(127)
        }
        ForkResult::Parent { child } => Ok(Started::Parent(child, err_read)),
    }
}

/// The run's spec and descriptors: the sandbox's own, or those of the run that claims it
/// when it was built ahead of its run.
fn claimed(spec: &SandboxSpec, mut fds: ProgramFds) -> SetupResult<(Cow<'_, SandboxSpec>, ProgramFds)> {
    match fds.claim.take() {
        Some(socket) => claim::take(spec, fds, socket).map(|(spec, fds)| (Cow::Owned(spec), fds)),
        None => Ok((Cow::Borrowed(spec), fds)),
    }
}

/// What the program wrote to the exec error pipe, if anything: it never started.
pub fn exec_error(pipe: OwnedFd) -> Option<SetupError> {
    let mut text = String::new();
    std::fs::File::from(pipe).read_to_string(&mut text).ok()?;
    let (stage, message) = text.split_once('\n')?;
    Some(SetupError::new(stage, message))
}

/// Only returns on failure.
fn exec(spec: &SandboxSpec, fds: ProgramFds) -> SetupError {
    match prepare(spec, fds) {
        Ok((path, argv, env)) => {
            let err = execve(&path, &argv, &env).unwrap_err();
            SetupError::new(format!("exec {}", spec.argv[0]), err)
        }
        Err(e) => e,
    }
}

type Exec = (CString, Vec<CString>, Vec<CString>);

fn prepare(spec: &SandboxSpec, fds: ProgramFds) -> SetupResult<Exec> {
    let keep_below = place(spec, fds)?;
    // Only stdio, the channel and the session socket reach the program.
    sys::cloexec_from(3, keep_below).stage(|| "close descriptors".into())?;
    let cstr = |s: &str| CString::new(s).stage(|| "argument with NUL byte".into());
    let argv = spec.argv.iter().map(|a| cstr(a)).collect::<SetupResult<Vec<_>>>()?;
    let env = spec.env.iter().map(|(k, v)| cstr(&format!("{k}={v}"))).collect::<SetupResult<Vec<_>>>()?;
    let path = argv.first().cloned().ok_or_else(|| SetupError::new("exec", "empty argv"))?;
    // The program starts with every signal at its default, as it would from a shell.
    sys::default_signals().stage(|| "reset signals".into())?;
    // Last: from here on only what the confinement allows works, down to execve itself.
    confine::apply(&spec.confinement)?;
    Ok((path, argv, env))
}

/// Makes this process (a box's pid 1) the agent: its directory, limits, privileges and
/// confinement are a program's, every descriptor it has is close-on-exec (the processes it
/// starts get only what it gives them), and it keeps only the session socket it serves on.
pub fn confine_agent(spec: &SandboxSpec, fds: ProgramFds) -> SetupResult<OwnedFd> {
    let ProgramFds { stdin, session, .. } = fds;
    let (session, _) = session.ok_or_else(|| SetupError::new("box", "no session socket came with the spec"))?;
    // Out of the launcher's process group, as a program is.
    nix::unistd::setsid().stage(|| "new session".into())?;
    nix::unistd::dup2_stdin(&stdin).stage(|| "stdin".into())?;
    drop(stdin);
    sys::cloexec_from(3, 3).stage(|| "close descriptors".into())?;
    chdir(spec.cwd.as_str()).stage(|| format!("chdir {}", spec.cwd))?;
    rlimit::apply(&spec.limits)?;
    privileges::drop_all()?;
    // Unlike a program, the agent stays non-dumpable: the box's processes run as its uid, and
    // a dumpable agent would let them open its /proc files (its socket to the daemon and its
    // processes' pipes under /proc/1/fd, its root, cwd and environ). Its children become
    // dumpable again when they execute their programs.
    nix::sys::prctl::set_dumpable(false).stage(|| "clear dumpable".into())?;
    confine::apply(&spec.confinement)?;
    Ok(session)
}

/// Everything of the program's process but its confinement: its descriptors at their
/// numbers, directory, limits and privileges. Returns the first descriptor number that is
/// not the program's.
fn place(spec: &SandboxSpec, fds: ProgramFds) -> SetupResult<i32> {
    // First, a session and process group of its own that only the run's processes can join:
    // `kill(0, ..)`, `killpg` of its group and `setpgid` reach nothing but the run, whereas
    // the group it was born in is pid 1's and the launcher's. A fresh fork is never a group
    // leader, so this succeeds; were it to fail, the program would not run.
    nix::unistd::setsid().stage(|| "new session".into())?;
    // When the run's cgroup runs out of memory, the kernel kills the code, never the
    // sandbox's init or launcher (whose loss would lose the run's report). Raising one's
    // own score needs no privilege; without /proc it stays as it is.
    let _ = std::fs::write("/proc/self/oom_score_adj", "1000");
    // The sources first go out of the way: a source at the number another one is placed
    // at would be overwritten, and then closed when its owner is dropped.
    let rehome = |fd: OwnedFd| sys::rehome(fd).stage(|| "move descriptors".into());
    let fds = ProgramFds {
        stdin: rehome(fds.stdin)?,
        channel: fds.channel.map(|(fd, at)| rehome(fd).map(|fd| (fd, at))).transpose()?,
        session: fds.session.map(|(fd, at)| rehome(fd).map(|fd| (fd, at))).transpose()?,
        claim: None,
    };
    nix::unistd::dup2_stdin(&fds.stdin).stage(|| "stdin".into())?;
    let mut keep_below = 3;
    if let Some((channel, at)) = &fds.channel {
        sys::dup_to(channel, *at).stage(|| "result channel".into())?;
        keep_below = at + 1;
    }
    if let Some((session, at)) = &fds.session {
        sys::dup_to(session, *at).stage(|| "session socket".into())?;
        keep_below = keep_below.max(at + 1);
    }
    chdir(spec.cwd.as_str()).stage(|| format!("chdir {}", spec.cwd))?;
    rlimit::apply(&spec.limits)?;
    privileges::drop_all()?;
    Ok(keep_below)
}

/// Waits for the program, then kills whatever it left behind and reaps it all: once the
/// program is gone, nothing of the run survives it. Runs as the sandbox's pid 1, so every
/// orphan of the sandbox is our child.
pub fn reap_all(program: Pid) -> Outcome {
    let mut outcome = None;
    loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == program => {
                outcome = Some(Outcome::Exited { code });
                kill_rest();
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == program => {
                outcome = Some(Outcome::Signaled { signal: signal as i32 });
                kill_rest();
            }
            Ok(_) => {
                if outcome.is_some() {
                    kill_rest();
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    outcome
        .unwrap_or(Outcome::SetupFailed { stage: "reap".into(), message: "the program's exit status was lost".into() })
}

/// From pid 1, `kill(-1)` reaches every other process of the sandbox's pid namespace.
pub fn kill_rest() {
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
}
