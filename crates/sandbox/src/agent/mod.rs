//! A box's agent: the program of a long-lived sandbox that starts and supervises processes
//! on the daemon's request (commands, interpreters, servers, terminals), reports their output
//! and ends, and connects the daemon to ports of the box's loopback.
//!
//! It is this binary's own code, forked by the sandbox's pid 1 and confined like any program
//! before it serves (seccomp and Landlock are in force, privileges dropped): every process it
//! starts inherits that confinement. [`protocol`] is what it speaks, [`link`] the daemon's end.

mod link;
pub mod protocol;
mod serve;
mod spawn;

pub use link::{AgentLink, Received};

use std::os::fd::{FromRawFd, OwnedFd};

use crate::init::Resumed;

/// The descriptor of the daemon's socket in the agent when the spec names none.
const DEFAULT_FD: i32 = 3;

/// In the program of a box's sandbox: confines it, then serves on the session socket at
/// `session_fd`. Never returns.
pub fn run(resumed: Resumed, session_fd: Option<i32>) -> ! {
    resumed.confine();
    // SAFETY: the launch placed the session socket at this number in this process (the spec
    // of a box must have one, or the launch failed closed before here), and nothing else in
    // this process owns it.
    let control = unsafe { OwnedFd::from_raw_fd(session_fd.unwrap_or(DEFAULT_FD)) };
    serve::serve(control)
}
