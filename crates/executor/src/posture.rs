//! The isolation layers of this host, as `GET /info` and `sandbox-executor check` report them.

use std::path::Path;

use sandbox::cgroup::ControllerState;
use sandbox::host;

use crate::service::Layer;

/// Layers the sandbox applies to every run: in force exactly when a real run works here.
const APPLIED: [(&str, &str); 7] = [
    ("uid_map", "runs as uid 1000 inside, an unprivileged host uid outside"),
    ("network", "empty network namespace: no interfaces up, loopback down"),
    ("no_new_privs", "set before exec"),
    ("capabilities", "all dropped, including bounding and ambient sets"),
    ("rlimits", "core 0, file size, open files, processes; data segment where the memory controller is missing"),
    ("rootfs", "read-only binds of /usr, runtime files and the template environment, synthesized /etc, fresh /proc, minimal /dev"),
    ("tmp_size_cap", "/tmp is a size-capped tmpfs"),
];

/// Layers this version does not apply, and what stands in for them.
const NOT_APPLIED: [(&str, &str); 2] = [
    ("seccomp", "no system call filter is applied by this version"),
    ("landlock", "no Landlock rules are applied by this version"),
];

fn layer(name: &str, active: bool, detail: impl Into<String>) -> Layer {
    Layer { name: name.into(), active, detail: detail.into() }
}

/// Every layer, whether in force, and why. `self_test` is the outcome of a real sandboxed run
/// at startup: the sandbox's layers are only in force if it worked.
pub fn layers(self_test: &Result<(), String>, workspace_capped: bool, cgroups: &[ControllerState]) -> Vec<Layer> {
    let applied = |name: &str, works_here: bool, detail: &str| match self_test {
        Err(reason) => layer(name, false, format!("the sandbox self-test failed: {reason}")),
        Ok(()) if !works_here => layer(name, false, "not supported by this kernel"),
        Ok(()) => layer(name, true, detail),
    };
    let mut layers: Vec<Layer> = sandbox::init::userns::NAMESPACES
        .iter()
        .map(|(name, _)| {
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
    layers.extend(NOT_APPLIED.iter().map(|(name, detail)| layer(name, false, *detail)));
    layers
}

fn ns_file(name: &str) -> &str {
    match name {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}
