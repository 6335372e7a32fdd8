//! Linux namespace sandbox. The only crate of the workspace with `unsafe` code and raw syscalls.
//!
//! [`spec`] is the policy as plain data. [`runner`] (daemon side) starts the init child and
//! collects its output; [`init`] (child side) builds the sandbox and runs the program.

pub mod spec;

pub use spec::*;
