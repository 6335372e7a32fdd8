//! The daemon's side of a zygote: a long-lived sandboxed interpreter that forks one
//! launcher per run (see [`crate::init::fork_entry`] for the fork's side).
//!
//! The daemon asks for a fork by sending one byte with three descriptors on the zygote's
//! socket: the launcher's control socket and the write ends of the run's stdout and stderr
//! pipes. The fork greets on the control socket; with `SO_PASSCRED` the kernel tells the
//! daemon who greeted, in the daemon's own pid namespace. From there the run goes on as a
//! cold one does, over the same control protocol.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::UnixStream;

/// The byte that asks the zygote for a fork.
const FORK: &[u8] = b"f";

/// The daemon's end of a zygote's socket.
pub struct ZygoteLink {
    socket: StdUnixStream,
}

/// The daemon's ends of a forked launcher: its control socket and the run's output pipes.
pub struct ForkedParts {
    pub control: StdUnixStream,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

impl ZygoteLink {
    /// `socket` is the daemon's end of the pair whose other end the zygote holds; it blocks
    /// (a request is a byte into a socket buffer the zygote keeps empty).
    pub fn new(socket: StdUnixStream) -> std::io::Result<ZygoteLink> {
        socket.set_nonblocking(false)?;
        Ok(ZygoteLink { socket })
    }

    /// Another link to the same zygote (for a task that outlives its owner's borrow).
    pub fn try_clone(&self) -> std::io::Result<ZygoteLink> {
        Ok(ZygoteLink { socket: self.socket.try_clone()? })
    }

    /// Asks the zygote for one fork; the returned control socket is non-blocking.
    pub fn fork_launcher(&self) -> std::io::Result<ForkedParts> {
        let (ours, theirs) = StdUnixStream::pair()?;
        setsockopt(&ours, sockopt::PassCred, &true)?;
        ours.set_nonblocking(true)?;
        let (stdout, stdout_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        let (stderr, stderr_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        // The write ends block in the run, as a cold run's pipes do.
        for fd in [&stdout_w, &stderr_w] {
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))?;
        }
        let fds = [theirs.as_fd(), stdout_w.as_fd(), stderr_w.as_fd()];
        crate::handoff::send(self.socket.as_fd(), FORK, &fds)?;
        Ok(ForkedParts { control: ours, stdout, stderr })
    }
}

impl AsRef<ZygoteLink> for ZygoteLink {
    fn as_ref(&self) -> &ZygoteLink {
        self
    }
}

/// Waits for the forked launcher's greeting on `control`; returns its pid as the daemon sees it.
pub async fn greeting(control: &UnixStream) -> std::io::Result<u32> {
    loop {
        control.readable().await?;
        match control.try_io(Interest::READABLE, || receive_greeting(control.as_raw_fd())) {
            Ok(pid) => return Ok(pid),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

fn receive_greeting(fd: RawFd) -> std::io::Result<u32> {
    let mut byte = [0u8; 1];
    let mut space = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
    let mut iov = [IoSliceMut::new(&mut byte)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(&mut space), MsgFlags::empty())?;
    if msg.bytes == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before greeting"));
    }
    let pid = msg.cmsgs()?.find_map(|c| match c {
        ControlMessageOwned::ScmCredentials(creds) => Some(creds.pid()),
        _ => None,
    });
    match (byte[0], pid) {
        (crate::init::HELLO, Some(pid)) if pid > 0 => Ok(pid as u32),
        _ => Err(std::io::Error::other("an unexpected greeting")),
    }
}

/// A forked launcher, by pidfd: the daemon can kill it and see it end, though it is not
/// the daemon's child.
pub struct Forked {
    pid: u32,
    pidfd: AsyncFd<OwnedFd>,
}

impl Forked {
    pub fn open(pid: u32) -> std::io::Result<Forked> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let res = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        let fd = Errno::result(res)? as RawFd;
        // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the AsyncFd owns the OwnedFd, so the descriptor stays open and the same
        // for as long as it is registered.
        let pidfd =
            unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
        Ok(Forked { pid, pidfd })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends SIGKILL, to this very process even if its pid was reused.
    pub fn kill(&self) {
        // SAFETY: pidfd_send_signal takes a live descriptor, a signal number and a null info.
        let _ = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.get_ref().as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }

    /// Resolves once the process has exited.
    pub async fn exited(&self) {
        let _ = self.pidfd.readable().await.map(|mut guard| guard.retain_ready());
    }
}

/// A detached copy of the mount at `path` (made with `open_tree`), for a run to attach in
/// its own mount namespace: how a forked run gets its workspace.
pub fn detached_mount(path: &Path) -> std::io::Result<OwnedFd> {
    let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    // SAFETY: `path` is NUL-terminated and outlives the call; open_tree returns a new
    // descriptor or -1.
    let res = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    let fd = Errno::result(res)? as RawFd;
    // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
