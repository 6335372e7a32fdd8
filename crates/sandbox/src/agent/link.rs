//! The daemon's end of a box's socket: frames out, frames and the descriptors that travel
//! with them in.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use tokio::io::Interest;
use tokio::net::UnixStream;

use super::protocol::{self, Event, Request};

/// The daemon's end, split in two: one task receives, any number send (one at a time).
pub struct AgentLink {
    socket: Arc<UnixStream>,
}

/// The receiving half.
pub struct Received {
    socket: Arc<UnixStream>,
    buffer: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl AgentLink {
    /// Both halves of the link over `socket`.
    pub fn new(socket: UnixStream) -> (AgentLink, Received) {
        let socket = Arc::new(socket);
        let received = Received { socket: Arc::clone(&socket), buffer: Vec::new(), fds: VecDeque::new() };
        (AgentLink { socket }, received)
    }

    /// Sends one request with `data`. Callers serialize their sends: frames must not interleave.
    pub async fn send(&self, request: &Request, data: &[u8]) -> std::io::Result<()> {
        let bytes = protocol::frame(request, data);
        let mut written = 0;
        while written < bytes.len() {
            self.socket.writable().await?;
            match self.socket.try_write(&bytes[written..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Received {
    /// The next event, its data and the descriptor that came with it; `None` once the agent
    /// is gone. A frame that cannot be read ends the link.
    pub async fn next(&mut self) -> std::io::Result<Option<(Event, Vec<u8>, Option<OwnedFd>)>> {
        loop {
            match protocol::take_frame::<Event>(&mut self.buffer) {
                Ok(Some((event, data))) => {
                    let fd = if event.carries_fd() { self.fds.pop_front() } else { None };
                    return Ok(Some((event, data, fd)));
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::other(e)),
            }
            self.socket.readable().await?;
            let socket = &self.socket;
            match socket.try_io(Interest::READABLE, || crate::handoff::receive(socket.as_fd())) {
                Ok((bytes, _)) if bytes.is_empty() => return Ok(None),
                Ok((bytes, fds)) => {
                    self.buffer.extend(bytes);
                    self.fds.extend(fds);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}
