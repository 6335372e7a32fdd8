//! One run: its workspace, its sandbox spec, the launch, and the result.

use tokio_util::sync::CancellationToken;

use crate::driver::event_and_context;
use crate::runtime::runtimes_for;
use crate::service::ExecutionService;
use crate::spec::{sandbox_spec, SpecParts};
use crate::templates::Environment;
use crate::workspace::Workspace;
use crate::{artifacts, outcome, runtime, warm};
use crate::{ExecuteError, ExecutionRequest, ExecutionResult, LaunchPath};

/// Pre-started sandboxes a run tries before it goes cold.
const WARM_CLAIMS: usize = 3;

pub async fn run(
    service: &ExecutionService,
    req: ExecutionRequest,
    cancel: CancellationToken,
) -> Result<ExecutionResult, ExecuteError> {
    let fixed = warm::Fixed::of(&req.limits, &service.config.limits);
    let mut zygote = None;
    // A pre-started sandbox that cannot take the run (killed while it waited) is discarded;
    // the run tries another, then goes cold.
    for _ in 0..WARM_CLAIMS {
        match service.warm.claim(&req, fixed) {
            Some(warm::Claim::Pooled(pooled)) => match warm::serve(service, &req, *pooled, cancel.clone()).await {
                warm::Served::Done(result) => return *result,
                warm::Served::GoCold(why) => tracing::warn!(%why, "the warm path could not take the run"),
            },
            Some(warm::Claim::Forked(forking)) => {
                zygote = Some(forking);
                break;
            }
            None => break,
        }
    }
    // Built before the workspace exists: a failed build leaves nothing to clean up.
    let environment = match &req.template {
        Some(template) => Some(service.templates.prepare(template).await?),
        None => None,
    };
    let workspace = service.workspaces.prepare(&req.workspace, &req.execution_id)?;
    let result = run_in(service, &req, environment.as_ref(), &workspace, zygote.as_deref(), cancel).await;
    service.workspaces.release(workspace);
    result
}

async fn run_in(
    service: &ExecutionService,
    req: &ExecutionRequest,
    environment: Option<&Environment>,
    workspace: &Workspace,
    zygote: Option<&warm::Zygote>,
    cancel: CancellationToken,
) -> Result<ExecutionResult, ExecuteError> {
    service.workspaces.write_files(workspace, &req.files)?;
    let before = artifacts::snapshot(&workspace.path);
    let (event, context) = event_and_context(&service.config, req);
    let runtimes = runtimes_for(&service.config, environment);
    let launch = runtime::launch(req.language, &runtimes, &req.code, &event, &context);
    let spec = sandbox_spec(
        &service.config,
        &service.cgroups,
        SpecParts {
            launch,
            environment,
            workspace: &workspace.path,
            env_vars: &req.env_vars,
            limits: &req.limits,
            wall_time_ms: req.timeout_ms,
            stdin: req.stdin.clone(),
        },
    );
    let limits = &service.config.limits;
    let max_output = req.limits.max_output_bytes.unwrap_or(limits.default_output_bytes);
    let forked = match zygote {
        Some(zygote) => warm::fork(service, zygote, &spec, &workspace.path, max_output, cancel.clone()).await,
        None => None,
    };
    let path = if forked.is_some() { LaunchPath::Forked } else { LaunchPath::Cold };
    let launched = match forked {
        Some(run) => run,
        None => service.launcher.launch(&spec, max_output, cancel, None).await,
    };
    let run = launched.map_err(|e| ExecuteError::Sandbox { stage: "launch".into(), message: e.to_string() })?;
    let artifacts = artifacts::changed_since(&workspace.path, &before);
    let workspace_full = service.workspaces.size_capped() && sandbox::host::filesystem_full(&workspace.path);
    let mut result = outcome::build(&req.execution_id, run, artifacts, workspace_full)?;
    result.isolation = service.active_layers.clone();
    result.metrics.path = path;
    Ok(result)
}
