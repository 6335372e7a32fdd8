//! The daemon side: starts the init child for one spec and collects what comes back.
//!
//! The init child is this daemon's own executable re-executed with [`INIT_ARG`](crate::init::INIT_ARG), so all
//! namespace work happens in a fresh single-threaded process, never in a fork of the async
//! runtime.

mod adjust;
mod capture;
mod launch;
mod output;
mod process;
mod report;
mod supervise;

pub use adjust::{AdjustError, Adjustable};
pub use launch::{run, run_forked, run_with_handed, run_with_handoff};
pub use output::{Captured, LimitHit, OutputSink, OutputStream, OutputTap, RunError, RunOptions, RunOutput};
