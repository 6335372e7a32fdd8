//! Per-process resource limits of the program.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use super::error::{SetupResult, Stage};
use crate::spec::Limits;

pub fn apply(limits: &Limits) -> SetupResult<()> {
    let mut set = vec![
        (Resource::RLIMIT_CORE, 0),
        (Resource::RLIMIT_FSIZE, limits.file_size_bytes),
        (Resource::RLIMIT_NOFILE, limits.open_files),
        (Resource::RLIMIT_NPROC, limits.processes),
    ];
    if let Some(data) = limits.data_bytes {
        set.push((Resource::RLIMIT_DATA, data));
    }
    for (resource, value) in set {
        // Never above the hard limit in force, which only a privileged process could raise.
        let (_, hard) = getrlimit(resource).stage(|| format!("getrlimit {resource:?}"))?;
        let value = value.min(hard);
        setrlimit(resource, value, value).stage(|| format!("setrlimit {resource:?}"))?;
    }
    Ok(())
}
