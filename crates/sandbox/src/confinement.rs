//! The layers that confine the program beyond its namespaces, as plain data: a system call
//! filter and Landlock rules. Part of [`SandboxSpec`](crate::SandboxSpec).

use serde::{Deserialize, Serialize};

/// Which extra layers the program runs under. Both default to off so that older specs still
/// parse; the daemon turns on what its host supports. A layer that is asked for and cannot
/// be applied fails the run before the program starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confinement {
    /// The system call allowlist of [`crate::seccomp`].
    #[serde(default)]
    pub seccomp: bool,
    #[serde(default)]
    pub landlock: Option<LandlockRules>,
}

/// Where the program may go, by path inside the sandbox (each rule covers everything
/// beneath). Paths that do not exist in the sandbox are left out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LandlockRules {
    /// Read files, list directories and execute.
    pub read_exec: Vec<String>,
    /// Everything: read, write, create, remove, rename, truncate, execute.
    pub read_write: Vec<String>,
    /// List directory entries only (no file contents).
    #[serde(default)]
    pub list: Vec<String>,
}

/// The device nodes of a [`Mount::Dev`](crate::Mount::Dev) /dev, by name.
pub const DEV_NODES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];
