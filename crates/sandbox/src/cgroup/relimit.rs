//! Changing the limits of a run's cgroup after its start, from outside: how a sandbox started
//! ahead of its run is given the run's own memory and process limits when a request claims it.

use std::io;
use std::path::{Path, PathBuf};

use super::{files, RunCgroup, RunLimits};

/// Where one run's limits are written (a copy of its cgroup's directories; the cgroup itself
/// stays with its runner).
#[derive(Debug, Clone)]
pub enum Limiter {
    V2 { dir: PathBuf },
    V1 { memory: Option<PathBuf>, memsw: bool, pids: Option<PathBuf>, cpu: Option<PathBuf> },
}

impl RunCgroup {
    /// What can change this cgroup's limits later.
    pub fn limiter(&self) -> Limiter {
        match self {
            RunCgroup::V2(run) => Limiter::V2 { dir: run.dir.clone() },
            RunCgroup::V1(run) => {
                let memory = run.dir_of("memory");
                let memsw = memory.as_ref().is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists());
                let cpu = run.dir_of("cpuacct").or_else(|| run.dir_of("cpu"));
                Limiter::V1 { memory, memsw, pids: run.dir_of("pids"), cpu }
            }
        }
    }
}

impl Limiter {
    /// Sets the cgroup's memory and process limits (those of `limits` that are set, where
    /// the controller is in force). Refused, with nothing more written, when what the cgroup
    /// already holds is at or above a new limit: lowering the memory limit below its usage
    /// would make the kernel reclaim or kill what waits there.
    pub fn set(&self, limits: &RunLimits) -> io::Result<()> {
        let (memory, pids) = match self {
            Limiter::V2 { dir } => (Some((dir.as_path(), "memory.current")), Some(dir.as_path())),
            Limiter::V1 { memory, pids, .. } => {
                (memory.as_deref().map(|d| (d, "memory.usage_in_bytes")), pids.as_deref())
            }
        };
        if let (Some(bytes), Some((dir, usage))) = (limits.memory_bytes, memory) {
            check_room(dir, usage, bytes, "memory")?;
        }
        if let (Some(n), Some(dir)) = (limits.processes, pids) {
            check_room(dir, "pids.current", n, "processes")?;
        }
        if let Some(bytes) = limits.memory_bytes {
            self.set_memory(bytes)?;
        }
        match (limits.processes, pids) {
            (Some(n), Some(dir)) if dir.join("pids.max").exists() => files::write(dir, "pids.max", &n.to_string()),
            _ => Ok(()),
        }
    }

    fn set_memory(&self, bytes: u64) -> io::Result<()> {
        let value = bytes.to_string();
        match self {
            Limiter::V2 { dir } if dir.join("memory.max").exists() => files::write(dir, "memory.max", &value),
            Limiter::V2 { .. } | Limiter::V1 { memory: None, .. } => Ok(()),
            Limiter::V1 { memory: Some(dir), memsw: false, .. } => files::write(dir, "memory.limit_in_bytes", &value),
            Limiter::V1 { memory: Some(dir), memsw: true, .. } => {
                // Memory plus swap may never be below memory: raise it first, lower it last.
                let current = files::read_u64(dir, "memory.limit_in_bytes").unwrap_or(0);
                let order = match bytes > current {
                    true => ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"],
                    false => ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
                };
                order.iter().try_for_each(|file| files::write(dir, file, &value))
            }
        }
    }
}

/// Refuses a limit at or below what the cgroup at `dir` counts now (`file`), or unreadable.
fn check_room(dir: &Path, file: &str, limit: u64, what: &str) -> io::Result<()> {
    match files::read_u64(dir, file) {
        Some(now) if now < limit => Ok(()),
        Some(now) => {
            Err(io::Error::other(format!("the sandbox already holds {now} of {what}, the run may have {limit}")))
        }
        None if !dir.join(file).exists() => Ok(()),
        None => Err(io::Error::other(format!("cannot read {}", dir.join(file).display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, value) in files {
            std::fs::write(dir.path().join(name), value).unwrap();
        }
        dir
    }

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }

    #[test]
    fn a_limit_at_or_below_what_the_cgroup_holds_is_refused_and_nothing_is_written() {
        let dir =
            fake(&[("memory.current", "1000\n"), ("memory.max", "5000"), ("pids.current", "10"), ("pids.max", "20")]);
        let limiter = Limiter::V2 { dir: dir.path().into() };
        let low = RunLimits { memory_bytes: Some(4000), processes: Some(10) };
        assert!(limiter.set(&low).is_err(), "ten processes already there");
        assert_eq!((read(dir.path(), "memory.max"), read(dir.path(), "pids.max")), ("5000".into(), "20".into()));
        limiter.set(&RunLimits { memory_bytes: Some(8000), processes: Some(12) }).unwrap();
        assert_eq!((read(dir.path(), "memory.max"), read(dir.path(), "pids.max")), ("8000".into(), "12".into()));
    }

    #[test]
    fn v1_memory_and_swap_move_together_either_way() {
        let dir = fake(&[
            ("memory.usage_in_bytes", "100"),
            ("memory.limit_in_bytes", "1000"),
            ("memory.memsw.limit_in_bytes", "1000"),
        ]);
        let limiter = Limiter::V1 { memory: Some(dir.path().into()), memsw: true, pids: None, cpu: None };
        for bytes in [3000, 500] {
            limiter.set(&RunLimits { memory_bytes: Some(bytes), processes: Some(4) }).unwrap();
            let both = (read(dir.path(), "memory.limit_in_bytes"), read(dir.path(), "memory.memsw.limit_in_bytes"));
            assert_eq!(both, (bytes.to_string(), bytes.to_string()));
        }
        assert!(limiter.set(&RunLimits { memory_bytes: Some(100), processes: None }).is_err());
    }
}
