//! What a running sandbox's cgroup holds now: its memory, its memory limit and the CPU time
//! its processes used (a box's metrics).

use super::files;
use super::relimit::Limiter;

/// A cgroup's figures now; `None` where its controller is not in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveUsage {
    pub memory_bytes: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub cpu_usec: Option<u64>,
}

/// Limits this large mean "no limit" (cgroup v1 says so with a number near `i64::MAX`).
const UNLIMITED: u64 = 1 << 60;

impl Limiter {
    pub fn now(&self) -> LiveUsage {
        let limit = |value: Option<u64>| value.filter(|v| *v < UNLIMITED);
        match self {
            Limiter::V2 { dir } => LiveUsage {
                memory_bytes: files::read_u64(dir, "memory.current"),
                memory_limit_bytes: limit(files::read_u64(dir, "memory.max")),
                cpu_usec: files::keyed(dir, "cpu.stat", "usage_usec"),
            },
            Limiter::V1 { memory, cpu, .. } => LiveUsage {
                memory_bytes: memory.as_deref().and_then(|d| files::read_u64(d, "memory.usage_in_bytes")),
                memory_limit_bytes: limit(memory.as_deref().and_then(|d| files::read_u64(d, "memory.limit_in_bytes"))),
                cpu_usec: cpu.as_deref().and_then(|d| files::read_u64(d, "cpuacct.usage")).map(|ns| ns / 1000),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_from_either_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.current"), "4096\n").unwrap();
        std::fs::write(dir.path().join("memory.max"), "max\n").unwrap();
        std::fs::write(dir.path().join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
        let v2 = Limiter::V2 { dir: dir.path().into() }.now();
        assert_eq!(v2, LiveUsage { memory_bytes: Some(4096), memory_limit_bytes: None, cpu_usec: Some(1500) });
        std::fs::write(dir.path().join("memory.usage_in_bytes"), "100").unwrap();
        std::fs::write(dir.path().join("memory.limit_in_bytes"), "9223372036854771712").unwrap();
        std::fs::write(dir.path().join("cpuacct.usage"), "2000000").unwrap();
        let p = || Some(dir.path().to_path_buf());
        let v1 = Limiter::V1 { memory: p(), memsw: false, pids: None, cpu: p() }.now();
        assert_eq!(v1, LiveUsage { memory_bytes: Some(100), memory_limit_bytes: None, cpu_usec: Some(2000) });
    }
}
