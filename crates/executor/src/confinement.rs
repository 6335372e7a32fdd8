//! The confinement layers of every run: which ones this host supports (probed once at start),
//! and the Landlock rules that match the run's own mounts.

use sandbox::{Confinement, LandlockRules, Mount};

/// The layers the daemon asks the sandbox for. On by default exactly where the host supports
/// them; a layer that is on and fails to apply fails the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfinementLayers {
    pub seccomp: bool,
    pub landlock: bool,
}

impl ConfinementLayers {
    /// Every layer this host supports and the operator wants, logged either way.
    pub fn probed(want_seccomp: bool, want_landlock: bool) -> Self {
        let seccomp = match sandbox::seccomp::probe() {
            Ok(_) if !want_seccomp => {
                tracing::warn!("the system call filter is turned off");
                false
            }
            Ok(filter) => {
                tracing::info!(%filter, "runs get a system call filter");
                true
            }
            Err(why) => {
                tracing::warn!(%why, "no system call filter for runs");
                false
            }
        };
        let landlock = match sandbox::landlock::probe() {
            Ok(_) if !want_landlock => {
                tracing::warn!("Landlock is turned off");
                false
            }
            Ok(abi) => {
                tracing::info!(kernel_abi = abi, pinned_abi = %sandbox::landlock::PINNED, "runs get Landlock rules");
                true
            }
            Err(why) => {
                tracing::warn!(%why, "no Landlock rules for runs");
                false
            }
        };
        ConfinementLayers { seccomp, landlock }
    }
}

/// The confinement of a run whose root is built from `mounts`.
pub fn for_mounts(layers: ConfinementLayers, mounts: &[Mount]) -> Confinement {
    Confinement { seccomp: layers.seccomp, landlock: layers.landlock.then(|| landlock_rules(mounts)) }
}

/// Read and execute what is bound read-only or written into the root, read and write the
/// writable binds and the tmpfs mounts, and list any directory (its names are all the
/// sandbox's own). Nothing else: the root's own tmpfs, for one, is neither readable nor writable.
fn landlock_rules(mounts: &[Mount]) -> LandlockRules {
    let mut rules = LandlockRules { list: vec!["/".into()], ..Default::default() };
    for mount in mounts {
        match mount {
            Mount::Bind { target, writable: true, .. } | Mount::Tmpfs { target, .. } | Mount::Handed { target } => {
                rules.read_write.push(target.clone())
            }
            Mount::Bind { target, writable: false, .. }
            | Mount::File { target, .. }
            | Mount::Dir { target, .. }
            | Mount::Proc { target } => rules.read_exec.push(target.clone()),
            Mount::Dev { target, .. } => {
                rules.read_exec.push(target.clone());
                rules.read_write.push(format!("{target}/shm"));
                rules.read_write.extend(sandbox::confinement::DEV_NODES.iter().map(|n| format!("{target}/{n}")));
            }
            // The link itself needs no rule; where it points has its own.
            Mount::Symlink { .. } => {}
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_mounts() {
        let mounts = vec![
            Mount::Bind { source: "/usr".into(), target: "/usr".into(), writable: false, optional: true },
            Mount::Symlink { link_target: "usr/bin".into(), target: "/bin".into() },
            Mount::Dir { target: "/etc".into(), mode: 0o755 },
            Mount::Proc { target: "/proc".into() },
            Mount::Dev { target: "/dev".into(), shm_size_bytes: 1 },
            Mount::Tmpfs { target: "/tmp".into(), size_bytes: 1, mode: 0o1777 },
            Mount::Bind { source: "/x".into(), target: "/workspace".into(), writable: true, optional: false },
            Mount::File { target: "/sandbox/main.py".into(), contents: String::new(), mode: 0o444 },
        ];
        let c = for_mounts(ConfinementLayers { seccomp: true, landlock: true }, &mounts);
        assert!(c.seccomp);
        let rules = c.landlock.unwrap();
        assert_eq!(rules.read_exec, ["/usr", "/etc", "/proc", "/dev", "/sandbox/main.py"]);
        assert_eq!(
            rules.read_write,
            ["/dev/shm", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/tmp", "/workspace"]
        );
        assert_eq!(rules.list, ["/"]);
        assert_eq!(for_mounts(ConfinementLayers::default(), &mounts), Confinement::default());
    }
}
