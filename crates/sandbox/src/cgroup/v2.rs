//! cgroup v2: one tree; controllers are handed down through `cgroup.subtree_control`, which
//! only a cgroup without processes of its own may do ("no internal processes").

use std::io;
use std::path::{Path, PathBuf};

use super::detect::{join, Hierarchy};
use super::{files, ControllerState, RunLimits, Usage, CONTROLLERS, CPU_PERIOD_US};

/// Where the daemon moves its own processes when its cgroup must hand controllers down.
pub const DAEMON_LEAF: &str = "daemon";
const DEFAULT_NAME: &str = "sandbox-executor";

pub struct Tree {
    /// The parent of every run's cgroup.
    pub parent: PathBuf,
    controllers: Vec<String>,
    swap: bool,
}

pub struct Run {
    pub dir: PathBuf,
}

impl Tree {
    pub fn prepare(tree: &Hierarchy, configured: Option<&str>, root: bool) -> (Option<Tree>, Vec<ControllerState>) {
        let offered = files::read(&tree.mount, "cgroup.controllers").unwrap_or_default();
        let candidates: Vec<String> = match configured {
            Some(path) => vec![path.to_string()],
            None if tree.own == "/" => vec![format!("/{DEFAULT_NAME}")],
            None if root => vec![format!("{}/{DEFAULT_NAME}", tree.own), format!("/{DEFAULT_NAME}")],
            None => vec![format!("{}/{DEFAULT_NAME}", tree.own)],
        };
        let mut errors = Vec::new();
        for candidate in &candidates {
            match enable_down_to(tree, candidate) {
                Ok(parent) => {
                    let enabled = enabled(&parent);
                    let states = CONTROLLERS.iter().map(|c| state(c, &parent, &enabled, &offered)).collect();
                    let swap = parent.join("memory.swap.max").exists();
                    return (Some(Tree { parent, controllers: enabled, swap }), states);
                }
                Err(e) => errors.push(format!("{candidate}: {e}")),
            }
        }
        let reason = format!("cannot prepare a cgroup v2 parent ({})", errors.join("; "));
        (None, CONTROLLERS.iter().map(|c| ControllerState::missing(c, reason.clone())).collect())
    }

    pub fn create(&self, name: &str, limits: &RunLimits, cpu_quota: Option<f64>) -> io::Result<Run> {
        let dir = self.parent.join(name);
        files::make_dir(&dir)?;
        let run = Run { dir };
        if let Err(e) = self.limit(&run.dir, limits, cpu_quota) {
            let _ = files::remove(&run.dir);
            return Err(e);
        }
        Ok(run)
    }

    fn limit(&self, dir: &Path, limits: &RunLimits, cpu_quota: Option<f64>) -> io::Result<()> {
        let has = |c: &str| self.controllers.iter().any(|e| e == c);
        if let (Some(bytes), true) = (limits.memory_bytes, has("memory")) {
            files::write(dir, "memory.max", &bytes.to_string())?;
            if self.swap {
                files::write(dir, "memory.swap.max", "0")?;
            }
        }
        if let (Some(n), true) = (limits.processes, has("pids")) {
            files::write(dir, "pids.max", &n.to_string())?;
        }
        if let (Some(cpus), true) = (cpu_quota, has("cpu")) {
            let quota = (cpus * CPU_PERIOD_US as f64).round().max(1000.0) as u64;
            files::write(dir, "cpu.max", &format!("{quota} {CPU_PERIOD_US}"))?;
        }
        Ok(())
    }
}

impl Run {
    pub fn usage(&self) -> Usage {
        Usage {
            peak_memory_bytes: files::read_u64(&self.dir, "memory.peak"),
            cpu_usec: files::keyed(&self.dir, "cpu.stat", "usage_usec"),
            oom_kills: files::keyed(&self.dir, "memory.events", "oom_kill").unwrap_or(0),
            pids_limit_hits: files::keyed(&self.dir, "pids.events", "max").unwrap_or(0),
        }
    }
}

/// Creates the cgroup at `path` and hands every wanted controller the tree offers down to
/// it from the top, so its children can use them. Returns its directory.
fn enable_down_to(tree: &Hierarchy, path: &str) -> io::Result<PathBuf> {
    let offered = files::read(&tree.mount, "cgroup.controllers").unwrap_or_default();
    let wanted: Vec<&str> =
        CONTROLLERS.iter().copied().filter(|c| offered.split_whitespace().any(|o| o == *c)).collect();
    let target = join(&tree.mount, path);
    std::fs::create_dir_all(&target)?;
    let mut dir = tree.mount.clone();
    let mut cgroup = String::new();
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    for component in components {
        enable(&dir, &cgroup, &wanted, tree)?;
        dir.push(component);
        cgroup = format!("{cgroup}/{component}");
    }
    enable(&dir, &cgroup, &wanted, tree)?;
    Ok(target)
}

/// Enables `wanted` in `dir`'s subtree_control where not yet enabled. If the kernel refuses
/// because the daemon's own cgroup holds processes, they move to a leaf beside the runs.
fn enable(dir: &Path, cgroup: &str, wanted: &[&str], tree: &Hierarchy) -> io::Result<()> {
    let have = enabled(dir);
    let missing: Vec<String> =
        wanted.iter().filter(|c| !have.iter().any(|h| h == *c)).map(|c| format!("+{c}")).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let value = missing.join(" ");
    match files::write(dir, "cgroup.subtree_control", &value) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) && same_cgroup(cgroup, &tree.own) => {
            move_processes_to_leaf(dir)?;
            files::write(dir, "cgroup.subtree_control", &value)
        }
        other => other,
    }
}

fn same_cgroup(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

fn move_processes_to_leaf(dir: &Path) -> io::Result<()> {
    let leaf = dir.join(DAEMON_LEAF);
    match std::fs::create_dir(&leaf) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    for pid in files::procs(dir) {
        // A process that exited meanwhile is not an error.
        match files::join(&leaf, pid as u32) {
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            other => other?,
        }
    }
    Ok(())
}

/// Controllers enabled for `dir`'s children (a fake file may keep the `+` of the write).
fn enabled(dir: &Path) -> Vec<String> {
    files::read(dir, "cgroup.subtree_control")
        .unwrap_or_default()
        .split_whitespace()
        .map(|c| c.trim_start_matches('+').to_string())
        .collect()
}

fn state(name: &str, parent: &Path, enabled: &[String], offered: &str) -> ControllerState {
    if enabled.iter().any(|e| e == name) {
        let what = match name {
            "memory" if parent.join("memory.swap.max").exists() => "memory.max per run, memory.swap.max 0",
            "memory" => "memory.max per run (no swap accounting on this kernel: swap is not limited)",
            "pids" => "pids.max per run",
            _ => "cpu.max per run",
        };
        return ControllerState {
            name: name.into(),
            active: true,
            detail: format!("cgroup v2 under {}: {what}", parent.display()),
        };
    }
    let detail = if offered.split_whitespace().any(|o| o == name) {
        format!("cgroup v2: not enabled in {}/cgroup.subtree_control", parent.display())
    } else {
        format!("cgroup v2: the tree does not offer the {name} controller (cgroup.controllers: {})", offered.trim())
    };
    ControllerState::missing(name, detail)
}
