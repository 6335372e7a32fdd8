//! cgroup v1: one hierarchy per controller (or per group of co-mounted controllers); a run
//! gets a directory in each.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::detect::{join, Hierarchy};
use super::{files, ControllerState, RunLimits, Usage, CONTROLLERS, CPU_PERIOD_US};

const DEFAULT_PARENT: &str = "/sandbox-executor";

pub struct Trees {
    /// Controller (the limited ones, and `cpuacct` for CPU time) to its parent directory.
    parents: BTreeMap<String, PathBuf>,
    memsw: bool,
}

pub struct Run {
    /// Controller to the run's directory in that controller's hierarchy.
    dirs: BTreeMap<String, PathBuf>,
}

impl Trees {
    pub fn prepare(v1: &BTreeMap<String, Hierarchy>, configured: Option<&str>) -> (Trees, Vec<ControllerState>) {
        let path = configured.unwrap_or(DEFAULT_PARENT);
        let mut parents = BTreeMap::new();
        let mut states = Vec::new();
        for name in CONTROLLERS.iter().copied().chain(["cpuacct"]) {
            let state = match v1.get(name) {
                None => Err(format!("cgroup v1: no hierarchy with the {name} controller is mounted")),
                Some(h) => {
                    let dir = join(&h.mount, path);
                    match std::fs::create_dir_all(&dir) {
                        Ok(()) => files::probe(&dir).map(|()| dir).map_err(|why| format!("cgroup v1: {why}")),
                        Err(e) => Err(format!("cgroup v1: cannot create {}: {e}", dir.display())),
                    }
                }
            };
            let detail = match &state {
                Ok(dir) => describe(name, dir),
                Err(reason) => reason.clone(),
            };
            if name != "cpuacct" {
                states.push(ControllerState { name: name.into(), active: state.is_ok(), detail });
            }
            if let Ok(dir) = state {
                parents.insert(name.to_string(), dir);
            }
        }
        let memsw = parents.get("memory").is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists());
        (Trees { parents, memsw }, states)
    }

    pub fn parents(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.parents.values().cloned().collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    pub fn create(&self, name: &str, limits: &RunLimits, cpu_quota: Option<f64>) -> io::Result<Run> {
        let mut run = Run { dirs: BTreeMap::new() };
        for (controller, parent) in &self.parents {
            let dir = parent.join(name);
            match files::make_dir(&dir) {
                // Co-mounted controllers (cpu,cpuacct) share one directory.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && run.dirs.values().any(|d| d == &dir) => {}
                Err(e) => {
                    run.remove();
                    return Err(e);
                }
                Ok(()) => {}
            }
            run.dirs.insert(controller.clone(), dir);
        }
        if let Err(e) = self.limit(&run, limits, cpu_quota) {
            run.remove();
            return Err(e);
        }
        Ok(run)
    }

    fn limit(&self, run: &Run, limits: &RunLimits, cpu_quota: Option<f64>) -> io::Result<()> {
        if let (Some(bytes), Some(dir)) = (limits.memory_bytes, run.dirs.get("memory")) {
            files::write(dir, "memory.limit_in_bytes", &bytes.to_string())?;
            if self.memsw {
                // Memory plus swap equal to memory: no swap at all.
                files::write(dir, "memory.memsw.limit_in_bytes", &bytes.to_string())?;
            }
            // Without swap accounting this is the only way to keep the run out of swap.
            let _ = files::write(dir, "memory.swappiness", "0");
        }
        if let (Some(n), Some(dir)) = (limits.processes, run.dirs.get("pids")) {
            files::write(dir, "pids.max", &n.to_string())?;
        }
        if let (Some(cpus), Some(dir)) = (cpu_quota, run.dirs.get("cpu")) {
            let quota = (cpus * CPU_PERIOD_US as f64).round().max(1000.0) as u64;
            files::write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
            files::write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
        }
        Ok(())
    }
}

impl Run {
    /// The run's directory in the hierarchy of `controller`, if it has one.
    pub fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        self.dirs.get(controller).cloned()
    }

    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self.dirs.values().cloned().collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    pub fn usage(&self) -> Usage {
        let dir = |c: &str| self.dirs.get(c).map(PathBuf::as_path);
        let memory = dir("memory");
        let cpu_ns = dir("cpuacct").or(dir("cpu")).and_then(|d| files::read_u64(d, "cpuacct.usage"));
        Usage {
            peak_memory_bytes: memory.and_then(|d| files::read_u64(d, "memory.max_usage_in_bytes")),
            cpu_usec: cpu_ns.map(|ns| ns / 1000),
            oom_kills: memory.and_then(|d| files::keyed(d, "memory.oom_control", "oom_kill")).unwrap_or(0),
            memory_limit_hits: memory.and_then(|d| files::read_u64(d, "memory.failcnt")).unwrap_or(0),
            pids_limit_hits: dir("pids").and_then(|d| files::keyed(d, "pids.events", "max")).unwrap_or(0),
        }
    }

    fn remove(&self) {
        for dir in self.dirs() {
            let _ = files::remove(&dir);
        }
    }
}

fn describe(name: &str, dir: &Path) -> String {
    let what = match name {
        "memory" if dir.join("memory.memsw.limit_in_bytes").exists() => {
            "memory.limit_in_bytes and memory.memsw.limit_in_bytes (no swap) per run"
        }
        "memory" => "memory.limit_in_bytes per run, swappiness 0 (no swap accounting on this kernel)",
        "pids" => "pids.max per run",
        "cpu" => "cpu.cfs_quota_us per run",
        _ => "cpuacct.usage per run",
    };
    format!("cgroup v1 under {}: {what}", dir.display())
}
