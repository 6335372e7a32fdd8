//! The daemon's side of a run's egress door: the socket pair whose one end goes to the
//! launcher with the spec (see [`crate::EgressDoor`]), and the receipt of each connection the
//! launcher accepted inside the sandbox and handed over it.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::unix::AsyncFd;

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType};

/// A fresh pair of connected packet sockets, close-on-exec: the daemon keeps the first and
/// hands the second to the launcher. Each packet is one byte and one connection.
pub fn pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let flags = SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK;
    Ok(socketpair(AddressFamily::Unix, SockType::SeqPacket, None, flags)?)
}

/// The daemon's end of the pair, for the async runtime: yields each connection handed over.
pub struct Connections(AsyncFd<OwnedFd>);

impl Connections {
    /// Takes the daemon's end of [`pair`]; call it within a tokio runtime.
    pub fn new(socket: OwnedFd) -> std::io::Result<Connections> {
        // SAFETY: the AsyncFd owns `socket` (an OwnedFd, whose raw descriptor never changes)
        // for its whole life; nothing else closes or replaces that descriptor.
        let registered = unsafe { AsyncFd::register(socket) };
        registered.map(Connections).map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// The next connection the launcher handed over, or one lost on the way (the daemon had
    /// no descriptor for it); `None` once the launcher is gone (or its socket fails). Running
    /// out of descriptors never ends the door.
    pub async fn next(&self) -> Option<Received> {
        loop {
            let mut ready = self.0.readable().await.ok()?;
            match ready.try_io(|fd| receive_connection(fd.get_ref().as_fd())) {
                Ok(Ok(Received::Nothing)) | Err(_) => continue,
                Ok(Ok(Received::Closed)) => return None,
                Ok(Ok(received)) => return Some(received),
                Ok(Err(e)) if crate::host::out_of_descriptors(&e) => return Some(Received::Lost(e)),
                Ok(Err(_)) => return None,
            }
        }
    }
}

/// What one read of the daemon's end of the pair gave.
#[derive(Debug)]
pub enum Received {
    /// A connection accepted in the sandbox.
    Connection(OwnedFd),
    /// A connection that came without its descriptor: the daemon was out of descriptors, and
    /// the kernel closed it.
    Lost(std::io::Error),
    /// A packet without a descriptor (ignored).
    Nothing,
    /// The launcher is gone.
    Closed,
}

/// Reads one packet without waiting; `WouldBlock` when none is there.
pub fn receive_connection(socket: BorrowedFd<'_>) -> std::io::Result<Received> {
    let mut buf = [0u8; 16];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let flags = MsgFlags::MSG_CMSG_CLOEXEC | MsgFlags::MSG_DONTWAIT;
    let msg = match recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), flags) {
        Ok(msg) => msg,
        Err(Errno::EINTR) => return Ok(Received::Nothing),
        Err(e) => return Err(e.into()),
    };
    let mut fds = Vec::new();
    // Truncated (`MSG_CTRUNC`): the descriptor did not fit in this process.
    let cmsgs = msg.cmsgs().map_err(|_| std::io::Error::from_raw_os_error(libc::EMFILE))?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            fds.extend(received);
        }
    }
    // SAFETY: the kernel installed these descriptors in this process for this packet;
    // nothing else refers to them, so each gets exactly one owner here.
    let mut owned = fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    let first = owned.next();
    drop(owned.collect::<Vec<_>>());
    Ok(match first {
        Some(fd) => Received::Connection(fd),
        None if msg.bytes == 0 => Received::Closed,
        None => Received::Nothing,
    })
}
