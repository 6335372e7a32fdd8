//! The descriptors a sandbox's program is given, and the memory files some of them are.

use std::io::Write;
use std::os::fd::OwnedFd;

use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::unistd::{lseek, Whence};

use super::error::{SetupResult, Stage};

/// Descriptors the program gets besides the inherited stdout and stderr.
pub struct ProgramFds {
    pub stdin: OwnedFd,
    pub channel: Option<(OwnedFd, i32)>,
    /// A session's request socket and where the program finds it.
    pub session: Option<(OwnedFd, i32)>,
    /// Where the run comes from in a sandbox built ahead of it (see [`super::claim`]).
    pub claim: Option<OwnedFd>,
}

/// A close-on-exec anonymous memory file holding `contents`, read from its start.
pub fn memfd_with(name: &str, contents: &[u8]) -> SetupResult<OwnedFd> {
    let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC).stage(|| format!("memfd {name}"))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(contents).stage(|| format!("fill {name}"))?;
    let fd = OwnedFd::from(file);
    lseek(&fd, 0, Whence::SeekSet).stage(|| format!("rewind {name}"))?;
    Ok(fd)
}
