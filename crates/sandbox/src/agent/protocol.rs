//! What the daemon and a box's agent say to each other on the box's socket, as data.
//!
//! Each message is one frame: the length of its header and of its data (two big-endian
//! `u32`), the header (JSON: a [`Request`] or an [`Event`]), then the data (stdin bytes, an
//! output chunk). A descriptor the agent hands over (a process's channel, a connection to a
//! port) travels with the first byte of the frame that announces it.

use serde::{Deserialize, Serialize};

/// The largest header either side accepts.
pub const MAX_HEADER: usize = 1 << 20;
/// The largest data of one frame: an output chunk or a piece of stdin.
pub const MAX_DATA: usize = 1 << 20;
/// Bytes before a frame's header: its two lengths.
pub const PREFIX: usize = 8;

/// What a process is started with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessSpec {
    /// The program and its arguments; the program is looked up on the environment's `PATH`.
    pub argv: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, String)>,
    pub cwd: String,
    /// Whether its stdin is a pipe the daemon writes to (else `/dev/null`); a terminal's is
    /// always open.
    #[serde(default)]
    pub stdin: bool,
    /// Runs on a terminal of this size (its output then comes as [`Stream::Pty`]).
    #[serde(default)]
    pub pty: Option<TerminalSize>,
    /// One end of a fresh socket pair goes to the process at this descriptor number, the
    /// other to the daemon with the [`Event::Started`] frame.
    #[serde(default)]
    pub channel_fd: Option<i32>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct TerminalSize {
    pub cols: u16,
    pub rows: u16,
}

/// The daemon to the agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Answered with [`Event::Started`] or [`Event::Refused`] of the same `id`.
    Start {
        id: u64,
        spec: ProcessSpec,
    },
    /// The frame's data goes to the process's stdin (or terminal).
    Input {
        pid: i32,
    },
    /// Closes the process's stdin (a terminal gets end-of-file, ^D).
    CloseInput {
        pid: i32,
    },
    /// Sends `signal` to the process's whole group.
    Signal {
        pid: i32,
        signal: i32,
    },
    Resize {
        pid: i32,
        size: TerminalSize,
    },
    /// A TCP connection to `port` on the box's loopback: answered with [`Event::Connected`]
    /// (the descriptor with it) or [`Event::Refused`].
    Connect {
        id: u64,
        port: u16,
    },
}

/// Which output of a process a chunk is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
    Pty,
}

/// The agent to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The process of request `id` runs as `pid` (the box's pid namespace); its channel's
    /// descriptor, when it asked for one, travels with this frame.
    Started {
        id: u64,
        pid: i32,
        #[serde(default)]
        channel: bool,
    },
    /// Request `id` could not be done.
    Refused { id: u64, error: String },
    /// The connection of request `id` travels with this frame.
    Connected { id: u64 },
    /// The frame's data is output of `pid`.
    Output { pid: i32, stream: Stream },
    /// `pid` ended: after all its output that was written before its end.
    Exited { pid: i32, code: Option<i32>, signal: Option<i32> },
    /// A request the agent could not read or act on (no id to answer).
    Unreadable { error: String },
}

impl Event {
    /// Whether a descriptor travels with this event's frame.
    pub fn carries_fd(&self) -> bool {
        matches!(self, Event::Connected { .. } | Event::Started { channel: true, .. })
    }
}

/// The bytes of one frame.
pub fn frame<T: Serialize>(header: &T, data: &[u8]) -> Vec<u8> {
    let header = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(PREFIX + header.len() + data.len());
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

/// Why a stream of frames cannot be read on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("a frame's header of {0} bytes is over the cap")]
    HeaderTooLarge(usize),
    #[error("a frame's data of {0} bytes is over the cap")]
    DataTooLarge(usize),
    #[error("a frame's header is unreadable: {0}")]
    Unreadable(String),
}

/// Takes the first whole frame off the front of `buffer`: `None` while it is incomplete.
pub fn take_frame<T: for<'de> Deserialize<'de>>(buffer: &mut Vec<u8>) -> Result<Option<(T, Vec<u8>)>, FrameError> {
    if buffer.len() < PREFIX {
        return Ok(None);
    }
    let header_len = u32::from_be_bytes(buffer[0..4].try_into().unwrap_or_default()) as usize;
    let data_len = u32::from_be_bytes(buffer[4..8].try_into().unwrap_or_default()) as usize;
    if header_len > MAX_HEADER {
        return Err(FrameError::HeaderTooLarge(header_len));
    }
    if data_len > MAX_DATA {
        return Err(FrameError::DataTooLarge(data_len));
    }
    let end = PREFIX + header_len + data_len;
    if buffer.len() < end {
        return Ok(None);
    }
    let header =
        serde_json::from_slice(&buffer[PREFIX..PREFIX + header_len]).map_err(|e| FrameError::Unreadable(e.to_string()));
    let data = buffer[PREFIX + header_len..end].to_vec();
    buffer.drain(..end);
    Ok(Some((header?, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_taken_whole_and_in_order() {
        let mut buffer = frame(&Request::Input { pid: 7 }, b"hello");
        buffer.extend(frame(&Request::CloseInput { pid: 7 }, b""));
        let half = buffer.split_off(10);
        assert_eq!(take_frame::<Request>(&mut buffer), Ok(None));
        buffer.extend(half);
        assert_eq!(take_frame(&mut buffer), Ok(Some((Request::Input { pid: 7 }, b"hello".to_vec()))));
        assert_eq!(take_frame(&mut buffer), Ok(Some((Request::CloseInput { pid: 7 }, Vec::new()))));
        assert!(buffer.is_empty());
    }

    #[test]
    fn oversized_or_broken_frames_are_refused() {
        let mut huge = ((MAX_HEADER + 1) as u32).to_be_bytes().to_vec();
        huge.extend([0; 4]);
        assert_eq!(take_frame::<Request>(&mut huge), Err(FrameError::HeaderTooLarge(MAX_HEADER + 1)));
        let mut broken = frame(&"not a request", b"");
        assert!(matches!(take_frame::<Request>(&mut broken), Err(FrameError::Unreadable(_))));
        assert!(broken.is_empty(), "a broken frame is consumed, so the next one can be read");
    }
}
