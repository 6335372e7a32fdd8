//! The child side: everything that runs in the re-executed init child and below it.

mod claim;
mod confine;
mod egress;
mod error;
mod fds;
mod launcher;
mod mount;
mod pid1;
mod privileges;
mod program;
mod rlimit;
mod sys;
mod userns;
mod zygote;

pub use claim::{CLAIM_READY, CLAIM_TAKEN};
pub use error::SetupError;
pub use launcher::main;
pub(crate) use userns::NAMESPACES;
pub use zygote::{fork_entry, prepare_forks, take_claim, BUILT_AHEAD, HELLO};

/// The hidden subcommand that turns this binary into the init child.
pub const INIT_ARG: &str = "__sandbox-init";
