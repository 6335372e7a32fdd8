//! Host-side operations of the daemon itself: workspace mounts and facts about the host.

use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::geteuid;

/// Whether the daemon runs as root (and so can mount size-capped workspaces and map the
/// sandbox to a dedicated unprivileged host user).
pub fn is_root() -> bool {
    geteuid().is_root()
}

/// Mounts a tmpfs of at most `size_bytes` at `path`, owned by the sandbox's host user, so a
/// workspace can never fill the host's disk.
pub fn mount_workspace(path: &Path, size_bytes: u64, owner: (u32, u32)) -> nix::Result<()> {
    let data = format!("size={size_bytes},mode=0700,uid={},gid={}", owner.0, owner.1);
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(Some("tmpfs"), path, Some("tmpfs"), flags, Some(data.as_str()))
}

/// Detaches whatever is mounted at `path` (nothing there is not an error).
pub fn unmount(path: &Path) -> nix::Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        other => other,
    }
}

/// The running kernel's release string.
/// The namespaces every sandbox gets, by name (what the posture reports).
pub fn namespace_names() -> impl Iterator<Item = &'static str> {
    crate::init::NAMESPACES.iter().map(|(name, _)| *name)
}

pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Whether the filesystem holding `path` is (as good as) full: fewer than 1/64 of its
/// blocks, or none of its inodes, left. A program that failed with such a filesystem most
/// likely failed for want of space.
pub fn filesystem_full(path: &Path) -> bool {
    match nix::sys::statvfs::statvfs(path) {
        Ok(fs) => {
            let blocks_left = fs.blocks_available();
            blocks_left.saturating_mul(64) <= fs.blocks() || (fs.files() > 0 && fs.files_available() == 0)
        }
        Err(_) => false,
    }
}

/// Bytes used and in all of the filesystem holding `path`.
pub fn filesystem_usage(path: &Path) -> Option<(u64, u64)> {
    let fs = nix::sys::statvfs::statvfs(path).ok()?;
    let block = fs.fragment_size();
    let total = fs.blocks().saturating_mul(block);
    Some((total.saturating_sub(fs.blocks_free().saturating_mul(block)), total))
}

/// The daemon's own limit of open descriptors: `(soft, hard)`.
pub fn open_files_limit() -> nix::Result<(u64, u64)> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
}

/// Raises the daemon's soft limit of open descriptors to its hard limit (an unprivileged
/// process may, and a service manager's default soft limit, 1024, is far below what a
/// daemon holding many sandboxes and connections needs); returns the limits now in force.
pub fn raise_open_files_limit() -> nix::Result<(u64, u64)> {
    let (soft, hard) = open_files_limit()?;
    if soft < hard {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    open_files_limit()
}

/// Whether an error is the process (`EMFILE`) or the system (`ENFILE`) out of descriptors.
pub fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
