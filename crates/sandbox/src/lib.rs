//! Linux namespace sandbox. The only crate of the workspace with `unsafe` code and raw syscalls.
//!
//! [`spec`] is the policy as plain data. [`runner`] (daemon side) starts the init child and
//! collects its output; [`init`] (child side) builds the sandbox and runs the program.
//! [`handoff`] passes a session's socket to the launcher. [`workspace_fs`] and [`host`] are the daemon's own careful file and mount operations.

pub mod handoff;
pub mod host;
pub mod init;
pub mod runner;
pub mod spec;
pub mod workspace_fs;

pub use spec::*;
