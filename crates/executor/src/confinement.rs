//! The confinement layers of every run: which ones this host supports (probed once at start).
//! The Landlock rules that match a run's own mounts are part of its spec ([`crate::spec`]).

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
