//! The one place a [`SandboxSpec`] is built from a run's parts. One-shot runs, pre-started
//! sandboxes and session interpreters get the same mounts, identity, limits and confinement;
//! a zygote's sandbox and a zygote's fork are that same spec with the changes named here.

mod landlock;
mod prebuilt;
pub(crate) mod rootfs;

pub(crate) use prebuilt::{claim_of, prebuilt, Shape};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sandbox::cgroup::Manager;
use sandbox::{Limits, Mount, SandboxSpec};

use crate::templates::Environment;
use crate::{driver, runtime};
use crate::{ExecutorConfig, LimitPolicy, RequestedLimits};

/// Processes of a run besides the code's: its launcher and the sandbox's init.
const RUN_OVERHEAD_PROCESSES: u64 = 2;
/// A zygote's sandbox lives this long at most; the pool then starts a new one.
const ZYGOTE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The same in ms: no fork of a zygote outlives it.
const ZYGOTE_LIFETIME_MS: u64 = ZYGOTE_LIFETIME.as_millis() as u64;
/// Processes of the zygote's own cgroup: each fork starts there before the daemon moves it
/// into its run's cgroup.
const ZYGOTE_PROCESSES: u64 = 256;
const UNLIMITED_PROCESSES: u64 = 1 << 22;

/// What differs between two sandboxes: the program and its files, the template, the
/// workspace, the caller's variables and limits.
pub(crate) struct SpecParts<'a> {
    pub launch: runtime::Launch,
    pub environment: Option<&'a Environment>,
    pub workspace: &'a Path,
    pub env_vars: &'a BTreeMap<String, String>,
    pub limits: &'a RequestedLimits,
    pub wall_time_ms: u64,
    pub stdin: String,
}

/// A sandbox's spec, for one-shot runs, pre-started sandboxes and session interpreters alike.
pub(crate) fn sandbox_spec(config: &ExecutorConfig, cgroups: &Manager, parts: SpecParts<'_>) -> SandboxSpec {
    let limits = &config.limits;
    let mounts = rootfs::mounts(rootfs::RootfsOptions {
        identity: config.identity,
        workspace_host: parts.workspace,
        tmp_bytes: limits.tmp_bytes,
        run_files: parts.launch.files,
        template: parts.environment.map(Environment::mounts).unwrap_or_default(),
        ca_bundle: config.egress.ca_bundle.as_deref(),
    });
    SandboxSpec {
        argv: parts.launch.argv,
        env: rootfs::environment(config, parts.environment, parts.env_vars),
        cwd: rootfs::WORKSPACE.into(),
        identity: config.identity,
        hostname: "sandbox".into(),
        confinement: landlock::for_mounts(config.confinement, &mounts),
        mounts,
        limits: run_limits(config, cgroups, parts.limits, parts.wall_time_ms),
        stdin: parts.stdin,
        channel_fd: parts.launch.has_channel.then_some(driver::CHANNEL_FD),
        session_fd: parts.launch.handoff_fd,
        egress: None,
        awaits_claim: false,
        agent: false,
    }
}

/// What a box is made of besides the configuration.
pub(crate) struct BoxSpecParts<'a> {
    pub environment: Option<&'a Environment>,
    pub workspace: &'a Path,
    pub env_vars: &'a BTreeMap<String, String>,
    /// The box lives this long at most.
    pub wall_time_ms: u64,
    pub home_alias: bool,
}

/// A box's spec (see [`crate::boxes`]): a sandbox like a run's whose program is the agent,
/// with terminals, the largest memory and process count a run may have (the box's processes
/// share them), and the session socket the agent serves on.
pub(crate) fn box_spec(config: &ExecutorConfig, cgroups: &Manager, parts: BoxSpecParts<'_>) -> SandboxSpec {
    let limits = RequestedLimits {
        memory_mb: Some(config.limits.max_memory_mb),
        max_processes: Some(config.limits.max_processes),
        ..Default::default()
    };
    // The interpreters' drivers are there for the box's interpreters to start.
    let runtimes = runtime::runtimes_for(config, parts.environment);
    let files = [crate::Language::Python, crate::Language::Javascript]
        .into_iter()
        .filter_map(|language| runtime::session_launch(language, &runtimes))
        .flat_map(|launch| launch.files)
        .collect();
    let launch =
        runtime::Launch { argv: vec!["agent".into()], files, has_channel: false, handoff_fd: Some(driver::SESSION_FD) };
    let mut spec = sandbox_spec(
        config,
        cgroups,
        SpecParts {
            launch,
            environment: parts.environment,
            workspace: parts.workspace,
            env_vars: parts.env_vars,
            limits: &limits,
            wall_time_ms: parts.wall_time_ms,
            stdin: String::new(),
        },
    );
    spec.agent = true;
    for mount in &mut spec.mounts {
        if let Mount::Dev { terminals, .. } = mount {
            *terminals = true;
        }
    }
    if parts.home_alias {
        alias_home(&mut spec);
    }
    spec.confinement = landlock::for_mounts(config.confinement, &spec.mounts);
    spec
}

/// Shows the workspace also as `/home/user` (a symlink), for code written for E2B's sandboxes.
pub(crate) fn alias_home(spec: &mut SandboxSpec) {
    spec.mounts.push(Mount::Symlink { link_target: rootfs::WORKSPACE.into(), target: rootfs::HOME_USER.into() });
}

/// The limits of a sandbox whose run asked for `requested`: its cgroup's, its program's
/// rlimits, its wall clock.
pub(crate) fn run_limits(
    config: &ExecutorConfig,
    cgroups: &Manager,
    requested: &RequestedLimits,
    wall_time_ms: u64,
) -> Limits {
    let limits = &config.limits;
    let memory_bytes = requested.memory_mb.unwrap_or(limits.default_memory_mb) * 1024 * 1024;
    let processes = requested.max_processes.unwrap_or(limits.default_processes);
    Limits {
        wall_time_ms,
        // RLIMIT_DATA also counts address space nothing uses (Node reserves gigabytes):
        // only a stand-in for when the run's cgroup cannot limit memory.
        data_bytes: (!cgroups.active("memory")).then_some(memory_bytes),
        memory_bytes: Some(memory_bytes),
        file_size_bytes: limits.workspace_bytes,
        open_files: limits.open_files,
        // With the pids controller the cgroup is the limit (and says when it was hit).
        // RLIMIT_NPROC counts the same processes (the launcher and init joined the
        // sandbox's user namespace) and stays one above it, as a backstop.
        processes: if cgroups.active("pids") { processes + RUN_OVERHEAD_PROCESSES + 1 } else { processes },
        pids: cgroups.active("pids").then_some(processes + RUN_OVERHEAD_PROCESSES),
        channel_bytes: limits.max_return_value_bytes,
    }
}

/// Gives `spec` its egress door (see [`sandbox::EgressDoor`]) and points the program's proxy
/// settings at it, the HTTP and HTTPS ones in both spellings and pip's and npm's: the only
/// way out of the sandbox. The program's own variables of these names give way.
pub(crate) fn with_egress_door(spec: &mut SandboxSpec) {
    let port = crate::egress::DOOR_PORT;
    spec.egress = Some(sandbox::EgressDoor { port });
    let proxy = format!("http://127.0.0.1:{port}");
    let names = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "PIP_PROXY", "npm_config_proxy"];
    let mut ours: Vec<(String, String)> = names.iter().map(|n| (n.to_string(), proxy.clone())).collect();
    ours.push(("npm_config_https_proxy".into(), proxy.clone()));
    ours.extend(["NO_PROXY", "no_proxy"].map(|n| (n.to_string(), String::new())));
    spec.env.retain(|(name, _)| !ours.iter().any(|(o, _)| o == name));
    spec.env.extend(ours);
}

/// The wall clock of a pre-started sandbox. The launcher's clock runs from the start: room
/// for the start itself (`ready_wait`), the idle time and the longest run; the daemon holds
/// each run to its own timeout from the claim.
pub(crate) fn pre_started_wall_time_ms(policy: &LimitPolicy, ready_wait: Duration, max_idle: Duration) -> u64 {
    (ready_wait + max_idle).as_millis() as u64 + (policy.max_timeout_secs * 1000.0) as u64
}

/// What a zygote's sandbox is made of besides the configuration.
pub(crate) struct ZygoteParts<'a> {
    pub launch: runtime::Launch,
    pub environment: Option<&'a Environment>,
    pub workspace: &'a Path,
    /// The shared library its forks call, on the host.
    pub library: &'a Path,
}

/// A zygote's sandbox: a cold-path sandbox with the largest memory a run may have, without
/// the program's confinement (each fork builds its own namespaces, which seccomp and Landlock
/// would forbid, and confines itself with its run's own layers), and with the zygote library.
pub(crate) fn zygote(config: &ExecutorConfig, cgroups: &Manager, parts: ZygoteParts<'_>) -> SandboxSpec {
    let limits = RequestedLimits {
        memory_mb: Some(config.limits.max_memory_mb),
        max_processes: Some(ZYGOTE_PROCESSES),
        ..Default::default()
    };
    let mut spec = sandbox_spec(
        config,
        cgroups,
        SpecParts {
            launch: parts.launch,
            environment: parts.environment,
            workspace: parts.workspace,
            env_vars: &BTreeMap::new(),
            limits: &limits,
            wall_time_ms: ZYGOTE_LIFETIME_MS,
            stdin: String::new(),
        },
    );
    spec.confinement = Default::default();
    // RLIMIT_NPROC of the zygote is the ceiling its forks' user namespaces count all
    // their processes against together; the zygote's cgroup limits the zygote itself.
    spec.limits.processes = UNLIMITED_PROCESSES;
    spec.mounts.push(Mount::Bind {
        source: parts.library.display().to_string(),
        target: driver::ZYGOTE_LIB.into(),
        writable: false,
        optional: false,
    });
    spec
}

/// A run's cold-path spec, made for a fork of a zygote: the binds come from the zygote's
/// filesystem, where they are at the same places; the workspace is the mount handed over
/// with the spec; the environment is a file, since the program is not executed with it. A
/// program other than the Python driver (`executes`) gets its command line as a file too,
/// which the fork executes once it is confined.
pub(crate) fn forked(mut spec: SandboxSpec, executes: bool) -> SandboxSpec {
    for mount in &mut spec.mounts {
        if let Mount::Bind { source, target, .. } = mount {
            if target == rootfs::WORKSPACE {
                *mount = Mount::Handed { target: target.clone() };
            } else {
                *source = target.clone();
            }
        }
    }
    let environ: serde_json::Map<String, serde_json::Value> =
        spec.env.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    spec.mounts.push(Mount::File {
        target: driver::FORKED_ENVIRON.into(),
        contents: serde_json::Value::Object(environ).to_string(),
        mode: 0o444,
    });
    let mut files = vec![driver::FORKED_ENVIRON];
    if executes {
        let argv = serde_json::Value::from(spec.argv.clone()).to_string();
        spec.mounts.push(Mount::File { target: driver::FORKED_EXEC.into(), contents: argv, mode: 0o444 });
        files.push(driver::FORKED_EXEC);
    }
    if let Some(rules) = &mut spec.confinement.landlock {
        rules.read_exec.extend(files.into_iter().map(String::from));
    }
    spec
}

#[cfg(test)]
pub(crate) mod tests;
