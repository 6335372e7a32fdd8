//! The filesystem every run sees: the host's runtime directories read-only, a synthesized
//! /etc, fresh /proc, /dev and /tmp, the workspace, and the run's own /sandbox files.

use std::path::Path;

use sandbox::{Identity, Mount};

/// Host directories that hold interpreters and their libraries.
const RUNTIME_DIRS: [&str; 1] = ["/usr"];
/// Top-level directories that merged-/usr hosts make symlinks into /usr.
const USR_ALIASES: [&str; 6] = ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"];
/// Host /etc entries the interpreters and the dynamic loader read; nothing else of /etc.
const ETC_FROM_HOST: [&str; 11] = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/fonts",
    "/etc/mime.types",
    "/etc/python3",
    "/etc/python3.11",
    "/etc/matplotlibrc",
];

pub const WORKSPACE: &str = "/workspace";
/// The workspace under the name E2B's sandboxes give it (a symlink to [`WORKSPACE`]) in the
/// sandboxes that ask for it ([`super::alias_home`]).
pub const HOME_USER: &str = "/home/user";

pub struct RootfsOptions<'a> {
    pub identity: Identity,
    pub workspace_host: &'a Path,
    pub tmp_bytes: u64,
    /// Files of the run under /sandbox: (path, contents).
    pub run_files: Vec<(String, String)>,
    /// The run's template environment (read-only binds below /opt).
    pub template: Vec<Mount>,
    /// The host file bound read-only as the sandbox's CA bundle, if any.
    pub ca_bundle: Option<&'a Path>,
}

pub fn mounts(options: RootfsOptions<'_>) -> Vec<Mount> {
    let mut mounts = Vec::new();
    let bind_ro =
        |path: &str| Mount::Bind { source: path.into(), target: path.into(), writable: false, optional: true };
    mounts.extend(RUNTIME_DIRS.iter().map(|d| bind_ro(d)));
    for alias in USR_ALIASES {
        match std::fs::read_link(alias) {
            Ok(to) => mounts.push(Mount::Symlink { link_target: to.display().to_string(), target: alias.into() }),
            Err(_) => mounts.push(bind_ro(alias)),
        }
    }
    mounts.push(Mount::Dir { target: "/etc".into(), mode: 0o755 });
    mounts.extend(etc_files(options.identity).into_iter().map(|(name, contents)| Mount::File {
        target: format!("/etc/{name}"),
        contents,
        mode: 0o644,
    }));
    mounts.extend(ETC_FROM_HOST.iter().map(|p| bind_ro(p)));
    if let Some(bundle) = options.ca_bundle {
        mounts.push(Mount::Bind {
            source: bundle.display().to_string(),
            target: crate::egress::SANDBOX_CA_BUNDLE.into(),
            writable: false,
            optional: false,
        });
    }
    mounts.push(Mount::Proc { target: "/proc".into() });
    mounts.push(Mount::Dev { target: "/dev".into(), shm_size_bytes: options.tmp_bytes, terminals: false });
    mounts.push(Mount::Tmpfs { target: "/tmp".into(), size_bytes: options.tmp_bytes, mode: 0o1777 });
    mounts.extend(options.template);
    mounts.push(Mount::Bind {
        source: options.workspace_host.display().to_string(),
        target: WORKSPACE.into(),
        writable: true,
        optional: false,
    });
    mounts.extend(options.run_files.into_iter().map(|(target, contents)| Mount::File {
        target,
        contents,
        mode: 0o444,
    }));
    mounts
}

fn etc_files(id: Identity) -> Vec<(&'static str, String)> {
    vec![
        ("passwd", format!("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{}:{}:sandbox:/tmp:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", id.uid, id.gid)),
        ("group", format!("root:x:0:\nsandbox:x:{}:\nnogroup:x:65534:\n", id.gid)),
        ("hostname", "sandbox\n".into()),
        ("hosts", "127.0.0.1 localhost sandbox\n::1 localhost\n".into()),
        ("nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n".into()),
        ("resolv.conf", String::new()),
    ]
}

/// A program's whole environment, on every path (cold, forked, pre-started, built ahead): a
/// fixed clean base, the CA bundle's variables, the template's, then the caller's `env_vars`.
pub fn environment(
    config: &crate::ExecutorConfig,
    template: Option<&crate::templates::Environment>,
    env_vars: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let base = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", "/tmp"),
        ("TMPDIR", "/tmp"),
        ("LANG", "C.UTF-8"),
        ("USER", "sandbox"),
        ("LOGNAME", "sandbox"),
        ("HOSTNAME", "sandbox"),
        ("PYTHONUNBUFFERED", "1"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("MPLBACKEND", "Agg"),
    ];
    let mut env: std::collections::BTreeMap<String, String> =
        base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    env.extend(crate::egress::ca_variables(config.egress.ca_bundle.as_deref()));
    env.extend(template.map(crate::templates::Environment::vars).unwrap_or_default());
    env.extend(env_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.into_iter().collect()
}
