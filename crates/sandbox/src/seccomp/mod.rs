//! The system call filter of every sandboxed program: [`policy`] is the policy as data,
//! [`install`] compiles and installs it.

#[cfg(target_arch = "x86_64")]
pub mod install;
#[cfg(target_arch = "x86_64")]
mod numbers;
#[cfg(target_arch = "x86_64")]
pub mod policy;

/// Why this host cannot filter the program's system calls.
#[derive(Debug, thiserror::Error)]
pub enum Unfiltered {
    #[error("no system call policy for {}", std::env::consts::ARCH)]
    Architecture,
    #[error("/proc/self/status: {0}")]
    Status(std::io::Error),
    #[error("the kernel is built without seccomp")]
    Missing,
    #[error("the kernel's seccomp cannot answer with an errno")]
    NoErrno,
    #[cfg(target_arch = "x86_64")]
    #[error(transparent)]
    Compile(#[from] install::SeccompError),
}

/// Whether this host can filter the program's system calls: a description of the filter, or
/// why not.
pub fn probe() -> Result<String, Unfiltered> {
    #[cfg(not(target_arch = "x86_64"))]
    return Err(Unfiltered::Architecture);
    #[cfg(target_arch = "x86_64")]
    {
        let status = std::fs::read_to_string("/proc/self/status").map_err(Unfiltered::Status)?;
        if !status.lines().any(|l| l.starts_with("Seccomp:")) {
            return Err(Unfiltered::Missing);
        }
        let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap_or_default();
        if !actions.split_whitespace().any(|a| a == "errno") {
            return Err(Unfiltered::NoErrno);
        }
        install::compile()?;
        let allowed: usize = policy::ALLOWED.iter().map(|(_, calls)| calls.len()).sum();
        let checked = policy::CONDITIONAL.len();
        Ok(format!(
            "x86_64 allowlist of {allowed} system calls and {checked} with argument checks; \
             the rest fail with EPERM (ENOSYS for clone3 and io_uring)"
        ))
    }
}
