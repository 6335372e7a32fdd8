//! A box's agent: the program of a long-lived sandbox that starts and supervises processes
//! on the daemon's request (commands, interpreters, servers, terminals), reports their output
//! and ends, and connects the daemon to ports of the box's loopback.
//!
//! It is the sandbox's pid 1 itself, confined like any program before it serves (seccomp and
//! Landlock in force, privileges dropped): every process it starts inherits that confinement,
//! and none can signal it. [`protocol`] is what it speaks, [`AgentLink`] the daemon's end.

mod link;
pub mod protocol;
mod serve;
mod spawn;

pub use link::{AgentLink, Received};
pub(crate) use serve::serve;
