//! Applies the spec's [`Confinement`] to the program's process, after its privileges are gone
//! and right before it executes: Landlock first (its setup needs system calls the filter
//! denies), then the system call filter.

use super::error::{SetupError, SetupResult};
use crate::confinement::Confinement;

pub fn apply(confinement: &Confinement) -> SetupResult<()> {
    if let Some(rules) = &confinement.landlock {
        crate::landlock::install(rules).map_err(|e| SetupError::new("landlock", e))?;
    }
    if confinement.seccomp {
        seccomp().map_err(|e| SetupError::new("seccomp", e))?;
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
fn seccomp() -> Result<(), String> {
    crate::seccomp::install::install()
}

#[cfg(not(target_arch = "x86_64"))]
fn seccomp() -> Result<(), String> {
    Err(format!("no system call policy for {}", std::env::consts::ARCH))
}
