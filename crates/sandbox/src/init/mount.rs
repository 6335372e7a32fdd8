//! Builds the sandbox's root filesystem from [`Mount`] steps and pivots into it.
//!
//! Runs in the sandbox's pid 1, inside fresh user and mount namespaces. The host root stays
//! reachable at `/oldroot` while the new root is assembled at `/newroot`, so bind sources are
//! found even if a step covers their host path; then the host root is detached for good.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, pivot_root};

use super::error::{SetupError, SetupResult, Stage};
use super::sys;
use crate::spec::Mount;

/// Where the staging tmpfs goes before the first pivot. It only hides the host path inside
/// this private mount namespace.
const STAGING: &str = "/tmp";
const OLD: &str = "/oldroot";
const NEW: &str = "/newroot";

/// Host device nodes that a minimal /dev exposes.
const DEVICES: [&str; 5] = crate::confinement::DEV_NODES;

/// Assembles the root from `mounts` and makes it the process's `/`, read-only. `handed` is
/// the detached mount a [`Mount::Handed`] step attaches.
pub fn build_root(mounts: &[Mount], root_size_bytes: u64, mut handed: Option<OwnedFd>) -> SetupResult<()> {
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .stage(|| "make mounts private".into())?;
    mount_tmpfs(Path::new(STAGING), 1 << 20, 0o755).stage(|| "staging tmpfs".into())?;
    for dir in ["oldroot", "newroot"] {
        fs::create_dir(Path::new(STAGING).join(dir)).stage(|| "staging dirs".into())?;
    }
    let new_root = Path::new(STAGING).join("newroot");
    mount_tmpfs(&new_root, root_size_bytes, 0o755).stage(|| "root tmpfs".into())?;
    pivot_root(STAGING, &Path::new(STAGING).join("oldroot")).stage(|| "pivot to staging".into())?;
    chdir("/").stage(|| "chdir /".into())?;

    for step in mounts {
        match step {
            Mount::Handed { target } => attach(handed.take(), target)?,
            step => apply(step)?,
        }
    }

    // pivot_root(".", ".") stacks the staging root (with the host root under it) on top of
    // the new root; detaching it leaves nothing of the host but the binds made above.
    chdir(NEW).stage(|| "chdir new root".into())?;
    pivot_root(".", ".").stage(|| "pivot to new root".into())?;
    umount2(".", MntFlags::MNT_DETACH).stage(|| "detach host root".into())?;
    chdir("/").stage(|| "chdir /".into())?;
    let ro = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    mount(None::<&str>, "/", None::<&str>, ro | MsFlags::MS_NOSUID | MsFlags::MS_NODEV, None::<&str>)
        .stage(|| "remount root read-only".into())
}

fn apply(step: &Mount) -> SetupResult<()> {
    match step {
        Mount::Bind { source, target, writable, optional } => {
            bind(&host(source), &inside(target), *writable, *optional)
        }
        Mount::Tmpfs { target, size_bytes, mode } => {
            let dst = inside(target);
            fs::create_dir_all(&dst).stage(|| format!("mkdir {target}"))?;
            mount_tmpfs(&dst, *size_bytes, *mode).stage(|| format!("tmpfs {target}"))
        }
        Mount::File { target, contents, mode } => {
            let dst = inside(target);
            make_parent(&dst, target)?;
            fs::write(&dst, contents).stage(|| format!("write {target}"))?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(*mode)).stage(|| format!("chmod {target}"))
        }
        Mount::Dir { target, mode } => {
            let dst = inside(target);
            fs::create_dir_all(&dst).stage(|| format!("mkdir {target}"))?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(*mode)).stage(|| format!("chmod {target}"))
        }
        Mount::Symlink { link_target, target } => {
            let dst = inside(target);
            make_parent(&dst, target)?;
            symlink(link_target, &dst).stage(|| format!("symlink {target}"))
        }
        Mount::Proc { target } => {
            let dst = inside(target);
            fs::create_dir_all(&dst).stage(|| format!("mkdir {target}"))?;
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            mount(Some("proc"), &dst, Some("proc"), flags, None::<&str>).stage(|| format!("mount proc on {target}"))
        }
        Mount::Dev { target, shm_size_bytes, terminals } => dev(target, *shm_size_bytes, *terminals),
        Mount::Handed { target } => attach(None, target),
    }
}

/// Attaches the handed-over mount at `target`; fails closed when none came with the spec.
fn attach(handed: Option<OwnedFd>, target: &str) -> SetupResult<()> {
    let fd = handed.ok_or_else(|| SetupError::new(format!("mount on {target}"), "no mount came with the spec"))?;
    let dst = inside(target);
    fs::create_dir_all(&dst).stage(|| format!("mkdir {target}"))?;
    sys::move_mount(&fd, &dst).stage(|| format!("attach the handed mount on {target}"))
}

/// The host path `p` as seen while the host root sits at /oldroot.
fn host(p: &str) -> PathBuf {
    Path::new(OLD).join(p.trim_start_matches('/'))
}

/// The sandbox path `p` while the new root is assembled at /newroot.
fn inside(p: &str) -> PathBuf {
    Path::new(NEW).join(p.trim_start_matches('/'))
}

fn make_parent(dst: &Path, target: &str) -> SetupResult<()> {
    match dst.parent() {
        Some(parent) => fs::create_dir_all(parent).stage(|| format!("mkdir parent of {target}")),
        None => Ok(()),
    }
}

fn mount_tmpfs(dst: &Path, size_bytes: u64, mode: u32) -> nix::Result<()> {
    let data = format!("size={size_bytes},mode={mode:o}");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(Some("tmpfs"), dst, Some("tmpfs"), flags, Some(data.as_str()))
}

fn bind(src: &Path, dst: &Path, writable: bool, optional: bool) -> SetupResult<()> {
    let shown = src.strip_prefix(OLD).map(|p| format!("/{}", p.display())).unwrap_or_default();
    let meta = match fs::metadata(src) {
        Ok(meta) => meta,
        Err(_) if optional => return Ok(()),
        Err(e) => return Err(e).stage(|| format!("bind source {shown}")),
    };
    if meta.is_dir() {
        fs::create_dir_all(dst).stage(|| format!("mkdir for {shown}"))?;
    } else {
        make_parent(dst, &shown)?;
        fs::write(dst, b"").stage(|| format!("mount point for {shown}"))?;
    }
    mount(Some(src), dst, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .stage(|| format!("bind {shown}"))?;
    restrict(dst, writable).stage(|| format!("remount {shown}"))
}

/// Remounts a bind nosuid, nodev and (unless writable) read-only, keeping the flags the
/// kernel locked on mounts inherited from the host (changing those fails with EPERM).
fn restrict(dst: &Path, writable: bool) -> nix::Result<()> {
    let have = statvfs(dst)?.flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    for (st, ms) in [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if have.contains(st) {
            flags |= ms;
        }
    }
    if !writable || have.contains(FsFlags::ST_RDONLY) {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(None::<&str>, dst, None::<&str>, flags, None::<&str>)
}

fn dev(target: &str, shm_size_bytes: u64, terminals: bool) -> SetupResult<()> {
    let dst = inside(target);
    fs::create_dir_all(&dst).stage(|| format!("mkdir {target}"))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(Some("tmpfs"), &dst, Some("tmpfs"), flags, Some("size=65536,mode=755"))
        .stage(|| format!("tmpfs {target}"))?;
    for name in DEVICES {
        let node = dst.join(name);
        fs::write(&node, b"").stage(|| format!("{target}/{name}"))?;
        let src = Path::new(OLD).join("dev").join(name);
        // Device binds keep the host /dev mount's flags: nodev would make them unusable.
        let bind_flags = MsFlags::MS_BIND;
        mount(Some(&src), &node, None::<&str>, bind_flags, None::<&str>).stage(|| format!("bind /dev/{name}"))?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dst.join(name)).stage(|| format!("{target}/{name}"))?;
    }
    let shm = dst.join("shm");
    fs::create_dir(&shm).stage(|| format!("{target}/shm"))?;
    mount_tmpfs(&shm, shm_size_bytes, 0o1777).stage(|| format!("{target}/shm tmpfs"))?;
    if terminals {
        terminals_at(&dst, target)?;
    }
    // The program may not add nodes or files to /dev itself; /dev/shm stays writable.
    let ro = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(None::<&str>, &dst, None::<&str>, ro, None::<&str>).stage(|| format!("remount {target} read-only"))
}

/// A devpts instance of the sandbox's own (its terminals are invisible to every other) at
/// `dev`/pts, and `dev`/ptmx pointing at its multiplexer.
fn terminals_at(dst: &Path, target: &str) -> SetupResult<()> {
    let pts = dst.join("pts");
    fs::create_dir(&pts).stage(|| format!("{target}/pts"))?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    mount(Some("devpts"), &pts, Some("devpts"), flags, Some("newinstance,ptmxmode=0666,mode=0620"))
        .stage(|| format!("devpts {target}/pts"))?;
    symlink("pts/ptmx", dst.join("ptmx")).stage(|| format!("{target}/ptmx"))
}
