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
        let wanted = CONTROLLERS.iter().filter(|c| offered.split_whitespace().any(|o| o == **c)).count();
        let mut errors = Vec::new();
        let mut partial = None;
        for candidate in &candidates {
            match enable_down_to(tree, candidate) {
                Ok((parent, refusals)) => {
                    let enabled = enabled(&parent);
                    if enabled.iter().filter(|e| CONTROLLERS.contains(&e.as_str())).count() >= wanted {
                        return Tree::ready(parent, enabled, &offered, &refusals);
                    }
                    partial.get_or_insert((parent, enabled, refusals));
                }
                Err(e) => errors.push(format!("{candidate}: {e}")),
            }
        }
        if let Some((parent, enabled, refusals)) = partial {
            return Tree::ready(parent, enabled, &offered, &refusals);
        }
        (None, unusable(&format!("cannot prepare a cgroup v2 parent ({})", errors.join("; "))))
    }

    fn ready(
        parent: PathBuf,
        enabled: Vec<String>,
        offered: &str,
        refusals: &[String],
    ) -> (Option<Tree>, Vec<ControllerState>) {
        if let Err(why) = files::probe(&parent) {
            return (None, unusable(&format!("cgroup v2: {why}")));
        }
        let states = CONTROLLERS.iter().map(|c| state(c, &parent, &enabled, offered, refusals)).collect();
        let swap = parent.join("memory.swap.max").exists();
        (Some(Tree { parent, controllers: enabled, swap }), states)
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
            memory_limit_hits: files::keyed(&self.dir, "memory.events", "max").unwrap_or(0),
            pids_limit_hits: files::keyed(&self.dir, "pids.events", "max").unwrap_or(0),
        }
    }
}

/// Creates the cgroup at `path` and hands every wanted controller the tree offers down to
/// it from the top, so its children can use them. Returns its directory and why any level
/// refused (above a delegated subtree, the controllers are usually enabled already).
fn enable_down_to(tree: &Hierarchy, path: &str) -> io::Result<(PathBuf, Vec<String>)> {
    let offered = files::read(&tree.mount, "cgroup.controllers").unwrap_or_default();
    let wanted: Vec<&str> =
        CONTROLLERS.iter().copied().filter(|c| offered.split_whitespace().any(|o| o == *c)).collect();
    let target = join(&tree.mount, path);
    std::fs::create_dir_all(&target)?;
    let mut refusals = Vec::new();
    let mut dir = tree.mount.clone();
    let mut cgroup = String::new();
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if let Err(e) = enable(&dir, &cgroup, &wanted, tree) {
            refusals.push(e.to_string());
        }
        dir.push(component);
        cgroup = format!("{cgroup}/{component}");
    }
    // The runs' parent is ours and holds no processes: this fails only where a level above
    // did not hand a controller down.
    if let Err(e) = enable(&dir, &cgroup, &wanted, tree) {
        refusals.push(e.to_string());
    }
    Ok((target, refusals))
}

/// Enables `wanted` in `dir`'s subtree_control where not yet enabled. If the kernel refuses
/// because the daemon's own cgroup holds processes, they move to a leaf beside the runs.
fn enable(dir: &Path, cgroup: &str, wanted: &[&str], tree: &Hierarchy) -> io::Result<()> {
    let have = enabled(dir);
    // A level lists what its parent handed down (a fake tree may not say: then all of it).
    let available = files::read(dir, "cgroup.controllers");
    let missing: Vec<String> = wanted
        .iter()
        .filter(|c| !have.iter().any(|h| h == *c))
        .filter(|c| available.as_deref().is_none_or(|a| a.split_whitespace().any(|o| o == **c)))
        .map(|c| format!("+{c}"))
        .collect();
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

fn state(name: &str, parent: &Path, enabled: &[String], offered: &str, refusals: &[String]) -> ControllerState {
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
        let why = if refusals.is_empty() { String::new() } else { format!(" ({})", refusals.join("; ")) };
        format!("cgroup v2: cannot enable it in {}/cgroup.subtree_control{why}", parent.display())
    } else {
        format!("cgroup v2: the tree does not offer the {name} controller (cgroup.controllers: {})", offered.trim())
    };
    ControllerState::missing(name, detail)
}

/// Every controller missing for one cause of the whole tree; each says which controller it is,
/// as on v1 where each has a hierarchy (and a reason) of its own.
fn unusable(why: &str) -> Vec<ControllerState> {
    CONTROLLERS
        .iter()
        .map(|c| ControllerState::missing(c, format!("the {c} controller cannot be used: {why}")))
        .collect()
}
