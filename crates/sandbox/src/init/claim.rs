//! A sandbox built ahead of its run takes the run here. Its program was forked by pid 1 once
//! the root was built (fresh namespaces, root, /tmp, cgroup), and waits with nothing of any
//! run in it. The claim brings the run: its workspace is attached, its files written and made
//! read-only, its stdin filled; then the program goes on as any program does (descriptors,
//! directory, limits, dropped privileges, confinement). One claim per sandbox: the socket it
//! came on is closed before the run starts.
//!
//! Protocol on the claim socket: the program writes [`CLAIM_READY`] once it waits; the daemon
//! sends the [`Claim`] as JSON (the session socket and then the workspace's detached mount
//! with its first byte) and shuts down its writing half; the program answers [`CLAIM_TAKEN`]
//! once the run is in place. An end of file instead of a claim ends the sandbox.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

use nix::mount::{mount, MsFlags};

use super::error::{SetupError, SetupResult, Stage};
use super::fds::{memfd_with, ProgramFds};
use super::sys;
use crate::spec::{Claim, ClaimFile, SandboxSpec, CLAIM_DIR};

/// What the waiting program says first.
pub const CLAIM_READY: &[u8; 6] = b"ready\n";
/// What it says once its run is in place.
pub const CLAIM_TAKEN: &[u8; 6] = b"taken\n";

/// Waits on `socket` for the run; returns the run's spec and the program's descriptors.
pub fn take(spec: &SandboxSpec, fds: ProgramFds, socket: OwnedFd) -> SetupResult<(SandboxSpec, ProgramFds)> {
    let mut socket = fs::File::from(socket);
    socket.write_all(CLAIM_READY).stage(|| "claim: say ready".into())?;
    let (mut raw, handed) = crate::handoff::receive(socket.as_fd()).stage(|| "claim: receive".into())?;
    if raw.is_empty() {
        return Err(SetupError::new("claim", "the sandbox was given up before a run claimed it"));
    }
    socket.read_to_end(&mut raw).stage(|| "claim: receive".into())?;
    let claim: Claim = serde_json::from_slice(&raw).stage(|| "claim: parse".into())?;
    if claim.session_fd.is_some() && claim.session_fd == claim.channel_fd {
        return Err(SetupError::new("claim", "the session socket and the channel at one descriptor"));
    }
    let mut handed = handed.into_iter();
    let mut next =
        |what: &str| handed.next().ok_or_else(|| SetupError::new("claim", format!("no {what} came with it")));
    let session = match claim.session_fd {
        Some(at) => Some((next("session socket")?, at)),
        None => None,
    };
    if let Some(at) = &claim.mount_at {
        let fd = next("mount")?;
        sys::move_mount(&fd, Path::new(at)).stage(|| format!("claim: attach the handed mount on {at}"))?;
    }
    write_files(&claim.files)?;
    let stdin = memfd_with("stdin", claim.stdin.as_bytes())?;
    socket.write_all(CLAIM_TAKEN).stage(|| "claim: say taken".into())?;
    drop(socket);
    let run = SandboxSpec {
        argv: claim.argv,
        env: claim.env,
        cwd: claim.cwd,
        stdin: String::new(),
        limits: claim.limits,
        confinement: claim.confinement,
        session_fd: claim.session_fd,
        channel_fd: claim.channel_fd,
        awaits_claim: false,
        agent: false,
        ..spec.clone()
    };
    let channel = fds.channel.and_then(|(fd, _)| claim.channel_fd.map(|at| (fd, at)));
    Ok((run, ProgramFds { stdin, channel, session, claim: None }))
}

/// Writes the run's files into the claim directory, then makes it read-only: the code can
/// read its files but never change them, as in a sandbox whose root was built with them.
fn write_files(files: &[ClaimFile]) -> SetupResult<()> {
    for file in files {
        let target = below_claim_dir(&file.target)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).stage(|| format!("claim: mkdir parent of {}", file.target))?;
        }
        fs::write(target, &file.contents).stage(|| format!("claim: write {}", file.target))?;
        fs::set_permissions(target, fs::Permissions::from_mode(file.mode))
            .stage(|| format!("claim: chmod {}", file.target))?;
    }
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, CLAIM_DIR, None::<&str>, flags, None::<&str>)
        .stage(|| format!("claim: remount {CLAIM_DIR} read-only"))
}

/// `target` when it names a file below [`CLAIM_DIR`] and nothing else.
fn below_claim_dir(target: &str) -> SetupResult<&Path> {
    let path = Path::new(target);
    let inside = path.strip_prefix(CLAIM_DIR).ok().filter(|rest| {
        rest.components().next().is_some() && rest.components().all(|c| matches!(c, Component::Normal(_)))
    });
    match inside {
        Some(_) => Ok(path),
        None => Err(SetupError::new("claim", format!("a file outside {CLAIM_DIR}: {target}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_below_the_claim_directory_are_written() {
        assert!(below_claim_dir("/sandbox/user.py").is_ok());
        assert!(below_claim_dir("/sandbox/dir/file").is_ok());
        for outside in ["/sandbox", "/sandbox/", "/etc/passwd", "/sandbox/../etc/passwd", "sandbox/x", "/sandboxx/y"] {
            assert!(below_claim_dir(outside).is_err(), "{outside}");
        }
    }
}
