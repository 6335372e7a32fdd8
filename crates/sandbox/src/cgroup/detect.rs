//! Which cgroup layout this host runs: pure v2, hybrid (v1 controllers beside a v2 tree), or
//! v1 only, read from the mount table and the process's own cgroup membership. Everything
//! here parses text, so tests describe a host with sample files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The controllers the sandbox limits runs with.
pub const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    /// The daemon's own cgroup in it, relative to the mount (`/` for the root).
    pub own: String,
}

/// What the host offers: the v2 tree if mounted, and each v1 controller's hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub unified: Option<Hierarchy>,
    /// v1 controller name (`memory`, `pids`, `cpu`, `cpuacct`, ...) to its hierarchy.
    pub v1: BTreeMap<String, Hierarchy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only a cgroup2 tree.
    Unified,
    /// v1 controllers and a cgroup2 tree beside them.
    Hybrid,
    /// v1 controllers only.
    Legacy,
    None,
}

impl Layout {
    /// Reads `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn detect() -> std::io::Result<Layout> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let membership = std::fs::read_to_string("/proc/self/cgroup")?;
        Ok(Layout::parse(&mountinfo, &membership))
    }

    pub fn parse(mountinfo: &str, membership: &str) -> Layout {
        let own = own_paths(membership);
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((fields, rest)) = line.split_once(" - ") else { continue };
            let fields: Vec<&str> = fields.split_whitespace().collect();
            let rest: Vec<&str> = rest.split_whitespace().collect();
            let (Some(root), Some(mount), Some(fstype)) = (fields.get(3), fields.get(4), rest.first()) else {
                continue;
            };
            let mount = PathBuf::from(unescape(mount));
            match *fstype {
                "cgroup2" => {
                    let own = relative(own.get("").map(String::as_str).unwrap_or("/"), root);
                    layout.unified = Some(Hierarchy { mount, own });
                }
                "cgroup" => {
                    let options = rest.get(2).copied().unwrap_or("");
                    for name in options.split(',').filter(|o| is_controller(o)) {
                        let key = own.keys().find(|k| k.split(',').any(|c| c == name));
                        let own = key.map(|k| own[k].as_str()).unwrap_or("/");
                        layout
                            .v1
                            .insert(name.to_string(), Hierarchy { mount: mount.clone(), own: relative(own, root) });
                    }
                }
                _ => {}
            }
        }
        layout
    }

    pub fn kind(&self) -> Kind {
        match (self.unified.is_some(), self.v1.is_empty()) {
            (true, true) => Kind::Unified,
            (true, false) => Kind::Hybrid,
            (false, false) => Kind::Legacy,
            (false, true) => Kind::None,
        }
    }

    /// Controllers the v2 tree offers at its root (none when it is not mounted).
    pub fn unified_controllers(&self) -> Vec<String> {
        let Some(tree) = &self.unified else { return Vec::new() };
        std::fs::read_to_string(tree.mount.join("cgroup.controllers"))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }
}

/// `hierarchy-id:controllers:path` lines; the v2 line has an empty controller list.
fn own_paths(membership: &str) -> BTreeMap<String, String> {
    membership
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((controllers.to_string(), path.to_string()))
        })
        .collect()
}

/// A cgroup path as seen from a mount of the hierarchy that starts at `root` (a container's
/// cgroup mount usually shows only its own subtree).
fn relative(path: &str, root: &str) -> String {
    if root == "/" {
        return path.to_string();
    }
    match path.strip_prefix(root) {
        Some("") => "/".into(),
        Some(rest) if rest.starts_with('/') => rest.into(),
        _ => path.into(),
    }
}

fn is_controller(option: &str) -> bool {
    const V1_CONTROLLERS: [&str; 14] = [
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    ];
    V1_CONTROLLERS.contains(&option)
}

/// Mount points in mountinfo escape spaces and a few other bytes as octal.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4).and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `mount` + the cgroup path, for a path relative to the hierarchy's root.
pub fn join(mount: &Path, cgroup: &str) -> PathBuf {
    mount.join(cgroup.trim_start_matches('/'))
}
