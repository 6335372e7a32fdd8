//! The machine a benchmark ran on, and a process's resident memory, read from /proc.

use serde_json::{json, Value};

pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub memory_mb: u64,
    pub load: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu_model: field(&cpuinfo, "model name").unwrap_or("unknown").to_owned(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
            memory_mb: field(&meminfo, "MemTotal").and_then(kib).map_or(0, |k| k / 1024),
            load: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"cpus": self.cpus, "cpu_model": self.cpu_model, "kernel": self.kernel,
               "memory_mb": self.memory_mb, "load_average": self.load})
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} CPUs ({}), Linux {}, {} MiB memory, load average {}",
            self.cpus, self.cpu_model, self.kernel, self.memory_mb, self.load
        )
    }
}

/// The resident set of process `pid` in MiB (VmRSS), or None when it cannot be read.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    field(&status, "VmRSS").and_then(kib).map(|k| k as f64 / 1024.0)
}

/// The value of `name: value` in a /proc text file.
pub fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == name).then(|| value.trim())
    })
}

/// `123456 kB` as a number of KiB.
pub fn kib(value: &str) -> Option<u64> {
    value.strip_suffix("kB")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read_by_name() {
        let status = "Name:\tsandbox-executor\nVmPeak:\t  90000 kB\nVmRSS:\t   12288 kB\n";
        assert_eq!(field(status, "VmRSS").and_then(kib), Some(12288));
        assert_eq!(field(status, "VmSwap"), None);
        assert_eq!(kib("12 MB"), None);
    }
}
