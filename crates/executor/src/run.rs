//! One run: its workspace, its sandbox spec, the launch, and the result.

use sandbox::{Limits, SandboxSpec};
use tokio_util::sync::CancellationToken;

use crate::rootfs::{self, RootfsOptions};
use crate::service::ExecutionService;
use crate::templates::Environment;
use crate::workspace::Workspace;
use crate::{artifacts, confinement, outcome, runtime};
use crate::{ExecuteError, ExecutionRequest, ExecutionResult};

/// Processes of a run besides the code's: its launcher and the sandbox's init.
const RUN_OVERHEAD_PROCESSES: u64 = 2;

pub async fn run(
    service: &ExecutionService,
    req: ExecutionRequest,
    cancel: CancellationToken,
) -> Result<ExecutionResult, ExecuteError> {
    // Built before the workspace exists: a failed build leaves nothing to clean up.
    let environment = match &req.template {
        Some(template) => Some(service.templates.prepare(template).await?),
        None => None,
    };
    let workspace = service.workspaces.prepare(&req.workspace, &req.execution_id)?;
    let result = run_in(service, &req, environment.as_ref(), &workspace, cancel).await;
    service.workspaces.release(workspace);
    result
}

async fn run_in(
    service: &ExecutionService,
    req: &ExecutionRequest,
    environment: Option<&Environment>,
    workspace: &Workspace,
    cancel: CancellationToken,
) -> Result<ExecutionResult, ExecuteError> {
    service.workspaces.write_files(workspace, &req.files)?;
    let before = artifacts::snapshot(&workspace.path);
    let config = &service.config;
    let limits = &config.limits;
    let memory_mb = req.limits.memory_mb.unwrap_or(limits.default_memory_mb);
    let event = req.event.clone().unwrap_or_else(|| serde_json::json!({}));
    let context = serde_json::json!({
        "execution_id": req.execution_id,
        "timeout_ms": req.timeout_ms,
        "memory_limit_mb": memory_mb,
    });
    let mut runtimes = config.runtimes.clone();
    if let Some(python) = environment.and_then(Environment::python) {
        runtimes.python = python;
    }
    let launch = runtime::launch(req.language, &runtimes, &req.code, &event.to_string(), &context.to_string());
    let template_vars = environment.map(Environment::vars).unwrap_or_default();
    let memory_bytes = memory_mb * 1024 * 1024;
    let processes = req.limits.max_processes.unwrap_or(limits.default_processes);
    let cgroups = &service.cgroups;
    let mut spec = SandboxSpec {
        argv: launch.argv,
        env: rootfs::environment(&template_vars, &req.env_vars),
        cwd: rootfs::WORKSPACE.into(),
        identity: config.identity,
        hostname: "sandbox".into(),
        mounts: rootfs::mounts(RootfsOptions {
            identity: config.identity,
            workspace_host: &workspace.path,
            tmp_bytes: limits.tmp_bytes,
            run_files: launch.files,
            template: environment.map(Environment::mounts).unwrap_or_default(),
        }),
        limits: Limits {
            wall_time_ms: req.timeout_ms,
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
        stdin: req.stdin.clone(),
        channel_fd: launch.has_channel.then_some(runtime::CHANNEL_FD),
        confinement: Default::default(),
    };
    spec.confinement = confinement::for_mounts(config.confinement, &spec.mounts);
    let max_output = req.limits.max_output_bytes.unwrap_or(limits.default_output_bytes);
    let run = service
        .launcher
        .launch(&spec, max_output, cancel)
        .await
        .map_err(|e| ExecuteError::Sandbox { stage: "launch".into(), message: e.to_string() })?;
    let artifacts = artifacts::changed_since(&workspace.path, &before);
    let workspace_full = service.workspaces.size_capped() && sandbox::host::filesystem_full(&workspace.path);
    let mut result = outcome::build(&req.execution_id, run, artifacts, workspace_full)?;
    result.isolation = service.active_layers.clone();
    Ok(result)
}
