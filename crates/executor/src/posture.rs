//! The isolation layers of this host, as `GET /info` and `sandbox-executor check` report them.

use sandbox::host;

use crate::service::Layer;

fn layer(name: &str, active: bool, detail: impl Into<String>) -> Layer {
    Layer { name: name.into(), active, detail: detail.into() }
}

/// Every layer, whether in force, and why. `self_test` is the outcome of a real sandboxed run
/// at startup: the namespace layers are only in force if it worked.
pub fn layers(self_test: &Result<(), String>, workspace_capped: bool) -> Vec<Layer> {
    let works = self_test.is_ok();
    let why_not = |missing: &str| match self_test {
        Err(reason) => format!("the sandbox self-test failed: {reason}"),
        Ok(()) => missing.to_string(),
    };
    let mut layers: Vec<Layer> = sandbox::init::userns::NAMESPACES
        .iter()
        .map(|(name, _)| {
            let exists = std::path::Path::new(&format!("/proc/self/ns/{}", ns_file(name))).exists();
            let detail = if works && exists {
                "fresh namespace for every run".into()
            } else {
                why_not("not supported by this kernel")
            };
            layer(&format!("namespace:{name}"), works && exists, detail)
        })
        .collect();
    let root = host::is_root();
    layers.extend([
        layer(
            "uid_map",
            works,
            if works { "runs as uid 1000 inside, an unprivileged host uid outside".into() } else { why_not("") },
        ),
        layer(
            "network",
            works,
            if works { "empty network namespace: no interfaces up, loopback down".into() } else { why_not("") },
        ),
        layer("no_new_privs", works, if works { "set before exec".into() } else { why_not("") }),
        layer(
            "capabilities",
            works,
            if works { "all dropped, including bounding and ambient sets".into() } else { why_not("") },
        ),
        layer(
            "rlimits",
            works,
            if works { "core 0, file size, open files, processes, data segment".into() } else { why_not("") },
        ),
        layer(
            "rootfs",
            works,
            if works {
                "read-only binds of /usr and runtime files, synthesized /etc, fresh /proc, minimal /dev".into()
            } else {
                why_not("")
            },
        ),
        layer(
            "workspace_size_cap",
            workspace_capped,
            if workspace_capped {
                "each workspace is its own size-capped tmpfs"
            } else if root {
                "workspace mounts failed"
            } else {
                "needs the daemon to run as root"
            },
        ),
        layer("tmp_size_cap", works, if works { "/tmp is a size-capped tmpfs".into() } else { why_not("") }),
        layer("seccomp", false, "no system call filter is applied by this version"),
        layer("landlock", false, "no Landlock rules are applied by this version"),
        layer(
            "cgroups",
            false,
            "no cgroup limits are applied by this version; memory is capped per process by RLIMIT_DATA",
        ),
    ]);
    layers
}

fn ns_file(name: &str) -> &str {
    match name {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}
