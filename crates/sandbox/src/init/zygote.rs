//! The launcher of a forked run: a zygote (an interpreter that has loaded its modules once)
//! forks, and the fork calls [`fork_entry`]. From there it is a cold run's launcher: it
//! enters fresh namespaces of its own, forks the sandbox's pid 1, which builds a fresh root
//! and forks the program. The difference is the program: it is not executed but resumed,
//! returning into the zygote's interpreter once it is confined, with nothing of the zygote
//! left but the interpreter's memory (which never holds a run's data).
//!
//! Protocol on `control` (the daemon's socket): the launcher first writes one byte, from
//! which the daemon (receiving with `SO_PASSCRED`) learns its pid and puts it into the run's
//! cgroup; then as for [`super::launcher`]: the spec with its descriptors, then the report.

use std::io::Write;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use nix::sys::signal::{signal, SigHandler, Signal};

use super::error::{SetupResult, Stage};
use super::launcher::{self, Launched};
use super::program::{Resumed, Start};
use super::sys;

/// What the launcher writes first.
pub const HELLO: u8 = b'h';

/// Called once in the zygote before its first fork: what every fork would otherwise redo
/// (compiling the system call filter) is done here, and inherited. Returns 0 on success.
pub fn prepare_forks() -> i32 {
    #[cfg(target_arch = "x86_64")]
    let compiled = crate::seccomp::install::compiled().is_ok();
    #[cfg(not(target_arch = "x86_64"))]
    let compiled = true;
    i32::from(!compiled)
}

/// What [`fork_entry`] returns in the program of a sandbox built ahead of its run: the
/// interpreter may touch what a run touches (its first writes to pages it shares with the
/// zygote then happen before the run), then calls [`take_claim`].
pub const BUILT_AHEAD: i32 = 1;

/// The program of a sandbox built ahead, between [`fork_entry`] and [`take_claim`].
fn waiting() -> std::sync::MutexGuard<'static, Option<Resumed>> {
    static WAITING: Mutex<Option<Resumed>> = Mutex::new(None);
    WAITING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Called by the program of a sandbox built ahead once it is ready for its run: waits for the
/// claim, puts the run in place and confines the program. Returns 0 in the run's program;
/// it never returns when that fails, and -1 in a process that waits for no claim.
pub fn take_claim() -> i32 {
    let Some(resumed) = waiting().take() else { return -1 };
    resumed.confine();
    0
}

/// Called in a fresh fork of the zygote with the three descriptors the daemon sent for the
/// run: the control socket and the write ends of the run's stdout and stderr. Returns 0 only
/// in the run's program, confined, or [`BUILT_AHEAD`] in the program of a sandbox built ahead
/// of its run; everywhere else it ends the process.
pub fn fork_entry(control: RawFd, stdout: RawFd, stderr: RawFd) -> i32 {
    // SAFETY: the zygote received these three descriptors for this run and hands them over
    // here; it uses them no more (it closes its copies in its own process, not this fork).
    let (control, stdout, stderr) =
        unsafe { (OwnedFd::from_raw_fd(control), OwnedFd::from_raw_fd(stdout), OwnedFd::from_raw_fd(stderr)) };
    let mut control = std::fs::File::from(control);
    let launched = begin(&mut control, stdout, stderr).and_then(|(spec, handed)| {
        use std::os::fd::AsFd;
        launcher::launch(&spec, handed, control.as_fd(), Start::Resume)
    });
    let report = match launched {
        Ok(Launched::Program(resumed)) => {
            // Not closed here: the program's own descriptors were placed over the low
            // numbers, perhaps over this one; if not, the confinement closes it.
            let _ = control.into_raw_fd();
            if resumed.awaits_claim() {
                *waiting() = Some(resumed);
                return BUILT_AHEAD;
            }
            resumed.confine();
            return 0;
        }
        Ok(Launched::Report(report)) => report,
        Err(e) => launcher::failed(e),
    };
    launcher::report_to(&mut control, &report);
    sys::exit_now(0)
}

fn begin(
    control: &mut std::fs::File,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> SetupResult<(crate::SandboxSpec, Vec<OwnedFd>)> {
    // The zygote may reap its children itself; this launcher and its pid 1 wait for theirs.
    // SAFETY: SIG_DFL installs no handler, so no code runs in signal context.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.stage(|| "reset SIGCHLD".into())?;
    nix::unistd::dup2_stdout(&stdout).stage(|| "stdout".into())?;
    nix::unistd::dup2_stderr(&stderr).stage(|| "stderr".into())?;
    drop((stdout, stderr));
    control.write_all(&[HELLO]).stage(|| "greet the daemon".into())?;
    launcher::read_spec(control)
}
