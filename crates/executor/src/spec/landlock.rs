//! The Landlock rules of a sandbox: they follow its own mounts.

use sandbox::{Confinement, LandlockRules, Mount};

use crate::ConfinementLayers;

/// The confinement of a run whose root is built from `mounts`.
pub(crate) fn for_mounts(layers: ConfinementLayers, mounts: &[Mount]) -> Confinement {
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
            Mount::Dev { target, terminals, .. } => {
                rules.read_exec.push(target.clone());
                if *terminals {
                    rules.read_write.push(format!("{target}/pts"));
                }
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
            Mount::Dev { target: "/dev".into(), shm_size_bytes: 1, terminals: false },
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
