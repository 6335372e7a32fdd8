//! Enters fresh namespaces as an unprivileged host user, mapped to the sandbox's inside ids.
//!
//! The launcher first becomes the unprivileged host user (when it starts as root), then
//! unshares every namespace at once and writes a one-id map for itself. An unprivileged user
//! may map only its own ids, which is exactly what we want: nothing inside can ever act as any
//! other host user, and the same code runs whether or not the daemon is root.

use std::fs;

use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl;
use nix::unistd::{getegid, geteuid, setgroups, setresgid, setresuid, Gid, Uid};

use super::error::{SetupResult, Stage};
use crate::spec::Identity;

/// The namespaces every sandbox gets.
pub const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mount", CloneFlags::CLONE_NEWNS),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("network", CloneFlags::CLONE_NEWNET),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
];

/// Drops to the host identity (when root), then enters the namespaces with `identity`'s
/// inside ids mapped onto the host ids. Returns the host ids actually used.
pub fn enter(identity: &Identity) -> SetupResult<(u32, u32)> {
    let (host_uid, host_gid) = become_host_user(identity)?;
    // Changing ids made the process non-dumpable, which makes /proc/self/*_map root-owned.
    prctl::set_dumpable(true).stage(|| "set dumpable".into())?;
    // The mount namespace is the sandbox's pid 1's alone (see `enter_mount_namespace`).
    let flags = NAMESPACES.iter().fold(CloneFlags::empty(), |acc, (_, f)| acc | *f) - CloneFlags::CLONE_NEWNS;
    unshare(flags).stage(|| "unshare namespaces".into())?;
    fs::write("/proc/self/setgroups", "deny").stage(|| "deny setgroups".into())?;
    fs::write("/proc/self/uid_map", format!("{} {host_uid} 1\n", identity.uid)).stage(|| "write uid_map".into())?;
    fs::write("/proc/self/gid_map", format!("{} {host_gid} 1\n", identity.gid)).stage(|| "write gid_map".into())?;
    // From here on nothing inside may ptrace or read the memory of our own processes.
    prctl::set_dumpable(false).stage(|| "clear dumpable".into())?;
    Ok((host_uid, host_gid))
}

/// Gives the calling process (the sandbox's pid 1) a mount namespace of its own, owned by the
/// sandbox's user namespace. The launcher stays outside it: pivot_root moves the root of every
/// process of a mount namespace, and the launcher must keep the host's.
pub fn enter_mount_namespace() -> SetupResult<()> {
    unshare(CloneFlags::CLONE_NEWNS).stage(|| "unshare mount namespace".into())
}

fn become_host_user(identity: &Identity) -> SetupResult<(u32, u32)> {
    if !geteuid().is_root() {
        return Ok((geteuid().as_raw(), getegid().as_raw()));
    }
    if identity.host_uid == 0 || identity.host_gid == 0 {
        return Err(super::error::SetupError::new("identity", "the host uid/gid must not be 0"));
    }
    let gid = Gid::from_raw(identity.host_gid);
    let uid = Uid::from_raw(identity.host_uid);
    setgroups(&[gid]).stage(|| "setgroups".into())?;
    setresgid(gid, gid, gid).stage(|| "setresgid".into())?;
    setresuid(uid, uid, uid).stage(|| "setresuid".into())?;
    Ok((identity.host_uid, identity.host_gid))
}
