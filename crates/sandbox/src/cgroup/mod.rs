//! Per-run cgroups: memory (without swap), process and CPU limits, and the run's peak memory,
//! CPU time, out-of-memory kills and process-limit hits read back from the kernel.
//!
//! At startup the daemon detects the host's layout ([`detect`]), prepares a parent cgroup
//! (v2: [`v2`], v1 controllers: [`v1`]) and removes what a crashed daemon left there. Each
//! run then gets its own child cgroup, named after this daemon (`d<pid>.<start time>-<n>`)
//! so that daemons sharing a parent never touch each other's runs. The runner moves the
//! launcher into it before the launcher reads its spec, so every process of the run is in it.

pub mod attach;
pub mod detect;
mod files;
mod live;
mod relimit;
pub mod v1;
pub mod v2;

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

pub use detect::{Hierarchy, Kind, Layout, CONTROLLERS};
pub use live::LiveUsage;
pub use relimit::Limiter;

/// CFS period the CPU quota is expressed in.
pub const CPU_PERIOD_US: u64 = 100_000;

/// What the operator configures.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupConfig {
    /// Cgroup path (from the root of each hierarchy) under which runs get their cgroups.
    /// None: v2 `<the daemon's own cgroup>/sandbox-executor` (or `/sandbox-executor` when
    /// that is not possible and the daemon is root), v1 `/sandbox-executor`.
    pub parent: Option<String>,
    /// CPUs each run may use at most (a CFS quota); 0 for none.
    pub cpu_quota: f64,
}

impl Default for CgroupConfig {
    fn default() -> Self {
        CgroupConfig { parent: None, cpu_quota: 1.0 }
    }
}

/// Whether one controller limits runs here, and why (not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControllerState {
    pub name: String,
    pub active: bool,
    pub detail: String,
}

impl ControllerState {
    fn missing(name: &str, detail: impl Into<String>) -> Self {
        ControllerState { name: name.into(), active: false, detail: detail.into() }
    }
}

/// Limits of one run's cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimits {
    pub memory_bytes: Option<u64>,
    /// Processes and threads of the whole run, its launcher and init included.
    pub processes: Option<u64>,
}

/// What the kernel counted for one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub peak_memory_bytes: Option<u64>,
    pub cpu_usec: Option<u64>,
    /// Processes of the run the kernel killed for passing the memory limit.
    pub oom_kills: u64,
    /// Times the run's memory reached its limit (the kernel then reclaims, refuses an
    /// allocation with ENOMEM, or kills).
    pub memory_limit_hits: u64,
    /// Forks and clones refused because of the process limit.
    pub pids_limit_hits: u64,
}

enum Backend {
    None,
    V2(v2::Tree),
    V1(v1::Trees),
}

/// The daemon's cgroup parent(s) and the controllers in force.
pub struct Manager {
    backend: Backend,
    states: Vec<ControllerState>,
    cpu_quota: f64,
    tag: String,
    next: AtomicU64,
    /// Removals of finished runs' cgroups, done after their results are out.
    removals: tokio_util::task::TaskTracker,
}

impl Manager {
    /// Detects the host's layout and prepares the parent cgroup. Never fails: what does not
    /// work shows in [`Manager::states`].
    pub fn open(config: &CgroupConfig) -> Manager {
        match Layout::detect() {
            Ok(layout) => Manager::with_layout(config, &layout, crate::host::is_root()),
            Err(e) => Manager::without(config, &format!("cannot read this process's cgroups: {e}")),
        }
    }

    fn new(backend: Backend, states: Vec<ControllerState>, cpu_quota: f64, tag: String) -> Manager {
        let removals = tokio_util::task::TaskTracker::new();
        Manager { backend, states, cpu_quota, tag, next: AtomicU64::new(0), removals }
    }

    /// Removes a finished run's cgroup in the background (on a runtime), after reading what
    /// it counted: its processes are gone with its sandbox, and removing up to four
    /// hierarchies' directories need not delay the result.
    pub fn finish_later(&self, cgroup: RunCgroup) -> Usage {
        let usage = cgroup.usage();
        match tokio::runtime::Handle::try_current() {
            Ok(_) => drop(self.removals.spawn_blocking(move || drop(cgroup))),
            Err(_) => drop(cgroup),
        }
        usage
    }

    /// Waits until the cgroups of finished runs are removed (before the daemon exits).
    pub async fn removed(&self) {
        self.removals.close();
        self.removals.wait().await;
        self.removals.reopen();
    }

    /// A manager that applies no cgroup limits, with the reason.
    pub fn without(config: &CgroupConfig, reason: &str) -> Manager {
        let states = CONTROLLERS.iter().map(|c| ControllerState::missing(c, reason)).collect();
        Manager::new(Backend::None, states, config.cpu_quota, own_tag())
    }

    pub fn with_layout(config: &CgroupConfig, layout: &Layout, root: bool) -> Manager {
        let tag = own_tag();
        let on_v2 =
            layout.unified.is_some() && layout.unified_controllers().iter().any(|c| CONTROLLERS.contains(&c.as_str()));
        let (backend, states) = if on_v2 {
            let tree = layout.unified.as_ref().expect("checked above");
            let (tree, states) = v2::Tree::prepare(tree, config.parent.as_deref(), root);
            (tree.map_or(Backend::None, Backend::V2), states)
        } else if !layout.v1.is_empty() {
            let (trees, states) = v1::Trees::prepare(&layout.v1, config.parent.as_deref());
            (Backend::V1(trees), states)
        } else {
            let reason = match layout.kind() {
                Kind::None => "no cgroup filesystem is mounted",
                _ => "the cgroup v2 tree offers none of memory, pids and cpu, and no v1 controller is mounted",
            };
            return Manager::without(config, reason);
        };
        let mut states = states;
        if config.cpu_quota <= 0.0 {
            for state in states.iter_mut().filter(|s| s.name == "cpu") {
                *state = ControllerState::missing("cpu", "no CPU quota is configured (SANDBOX_CPU_QUOTA is 0)");
            }
        }
        let manager = Manager::new(backend, states, config.cpu_quota, tag);
        manager.remove_leftovers();
        manager
    }

    /// One entry per controller in [`CONTROLLERS`].
    pub fn states(&self) -> &[ControllerState] {
        &self.states
    }

    pub fn active(&self, controller: &str) -> bool {
        self.states.iter().any(|s| s.name == controller && s.active)
    }

    /// A fresh cgroup for one run with `limits` (and the configured CPU quota), or None when
    /// no controller is in force here.
    pub fn create(&self, limits: &RunLimits) -> io::Result<Option<RunCgroup>> {
        let name = format!("{}-{}", self.tag, self.next.fetch_add(1, Ordering::Relaxed));
        let quota = (self.cpu_quota > 0.0 && self.active("cpu")).then_some(self.cpu_quota);
        let limits = RunLimits {
            memory_bytes: limits.memory_bytes.filter(|_| self.active("memory")),
            processes: limits.processes.filter(|_| self.active("pids")),
        };
        match &self.backend {
            Backend::None => Ok(None),
            Backend::V2(tree) => tree.create(&name, &limits, quota).map(|r| Some(RunCgroup::V2(r))),
            Backend::V1(trees) => trees.create(&name, &limits, quota).map(|r| Some(RunCgroup::V1(r))),
        }
    }

    /// Kills and removes run cgroups whose daemon is gone (it crashed or was killed).
    fn remove_leftovers(&self) {
        let parents = match &self.backend {
            Backend::None => Vec::new(),
            Backend::V2(tree) => vec![tree.parent.clone()],
            Backend::V1(trees) => trees.parents(),
        };
        for parent in parents {
            let Ok(entries) = std::fs::read_dir(&parent) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && owner_gone(&name) {
                    files::kill_all(&entry.path());
                    if let Err(e) = files::remove(&entry.path()) {
                        tracing::warn!(cgroup = %entry.path().display(), error = %e, "cannot remove a leftover cgroup");
                    }
                }
            }
        }
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").field("tag", &self.tag).field("states", &self.states).finish()
    }
}

/// One run's cgroup (on v1, one directory per hierarchy).
pub enum RunCgroup {
    V2(v2::Run),
    V1(v1::Run),
}

impl RunCgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        match self {
            RunCgroup::V2(run) => vec![run.dir.clone()],
            RunCgroup::V1(run) => run.dirs(),
        }
    }

    /// Moves `pid` (and so everything it will start) into the run's cgroup.
    pub fn join(&self, pid: u32) -> io::Result<()> {
        self.dirs().iter().try_for_each(|dir| files::join(dir, pid))
    }

    pub fn usage(&self) -> Usage {
        match self {
            RunCgroup::V2(run) => run.usage(),
            RunCgroup::V1(run) => run.usage(),
        }
    }

    /// Kills whatever is left of the run and removes its cgroup(s); returns what the kernel
    /// counted before that.
    pub fn finish(self) -> Usage {
        // Read before the cgroup goes: dropping `self` kills what is left and removes it.
        self.usage()
    }

    fn clean_up(&self) {
        for dir in self.dirs() {
            if !files::kill_all(&dir) {
                tracing::warn!(cgroup = %dir.display(), "processes of a finished run would not die");
            }
            if let Err(e) = files::remove(&dir) {
                tracing::warn!(cgroup = %dir.display(), error = %e, "cannot remove a run's cgroup");
            }
        }
    }
}

/// However a run ends, even on an early error, nothing of it outlives its cgroup.
impl Drop for RunCgroup {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// `d<pid>.<start time>`: unique to this daemon among every process the host has run
/// since boot (a pid alone is reused).
fn own_tag() -> String {
    let pid = std::process::id();
    format!("d{pid}.{}", start_time(pid).unwrap_or(0))
}

/// Whether a cgroup named by [`own_tag`] belongs to a daemon that no longer runs.
fn owner_gone(name: &str) -> bool {
    let Some(tag) = name.strip_prefix('d').and_then(|n| n.split('-').next()) else { return false };
    let Some((pid, start)) = tag.split_once('.') else { return false };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else { return false };
    start_time(pid) != Some(start)
}

/// A process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests;
