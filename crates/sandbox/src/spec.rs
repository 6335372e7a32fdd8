//! The sandbox policy as plain data. The daemon builds a [`SandboxSpec`], serialises it to the
//! init child, and the child applies it. Nothing here performs a syscall.

use serde::{Deserialize, Serialize};

use crate::confinement::Confinement;

/// Everything the init child needs to build the sandbox and start one program in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Absolute path of the program inside the sandbox, then its arguments.
    pub argv: Vec<String>,
    /// The whole environment of the program: nothing of the daemon's is inherited.
    pub env: Vec<(String, String)>,
    /// Working directory inside the sandbox.
    pub cwd: String,
    pub identity: Identity,
    pub hostname: String,
    /// Applied in order on top of an empty root.
    pub mounts: Vec<Mount>,
    pub limits: Limits,
    /// Bytes fed to the program's standard input (then end of file).
    pub stdin: String,
    /// When set, a private channel (an anonymous memory file) is open at this descriptor in the
    /// program; what it writes there comes back as [`SandboxReport::channel`].
    pub channel_fd: Option<i32>,
    /// System call filter and Landlock rules, applied last before the program starts.
    #[serde(default)]
    pub confinement: Confinement,
    /// When set, the socket the daemon hands to the launcher with the spec (see
    /// [`crate::handoff`]) is open at this descriptor in the program: a long-lived
    /// interpreter's request channel. The run fails closed if the spec asks for it and no
    /// socket came with the spec.
    #[serde(default)]
    pub session_fd: Option<i32>,
    /// When set, the run's only way out of its network namespace (see [`crate::egress`]):
    /// the launcher brings up the loopback interface, listens on 127.0.0.1 at this port and
    /// hands every connection it accepts to the daemon over the socket that came with the
    /// spec (after the session socket and the handed mount, if any). The run fails closed if
    /// the spec asks for it and no socket came with the spec.
    #[serde(default)]
    pub egress: Option<EgressDoor>,
    /// When set, the sandbox is built ahead of its run: its program waits, before anything
    /// of the run exists, for a [`Claim`] on the socket that came with the spec (the only
    /// one), and takes its run's command line, environment, stdin, limits, confinement,
    /// files and workspace from it. The spec's own values of those only shape the wait.
    #[serde(default)]
    pub awaits_claim: bool,
    /// When set, the sandbox is a box: its program is not `argv` but the box's agent (see
    /// [`crate::agent`]), serving the daemon on the session socket (which the spec must
    /// have) and starting processes on request, under the sandbox's confinement; the
    /// loopback interface is up, for the servers its processes start.
    #[serde(default)]
    pub agent: bool,
}

/// A run claiming a sandbox built ahead of it ([`SandboxSpec::awaits_claim`]): what the
/// run's own spec has beyond the sandbox's. Sent by the daemon on the claim socket, with the
/// run's workspace (a detached mount) and its session socket as descriptors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claim {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: String,
    pub stdin: String,
    pub limits: Limits,
    pub confinement: Confinement,
    /// Where the program finds the sandbox's private channel (see
    /// [`SandboxSpec::channel_fd`]); none: the program does not get it.
    pub channel_fd: Option<i32>,
    /// Where the program finds the session socket, the first descriptor sent with the claim.
    pub session_fd: Option<i32>,
    /// Where the handed mount (the next descriptor) is attached; the run fails closed
    /// without it.
    pub mount_at: Option<String>,
    /// The run's files, written into [`CLAIM_DIR`] (a tmpfs of the sandbox), which is then
    /// made read-only. Each must lie below it.
    pub files: Vec<ClaimFile>,
}

/// One file of a [`Claim`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClaimFile {
    pub target: String,
    pub contents: String,
    pub mode: u32,
}

/// Where a claimed run's files go: a sandbox that awaits a claim has a tmpfs here.
pub const CLAIM_DIR: &str = "/sandbox";

/// Where the run's egress door listens inside its network namespace.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct EgressDoor {
    /// The port on 127.0.0.1 the sandbox's proxy settings name.
    pub port: u16,
}

/// Who the program runs as, inside and outside the user namespace.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    /// uid/gid seen inside the sandbox.
    pub uid: u32,
    pub gid: u32,
    /// Unprivileged host ids the inside ids map to. Ignored (the caller's own ids are used)
    /// when the launcher does not run as root.
    pub host_uid: u32,
    pub host_gid: u32,
}

/// One step of building the sandbox's root filesystem. Paths are absolute inside the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mount {
    /// Bind a host path. Read-only unless `writable`; always nosuid and nodev.
    /// A missing source is skipped when `optional`, an error otherwise.
    Bind {
        source: String,
        target: String,
        writable: bool,
        optional: bool,
    },
    /// A fresh tmpfs capped at `size_bytes`.
    Tmpfs {
        target: String,
        size_bytes: u64,
        mode: u32,
    },
    /// A file with the given contents in the (read-only) root.
    File {
        target: String,
        contents: String,
        mode: u32,
    },
    Dir {
        target: String,
        mode: u32,
    },
    Symlink {
        link_target: String,
        target: String,
    },
    /// A fresh procfs for the sandbox's own pid namespace.
    Proc {
        target: String,
    },
    /// The detached mount the daemon handed over with the spec (after the session socket,
    /// if any), attached here: how a forked run gets its workspace, which its zygote's
    /// filesystem does not have. The run fails closed without it.
    Handed {
        target: String,
    },
    /// A minimal /dev: null, zero, full, random, urandom, the fd links and a /dev/shm tmpfs;
    /// with `terminals`, a devpts of the sandbox's own at /dev/pts (and /dev/ptmx), for a box's
    /// terminals.
    Dev {
        target: String,
        shm_size_bytes: u64,
        #[serde(default)]
        terminals: bool,
    },
}

/// Resource limits applied to the program.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock limit; the whole process tree is killed when it passes.
    pub wall_time_ms: u64,
    /// Per-process data segment limit (heap and private writable mappings).
    pub data_bytes: Option<u64>,
    /// Largest file the program may write.
    pub file_size_bytes: u64,
    pub open_files: u64,
    /// Processes and threads of the sandbox's user.
    pub processes: u64,
    /// Memory of the whole run (its own cgroup), when the host's memory controller is in force.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// Processes and threads of the whole run, its launcher and init included (its own
    /// cgroup), when the host's pids controller is in force.
    #[serde(default)]
    pub pids: Option<u64>,
    /// Bytes of the private channel that are kept.
    pub channel_bytes: u64,
}

/// What the init child reports once the program and every process it started are gone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SandboxReport {
    pub outcome: Outcome,
    /// Wall time from the sandbox's start to the end of its last process.
    pub wall_time_ms: f64,
    /// CPU time (user + system) of every process that ran in the sandbox (the runner puts
    /// the run's cgroup's figure here when it has one).
    pub cpu_time_ms: f64,
    /// Largest resident set of any single process of the sandbox, or the run's cgroup's
    /// peak memory when the runner has one.
    pub peak_memory_kb: u64,
    /// What the program wrote to its private channel, if it had one (invalid UTF-8 replaced).
    pub channel: Option<String>,
    pub channel_truncated: bool,
    /// Size-capped filesystems of the sandbox (such as /tmp) that were full when it ended.
    #[serde(default)]
    pub full_filesystems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Exited {
        code: i32,
    },
    Signaled {
        signal: i32,
    },
    TimedOut,
    /// The daemon cancelled the run (it is shutting down) and killed the sandbox.
    Cancelled,
    /// The sandbox's launcher ended without a report, or stopped answering: something
    /// outside the run killed it (or the zygote that forked it). The program had been handed
    /// its run and may have run in part; the daemon never sets this for a sandbox that
    /// reported it could not be built.
    Lost,
    /// The sandbox could not be built; the program never ran.
    SetupFailed {
        stage: String,
        message: String,
    },
}
