//! What a sandbox started ahead of its run bound from the host, as it was then. A host file
//! replaced since (`ldconfig` and every package upgrade write a new file and rename it over
//! the old one) is not what a fresh sandbox would see; and a zygote's forks, which bind it
//! again from the zygote's own view, where the old file is gone, cannot be built at all. Such
//! a sandbox is stale, and is replaced.

use std::os::unix::fs::MetadataExt;

use sandbox::Mount;

/// The identity (device, inode) of each read-only bind source of a spec, when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostBinds {
    sources: Vec<(String, Option<(u64, u64)>)>,
}

impl HostBinds {
    /// The read-only binds of `mounts` as the host has them now. Writable binds are the
    /// sandbox's own workspace, which nothing replaces.
    pub fn of(mounts: &[Mount]) -> HostBinds {
        let sources = mounts
            .iter()
            .filter_map(|m| match m {
                Mount::Bind { source, writable: false, .. } => Some(source.clone()),
                _ => None,
            })
            .map(|source| {
                let id = identity(&source);
                (source, id)
            })
            .collect();
        HostBinds { sources }
    }

    /// Whether every source is still the file or directory it was (a missing optional one
    /// still missing).
    pub fn current(&self) -> bool {
        self.sources.iter().all(|(source, id)| identity(source) == *id)
    }
}

/// Followed through symlinks, as the bind follows them.
fn identity(path: &str) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &std::path::Path, writable: bool) -> Mount {
        Mount::Bind { source: source.display().to_string(), target: "/x".into(), writable, optional: true }
    }

    #[test]
    fn a_source_replaced_by_rename_makes_the_binds_stale() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ld.so.cache");
        std::fs::write(&file, "old").unwrap();
        let binds = HostBinds::of(&[bind(&file, false), bind(&dir.path().join("missing"), false)]);
        std::fs::write(&file, "rewritten in place").unwrap();
        assert!(binds.current(), "the same file, written in place, is what the bind shows");
        let next = dir.path().join("ld.so.cache~");
        std::fs::write(&next, "new").unwrap();
        std::fs::rename(&next, &file).unwrap();
        assert!(!binds.current(), "a file renamed over the source is another file");
    }

    #[test]
    fn writable_binds_are_not_watched() {
        let dir = tempfile::tempdir().unwrap();
        let binds = HostBinds::of(&[bind(dir.path(), true)]);
        assert!(binds.sources.is_empty());
    }
}
