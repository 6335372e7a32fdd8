//! The launcher's side of the egress door (see [`crate::EgressDoor`]): inside the run's
//! network namespace, before anything of the run starts, it brings up the loopback interface
//! and listens on 127.0.0.1; each connection it accepts goes to the daemon's proxy over the
//! socket that came with the spec. The namespace has no other interface and no route: that
//! listener is the only way out, and it is ours, outside the sandbox's pid namespace, where
//! the run's code can neither signal nor replace it.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::error::{SetupResult, Stage};
use super::sys;

pub struct Door {
    listener: TcpListener,
    daemon: OwnedFd,
}

impl Door {
    /// Opens the door at `port`; call it in the run's network namespace, with its
    /// capabilities, before the sandbox's pid 1 starts.
    pub fn open(port: u16, daemon: OwnedFd) -> SetupResult<Door> {
        sys::loopback_up().stage(|| "bring up loopback".into())?;
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
            .stage(|| format!("egress listener on port {port}"))?;
        listener.set_nonblocking(true).stage(|| "egress listener".into())?;
        Ok(Door { listener, daemon })
    }

    /// What to poll: readable when a connection waits.
    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Hands every waiting connection to the daemon. Never waits: a connection the daemon
    /// cannot take at once is closed (its client sees it reset), so a flood of connections
    /// cannot stall the launcher.
    pub fn pass(&self) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = crate::handoff::send_now(self.daemon.as_fd(), b"c", &[stream.as_fd()]);
        }
    }
}
