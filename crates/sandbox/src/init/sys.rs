//! The few raw operations nix has no safe wrapper for. Every `unsafe` block of the init child
//! lives here.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::ForkResult;

/// Forks the process. Sound here because the init child is single-threaded (it is a fresh
/// exec of this binary that never starts a runtime), so no lock can be held by a thread that
/// does not exist in the child.
pub fn fork() -> nix::Result<ForkResult> {
    // SAFETY: the calling process has exactly one thread (see above), so the child may run
    // arbitrary code, including allocation, after the fork.
    unsafe { nix::unistd::fork() }
}

/// Ends the process at once, without running atexit handlers or flushing stdio buffers that
/// a forked child shares with its parent.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and takes no pointers.
    unsafe { libc::_exit(code) }
}

/// Puts every signal back to its default action and unblocks them all: an ignored signal
/// stays ignored across execve, and the launcher, like any Rust program, ignores SIGPIPE.
pub fn default_signals() -> nix::Result<()> {
    use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
    for sig in Signal::iterator().filter(|s| !matches!(s, Signal::SIGKILL | Signal::SIGSTOP)) {
        // SAFETY: SIG_DFL installs no handler, so no code runs in signal context.
        unsafe { signal(sig, SigHandler::SigDfl) }?;
    }
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Duplicates `fd` onto the descriptor number `at` (which must not be owned elsewhere).
pub fn dup_to(fd: &OwnedFd, at: RawFd) -> nix::Result<()> {
    // SAFETY: dup2 takes plain integers; `fd` is a live descriptor. The new descriptor is
    // deliberately not wrapped in an owner: it must stay open across the coming execve.
    let res = unsafe { libc::dup2(fd.as_raw_fd(), at) };
    Errno::result(res).map(drop)
}

/// Moves `fd` to a close-on-exec descriptor numbered 100 or more, so that placing others at
/// their fixed low numbers can neither clobber it nor be undone when it is closed.
pub fn rehome(fd: OwnedFd) -> nix::Result<OwnedFd> {
    let high = nix::fcntl::fcntl(fd.as_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100))?;
    // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; it has no other owner.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

/// Marks every descriptor from `from` upwards close-on-exec, except those below `keep_below`.
pub fn cloexec_from(from: u32, keep_below: i32) -> nix::Result<()> {
    let first = from.max(keep_below as u32);
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors in range.
    let res = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
    Errno::result(res).map(drop)
}

/// Takes ownership of standard input (the launcher's control socket) as a close-on-exec
/// descriptor, leaving /dev/null in its place.
pub fn take_stdin() -> std::io::Result<OwnedFd> {
    let stdin = std::io::stdin();
    let control = stdin.as_fd().try_clone_to_owned()?;
    let null = std::fs::File::open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    Ok(control)
}

/// Attaches the detached mount `fd` (made by `open_tree`) at the directory `at`.
pub fn move_mount(fd: &OwnedFd, at: &std::path::Path) -> nix::Result<()> {
    let at = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both strings are NUL-terminated and outlive the call; `fd` is a live descriptor.
    let res = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            at.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    Errno::result(res).map(drop)
}

/// Closes every descriptor from `from` upwards except `keep`.
pub fn close_from(from: i32, keep: i32) -> nix::Result<()> {
    let ranges = if keep >= from { vec![(from, keep - 1), (keep + 1, i32::MAX)] } else { vec![(from, i32::MAX)] };
    for (first, last) in ranges.into_iter().filter(|(first, last)| first <= last) {
        // SAFETY: close_range takes plain integers. The caller owns no descriptor in range
        // (everything it owned is dropped by now), so nothing is closed behind an owner.
        let res = unsafe { libc::syscall(libc::SYS_close_range, first as u32, last as u32, 0) };
        Errno::result(res)?;
    }
    Ok(())
}

/// Brings up the loopback interface of the calling process's network namespace (which a
/// fresh namespace has down): needs the network administration capability there.
pub fn loopback_up() -> std::io::Result<()> {
    let socket = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data, for which all zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of the ifreq we own.
    Errno::result(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: the union's flags member is the one SIOCGIFFLAGS just filled in.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and the flags of the ifreq we own.
    Errno::result(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &req) })?;
    Ok(())
}
