//! Linux namespace sandbox. The only crate of the workspace with `unsafe` code and raw syscalls.
//!
//! [`spec`] is the policy as plain data. [`runner`] (daemon side) starts the init child and
//! collects its output; [`init`] (child side) builds the sandbox and runs the program.
//! [`confinement`] (data) with [`seccomp`] and [`landlock`] are the layers applied last, right
//! before the program starts. [`handoff`] passes a session's socket to the launcher.
//! [`egress`] receives the connections a run's egress door hands over.
//! [`workspace_fs`] and [`host`] are the daemon's own careful file and mount operations.

pub mod agent;
pub mod cgroup;
pub mod confinement;
pub mod egress;
pub mod handoff;
pub mod host;
pub mod init;
pub mod landlock;
pub mod runner;
pub mod seccomp;
pub mod spec;
pub mod workspace_fs;
pub mod zygote;

pub use confinement::{Confinement, LandlockRules};
pub use spec::*;
