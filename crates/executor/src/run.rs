//! What a run's sandbox is made of: its spec, and the event and context its driver reads.

use std::collections::BTreeMap;
use std::path::Path;

use sandbox::{Limits, SandboxSpec};

use crate::rootfs::{self, RootfsOptions};
use crate::templates::Environment;
use crate::{confinement, runtime};
use crate::{ExecutionRequest, ExecutorConfig, RequestedLimits, RuntimePaths};
use sandbox::cgroup::Manager;

/// Processes of a run besides the code's: its launcher and the sandbox's init.
const RUN_OVERHEAD_PROCESSES: u64 = 2;

/// The handler's event and context as the driver reads them (JSON text), on both paths.
pub(crate) fn event_and_context(config: &ExecutorConfig, req: &ExecutionRequest) -> (String, String) {
    let memory_mb = req.limits.memory_mb.unwrap_or(config.limits.default_memory_mb);
    let event = req.event.clone().unwrap_or_else(|| serde_json::json!({}));
    let context = serde_json::json!({
        "execution_id": req.execution_id,
        "timeout_ms": req.timeout_ms,
        "memory_limit_mb": memory_mb,
    });
    (event.to_string(), context.to_string())
}

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

/// The interpreters a run uses: the template's Python when it has one.
pub(crate) fn runtimes_for(config: &ExecutorConfig, environment: Option<&Environment>) -> RuntimePaths {
    let mut runtimes = config.runtimes.clone();
    if let Some(python) = environment.and_then(Environment::python) {
        runtimes.python = python;
    }
    runtimes
}

/// The one place a sandbox's spec is built, for one-shot runs and session interpreters
/// alike: the same mounts, identity, limits and confinement apply to both.
pub(crate) fn sandbox_spec(config: &ExecutorConfig, cgroups: &Manager, parts: SpecParts<'_>) -> SandboxSpec {
    let limits = &config.limits;
    let memory_mb = parts.limits.memory_mb.unwrap_or(limits.default_memory_mb);
    let memory_bytes = memory_mb * 1024 * 1024;
    let processes = parts.limits.max_processes.unwrap_or(limits.default_processes);
    let template_vars = parts.environment.map(Environment::vars).unwrap_or_default();
    let mut spec = SandboxSpec {
        argv: parts.launch.argv,
        env: rootfs::environment(&template_vars, parts.env_vars),
        cwd: rootfs::WORKSPACE.into(),
        identity: config.identity,
        hostname: "sandbox".into(),
        mounts: rootfs::mounts(RootfsOptions {
            identity: config.identity,
            workspace_host: parts.workspace,
            tmp_bytes: limits.tmp_bytes,
            run_files: parts.launch.files,
            template: parts.environment.map(Environment::mounts).unwrap_or_default(),
        }),
        limits: Limits {
            wall_time_ms: parts.wall_time_ms,
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
        },
        stdin: parts.stdin,
        channel_fd: parts.launch.has_channel.then_some(runtime::CHANNEL_FD),
        session_fd: parts.launch.handoff_fd,
        confinement: Default::default(),
    };
    spec.confinement = confinement::for_mounts(config.confinement, &spec.mounts);
    spec
}
