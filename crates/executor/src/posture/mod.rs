//! The isolation layers of this host, as `GET /info` and `sandbox-executor check` report them.

use std::path::Path;

use sandbox::cgroup::ControllerState;
use sandbox::host;

use crate::confinement::ConfinementLayers;

mod info;

pub use info::{interpreters, HostInfo, Isolation, LanguageInfo, Layer, OpenFilesLimit, Platform};

/// Layers the sandbox applies to every run: in force exactly when a real run works here.
const APPLIED: [(&str, &str); 7] = [
    ("uid_map", "runs as uid 1000 inside, an unprivileged host uid outside"),
    ("network", "empty network namespace: no interfaces up, loopback down"),
    ("no_new_privs", "set before exec"),
    ("capabilities", "all dropped, including bounding and ambient sets"),
    ("rlimits", "core 0, file size, open files, processes; data segment where the memory controller is missing"),
    ("rootfs", "read-only binds of /usr, runtime files, the CA bundle and the template environment, synthesized /etc, fresh /proc, minimal /dev"),
    ("tmp_size_cap", "/tmp is a size-capped tmpfs"),
];

fn layer(name: &str, active: bool, detail: impl Into<String>) -> Layer {
    Layer { name: name.into(), active, detail: detail.into(), required: false }
}

/// What `--require` accepts besides a layer's own name.
const GROUPS: [(&str, &str); 5] = [
    ("namespaces", "namespace:"),
    ("memory", "cgroup:memory"),
    ("pids", "cgroup:pids"),
    ("cpu", "cgroup:cpu"),
    ("cgroups", "cgroup:"),
];

/// Marks the layers `requirements` name (layer names, or the groups above) as required and
/// returns those not in force, each with why. An unknown name is an error: a typo must not
/// silently require nothing.
pub fn require(layers: &mut [Layer], requirements: &[String]) -> Result<Vec<String>, UnknownLayer> {
    let mut missing = Vec::new();
    for requirement in requirements.iter().map(|r| r.trim()).filter(|r| !r.is_empty() && *r != "none") {
        let prefix = GROUPS.iter().find(|(group, _)| *group == requirement).map(|(_, prefix)| *prefix);
        let matches = |layer: &Layer| match prefix {
            Some(prefix) if prefix.ends_with(':') => layer.name.starts_with(prefix),
            Some(name) => layer.name == name,
            None => layer.name == requirement,
        };
        let mut found = false;
        for layer in layers.iter_mut().filter(|l| matches(l)) {
            found = true;
            if !layer.required && !layer.active {
                missing.push(format!("{} ({})", layer.name, layer.detail));
            }
            layer.required = true;
        }
        if !found {
            let known =
                GROUPS.iter().map(|(g, _)| g.to_string()).chain(layers.iter().map(|l| l.name.clone())).collect();
            return Err(UnknownLayer { name: requirement.to_string(), known });
        }
    }
    Ok(missing)
}

/// A required layer no host has: neither a layer's name nor a group's.
#[derive(Debug, thiserror::Error)]
#[error("unknown isolation layer {name:?}; known: {}", known.join(", "))]
pub struct UnknownLayer {
    pub name: String,
    pub known: Vec<String>,
}

/// Every layer, whether in force, and why. `self_test` is the outcome of a real sandboxed run
/// at startup (why it failed, if it did): the sandbox's layers are only in force if it worked.
pub fn layers(
    self_test: Result<(), &str>,
    workspace_capped: bool,
    confinement: ConfinementLayers,
    cgroups: &[ControllerState],
) -> Vec<Layer> {
    let applied = |name: &str, works_here: bool, detail: &str| match self_test {
        Err(reason) => layer(name, false, format!("the sandbox self-test failed: {reason}")),
        Ok(()) if !works_here => layer(name, false, "not supported by this kernel"),
        Ok(()) => layer(name, true, detail),
    };
    let mut layers: Vec<Layer> = sandbox::host::namespace_names()
        .map(|name| {
            let exists = Path::new(&format!("/proc/self/ns/{}", ns_file(name))).exists();
            applied(&format!("namespace:{name}"), exists, "fresh namespace for every run")
        })
        .collect();
    layers.extend(APPLIED.iter().map(|(name, detail)| applied(name, true, detail)));
    layers.push(match (workspace_capped, host::is_root()) {
        (true, _) => layer("workspace_size_cap", true, "each workspace is its own size-capped tmpfs"),
        (false, true) => layer("workspace_size_cap", false, "workspace mounts failed"),
        (false, false) => layer("workspace_size_cap", false, "needs the daemon to run as root"),
    });
    layers.push(match (sandbox::seccomp::probe(), confinement.seccomp) {
        (Ok(filter), true) => {
            applied("seccomp", true, &format!("allowlist of system calls, the rest denied ({filter})"))
        }
        (Ok(_), false) => layer("seccomp", false, "turned off"),
        (Err(why), _) => layer("seccomp", false, why.to_string()),
    });
    layers.push(match (sandbox::landlock::probe(), confinement.landlock) {
        (Ok(abi), true) => applied(
            "landlock",
            true,
            &format!(
                "ABI {} rules (kernel ABI {abi}): write only /tmp, the workspace and /dev/shm",
                sandbox::landlock::PINNED
            ),
        ),
        (Ok(_), false) => layer("landlock", false, "turned off"),
        (Err(why), _) => layer("landlock", false, why.to_string()),
    });
    layers.extend(cgroups.iter().map(|c| {
        let name = format!("cgroup:{}", c.name);
        match (c.active, c.name.as_str()) {
            (true, _) => applied(&name, true, &c.detail),
            (false, "memory") => {
                layer(&name, false, format!("{}; memory is capped per process by RLIMIT_DATA", c.detail))
            }
            (false, _) => layer(&name, false, c.detail.clone()),
        }
    }));
    layers
}

fn ns_file(name: &str) -> &str {
    match name {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Vec<Layer> {
        vec![
            layer("namespace:user", true, "fresh"),
            layer("namespace:pid", true, "fresh"),
            layer("seccomp", false, "the kernel has no seccomp filters"),
            layer("cgroup:memory", true, "v1"),
            layer("cgroup:pids", false, "no pids controller"),
        ]
    }

    #[test]
    fn groups_and_names_mark_layers_required_and_report_the_missing_ones() {
        let mut layers = host();
        let missing = require(&mut layers, &["namespaces".into(), "seccomp".into(), "memory".into()]).unwrap();
        assert_eq!(missing, ["seccomp (the kernel has no seccomp filters)"]);
        let required: Vec<&str> = layers.iter().filter(|l| l.required).map(|l| l.name.as_str()).collect();
        assert_eq!(required, ["namespace:user", "namespace:pid", "seccomp", "cgroup:memory"]);
    }

    #[test]
    fn a_layer_named_twice_is_reported_once() {
        let mut layers = host();
        let missing = require(&mut layers, &["pids".into(), "cgroups".into()]).unwrap();
        assert_eq!(missing, ["cgroup:pids (no pids controller)"]);
    }

    #[test]
    fn none_requires_nothing_and_an_unknown_name_is_an_error() {
        let mut layers = host();
        assert!(require(&mut layers, &["none".into()]).unwrap().is_empty());
        assert!(layers.iter().all(|l| !l.required));
        let err = require(&mut layers, &["secomp".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown isolation layer \"secomp\""), "{err}");
    }
}
