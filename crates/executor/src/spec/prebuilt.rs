//! A sandbox built ahead of its run: a zygote's fork whose namespaces, root, /tmp and cgroup
//! exist before any request, waiting for the run that claims it ([`sandbox::Claim`]). Made
//! from a forked spec: everything of the run's own (its workspace, its files under
//! /sandbox, its command line, environment, stdin, limits and confinement) comes with the
//! claim; the rest is the sandbox's shape, which a run must share to claim it.

use sandbox::{Claim, ClaimFile, Mount, SandboxSpec, CLAIM_DIR};

use super::rootfs;

/// What a run and the sandbox it claims must have alike: everything the sandbox was built
/// with before the run existed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    mounts: Vec<Mount>,
    identity: sandbox::Identity,
    hostname: String,
}

impl Shape {
    /// The shape of a forked spec.
    pub fn of(forked: &SandboxSpec) -> Shape {
        let mut mounts: Vec<Mount> = forked
            .mounts
            .iter()
            .filter(|m| !is_claimed_file(m))
            .map(|m| match m {
                // The handed workspace is attached at the claim, over an empty directory.
                Mount::Handed { target } => Mount::Dir { target: target.clone(), mode: 0o755 },
                other => other.clone(),
            })
            .collect();
        mounts.push(Mount::Tmpfs { target: CLAIM_DIR.into(), size_bytes: CLAIM_DIR_BYTES, mode: 0o755 });
        Shape { mounts, identity: forked.identity, hostname: forked.hostname.clone() }
    }
}

/// Room for a run's files (its code, event and context, the driver): a cap, not a reservation.
const CLAIM_DIR_BYTES: u64 = 64 << 20;

fn is_claimed_file(mount: &Mount) -> bool {
    matches!(mount, Mount::File { target, .. } if target.starts_with(&format!("{CLAIM_DIR}/")))
}

/// The spec of a sandbox of `shape` built ahead of its run, from a forked spec of a run like
/// the ones it will serve (for its limits). Its launcher's clock is its zygote's lifetime: a
/// one-shot run is held to its own timeout by the daemon, and a session interpreter may live
/// as long as its zygote.
pub(crate) fn prebuilt(shape: &Shape, like: &SandboxSpec) -> SandboxSpec {
    let mut limits = like.limits;
    limits.wall_time_ms = super::ZYGOTE_LIFETIME_MS;
    SandboxSpec {
        argv: Vec::new(),
        env: Vec::new(),
        cwd: rootfs::WORKSPACE.into(),
        identity: shape.identity,
        hostname: shape.hostname.clone(),
        mounts: shape.mounts.clone(),
        limits,
        stdin: String::new(),
        // Every sandbox built ahead has a channel; a run without one closes it at its claim.
        channel_fd: Some(crate::driver::CHANNEL_FD),
        confinement: Default::default(),
        session_fd: None,
        egress: None,
        awaits_claim: true,
        agent: false,
    }
}

/// What a run with the forked spec `run` sends to the sandbox it claims.
pub(crate) fn claim_of(run: &SandboxSpec) -> Claim {
    let files = run
        .mounts
        .iter()
        .filter(|m| is_claimed_file(m))
        .filter_map(|m| match m {
            Mount::File { target, contents, mode } => {
                Some(ClaimFile { target: target.clone(), contents: contents.clone(), mode: *mode })
            }
            _ => None,
        })
        .collect();
    let mount_at = run.mounts.iter().find_map(|m| match m {
        Mount::Handed { target } => Some(target.clone()),
        _ => None,
    });
    Claim {
        argv: run.argv.clone(),
        env: run.env.clone(),
        cwd: run.cwd.clone(),
        stdin: run.stdin.clone(),
        limits: run.limits,
        confinement: run.confinement.clone(),
        channel_fd: run.channel_fd,
        session_fd: run.session_fd,
        mount_at,
        files,
    }
}
