//! Handing descriptors to the launcher with the spec: the daemon sends the spec's first byte
//! with the descriptors attached (`SCM_RIGHTS` on the control socket), the launcher receives
//! them with that byte. Only what the daemon sends this way reaches the sandbox; nothing is
//! ever found by a path.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// At most this many descriptors travel with one message.
pub const MAX_FDS: usize = 4;

/// Sends `first` (at least one byte) with `fds` attached; returns how many bytes went.
pub fn send(socket: BorrowedFd<'_>, first: &[u8], fds: &[BorrowedFd<'_>]) -> std::io::Result<usize> {
    if fds.len() > MAX_FDS {
        return Err(std::io::Error::other("too many descriptors for one message"));
    }
    let fds: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(first)], &cmsgs, MsgFlags::empty(), None)?;
    Ok(sent)
}

/// [`send`] that never waits: `WouldBlock` when the socket's buffer is full.
pub fn send_now(socket: BorrowedFd<'_>, first: &[u8], fds: &[BorrowedFd<'_>]) -> std::io::Result<usize> {
    let fds: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
    let cmsgs = [ControlMessage::ScmRights(&fds)];
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    Ok(sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(first)], &cmsgs, flags, None)?)
}

/// Reads the first bytes of `socket` and the descriptors sent with them, in their order.
/// Each is moved to a high, close-on-exec number, so that placing it at its fixed number in
/// the program can never clobber another.
pub fn receive(socket: BorrowedFd<'_>) -> std::io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (bytes, received) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
        let mut received = Vec::new();
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                received.extend(fds);
            }
        }
        (msg.bytes, received)
    };
    buf.truncate(bytes);
    // SAFETY: the kernel installed these descriptors in this process for this message;
    // nothing else refers to them, so each gets exactly one owner here.
    let owned: Vec<OwnedFd> = received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }).collect();
    let high = owned.iter().map(|fd| rehome(fd.as_fd())).collect::<std::io::Result<Vec<_>>>()?;
    Ok((buf, high))
}

fn rehome(fd: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    let high = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(100))?;
    // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; it has no other owner.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn a_socket_travels_with_the_first_byte() {
        let (daemon, launcher) = UnixStream::pair().unwrap();
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        assert_eq!(send(daemon.as_fd(), b"{", &[theirs.as_fd()]).unwrap(), 1);
        (&daemon).write_all(b"}").unwrap();
        drop(theirs);
        let (first, fds) = receive(launcher.as_fd()).unwrap();
        assert_eq!(first, b"{");
        let fd = fds.into_iter().next().expect("a descriptor came with the byte");
        assert!(fd.as_raw_fd() >= 100);
        let mut passed = UnixStream::from(fd);
        passed.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        ours.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    #[test]
    fn plain_bytes_carry_no_descriptor() {
        let (daemon, launcher) = UnixStream::pair().unwrap();
        (&daemon).write_all(b"{}").unwrap();
        let (first, fds) = receive(launcher.as_fd()).unwrap();
        assert_eq!(first, b"{}");
        assert!(fds.is_empty());
    }
}
