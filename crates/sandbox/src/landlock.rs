//! Landlock: a second filesystem wall inside the sandbox's own view. The program may read and
//! execute only below the runtime paths, and write only below the writable ones, whatever the
//! mounts would allow.
//!
//! The ABI is pinned: the rules handle exactly the access rights of [`PINNED`], and a kernel
//! that cannot enforce all of them fails the run (the daemon asks for Landlock only when
//! [`probe`] says the kernel can).

use ::landlock::{
    path_beneath_rules, Access, AccessFs, BitFlags, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, ABI,
};

use crate::confinement::LandlockRules;

/// Filesystem rights up to ABI 3 (Linux 6.2): read, write, execute, make and remove every
/// kind of file, reparenting (refer) and truncation.
pub const PINNED: ABI = ABI::V3;
const PINNED_VERSION: i32 = 3;

/// Why Landlock cannot be used here, or could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error("the kernel is built without Landlock")]
    Missing,
    #[error("Landlock is not enabled at boot (lsm= list)")]
    Disabled,
    #[error("Landlock: {0}")]
    Probe(std::io::Error),
    #[error("the kernel offers Landlock ABI {0}; the sandbox needs ABI {PINNED_VERSION}")]
    Old(i32),
    #[error(transparent)]
    Ruleset(#[from] ::landlock::RulesetError),
    #[error("the kernel enforces the rules only as {0:?}")]
    Partial(RulesetStatus),
}

/// The kernel's Landlock ABI version, or why Landlock cannot be used here.
pub fn probe() -> Result<i32, LandlockError> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag, the kernel only
    // returns its ABI version (or an error); no memory is read or written and no descriptor
    // is created.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if version < 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ENOSYS) => LandlockError::Missing,
            Some(libc::EOPNOTSUPP) => LandlockError::Disabled,
            _ => LandlockError::Probe(err),
        });
    }
    let version = version as i32;
    if version < PINNED_VERSION {
        return Err(LandlockError::Old(version));
    }
    Ok(version)
}

/// Restricts the calling thread (the program's single-threaded process, before exec) and
/// everything it starts. Needs no_new_privs (set by the caller; set again here).
pub fn install(rules: &LandlockRules) -> Result<(), LandlockError> {
    let all = AccessFs::from_all(PINNED);
    let read_exec = AccessFs::from_read(PINNED);
    let list: BitFlags<AccessFs> = AccessFs::ReadDir.into();
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all)?
        .create()?
        .add_rules(path_beneath_rules(&rules.read_exec, read_exec))?
        .add_rules(path_beneath_rules(&rules.read_write, all))?
        .add_rules(path_beneath_rules(&rules.list, list))?
        .restrict_self()?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(()),
        other => Err(LandlockError::Partial(other)),
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    const CHILD: &str = "SANDBOX_LANDLOCK_TEST_CHILD";

    /// Restricting is for good, so it happens in a child: this test binary run again for this
    /// test alone, which applies the rules and reports what it could do.
    #[test]
    fn rules_confine_reads_and_writes() {
        if let Some(root) = std::env::var_os(CHILD) {
            let root = std::path::PathBuf::from(root);
            let path = |p: &str| root.join(p).display().to_string();
            let rules = LandlockRules {
                read_exec: vec![path("ro")],
                read_write: vec![path("rw"), path("missing")],
                list: vec![path("")],
            };
            install(&rules).expect("install");
            let can_read = |p: &str| std::fs::read(root.join(p)).is_ok();
            let can_write = |p: &str| std::fs::write(root.join(p), b"x").is_ok();
            println!(
                "RESULT ro-read={} ro-write={} rw-read={} rw-write={} other-read={} other-write={} list={}",
                can_read("ro/file"),
                can_write("ro/file"),
                can_read("rw/file"),
                can_write("rw/new"),
                can_read("other/file"),
                can_write("other/new"),
                std::fs::read_dir(&root).is_ok(),
            );
            return;
        }
        if let Err(why) = probe() {
            println!("skipped: {why}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for d in ["ro", "rw", "other"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
            std::fs::write(dir.path().join(d).join("file"), b"data").unwrap();
        }
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "landlock::tests::rules_confine_reads_and_writes", "--nocapture"])
            .env(CHILD, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find(|l| l.starts_with("RESULT")).unwrap_or_else(|| panic!("{stdout}"));
        assert_eq!(
            line,
            "RESULT ro-read=true ro-write=false rw-read=true rw-write=true other-read=false other-write=false list=true"
        );
    }
}
