//! User metadata of a workspace's files (E2B's file metadata): `user.e2b.<key>` extended
//! attributes, read and written without ever following a symlink. A filesystem without user
//! extended attributes keeps none, silently, as envd does.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use rustix::fs::{fremovexattr, fsetxattr, lgetxattr, llistxattr, XattrFlags};

use super::{open_file, WorkspaceFsError};

/// The attributes' namespace: the rest of the name is the key.
const PREFIX: &str = "user.e2b.";
/// Bytes of attribute names, and of one value, read at most.
const MAX_READ: usize = 4096;

/// The metadata of `name` in the directory `dir` (empty when it has none, or is a symlink,
/// or the filesystem keeps none).
pub(super) fn read_at(dir: &OwnedFd, name: &OsStr) -> BTreeMap<String, String> {
    // The directory's descriptor names it whatever its path; the last name is not followed.
    let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
    let mut names = vec![0u8; MAX_READ];
    let Ok(len) = llistxattr(&path, &mut names[..]) else { return BTreeMap::new() };
    let mut found = BTreeMap::new();
    for attr in names[..len.min(MAX_READ)].split(|b| *b == 0) {
        let Some(key) = std::str::from_utf8(attr).ok().and_then(|a| a.strip_prefix(PREFIX)) else { continue };
        let mut value = vec![0u8; MAX_READ];
        if let Ok(n) = lgetxattr(&path, attr, &mut value[..]) {
            found.insert(key.to_string(), String::from_utf8_lossy(&value[..n.min(MAX_READ)]).into_owned());
        }
    }
    found
}

/// Gives the regular file at `rel` exactly `metadata` (its other `user.e2b.` keys removed).
pub fn set_metadata(root: &Path, rel: &str, metadata: &BTreeMap<String, String>) -> Result<(), WorkspaceFsError> {
    let file = open_file(root, rel)?;
    let failed = |e: rustix::io::Errno| WorkspaceFsError::Io(rel.to_string(), Errno::from_raw(e.raw_os_error()));
    let unsupported = |e: &rustix::io::Errno| *e == rustix::io::Errno::NOTSUP;
    let mut names = vec![0u8; MAX_READ];
    let listed = match rustix::fs::flistxattr(file.as_fd(), &mut names[..]) {
        Ok(len) => len.min(MAX_READ),
        Err(e) if unsupported(&e) => return Ok(()),
        Err(e) => return Err(failed(e)),
    };
    for attr in names[..listed].split(|b| *b == 0).filter(|a| a.starts_with(PREFIX.as_bytes())) {
        fremovexattr(file.as_fd(), attr).map_err(failed)?;
    }
    for (key, value) in metadata {
        match fsetxattr(file.as_fd(), format!("{PREFIX}{key}").as_str(), value.as_bytes(), XattrFlags::empty()) {
            Ok(()) => {}
            Err(e) if unsupported(&e) => return Ok(()),
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(())
}
