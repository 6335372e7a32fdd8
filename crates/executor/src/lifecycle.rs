//! One run's life, whichever way its sandbox starts: its workspace and files in, the
//! artifact snapshot, the start and the wait (held to the run's deadline), the changed
//! files, the disk-full check, and the result with its layers and launch path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox::runner::{OutputTap, RunError, RunOutput};
use tokio_util::sync::CancellationToken;

use crate::artifacts::{self, Snapshot};
use crate::driver::event_and_context;
use crate::egress::Door;
use crate::launcher::SandboxStart;
use crate::runtime::runtimes_for;
use crate::sandboxes::Sandboxes;
use crate::spec::{sandbox_spec, SpecParts};
use crate::templates::Environment;
use crate::warm::{self, Ahead, Claim, NotTaken, Pool, Pooled, Zygote};
use crate::workspace::Workspace;
use crate::{deadline, outcome, runtime};
use crate::{ExecuteError, ExecutionRequest, ExecutionResult, LaunchPath, Phases};

/// Pre-started sandboxes a run tries before it goes cold.
const WARM_CLAIMS: usize = 3;
/// The deadline of a cold or forked run past its timeout: the launcher inside the sandbox
/// stops the code at its timeout (its clock starts with the code, not with the setup), and
/// the runner gives up on a launcher silent 10 s past it; this fires only if both failed.
const BEHIND_THE_LAUNCHER: Duration = Duration::from_secs(15);

/// How a run's sandbox starts.
pub(crate) enum Start {
    /// A fresh sandbox of its own.
    Cold,
    /// A sandbox forked by a zygote (cold when the zygote cannot fork it).
    Forked(Arc<Zygote>),
    /// A sandbox started ahead of the run and claimed by it.
    Pooled(Box<Pooled>),
}

/// How a run went: its result (or the error a cold run would have given), or the sandbox
/// could not take the run, nothing of it started, and it should go elsewhere.
pub(crate) enum Ran {
    Done(Box<Result<ExecutionResult, ExecuteError>>),
    NotTaken(NotTaken),
}

/// Runs `req`: on a pre-started sandbox or a zygote's fork when one can take it, else cold.
/// Its output goes to `tap` as it comes.
pub(crate) async fn run(
    sandboxes: &Sandboxes,
    warm: &Arc<Pool>,
    req: &ExecutionRequest,
    cancel: CancellationToken,
    tap: OutputTap,
) -> Result<ExecutionResult, ExecuteError> {
    let fixed = warm::Fixed::of(&req.limits, &sandboxes.config.limits);
    let mut start = Start::Cold;
    // A pre-started sandbox that cannot take the run (killed while it waited) is discarded;
    // the run tries another, then goes cold. A run with an egress policy is forked or goes
    // cold: a pre-started sandbox was started without its door.
    if req.egress.is_some() {
        start = warm.claim_fork(req, fixed).map_or(Start::Cold, Start::Forked);
    }
    let claims = if req.egress.is_some() { 0 } else { WARM_CLAIMS };
    for _ in 0..claims {
        match warm.claim(req, fixed) {
            Some(Claim::Pooled(pooled)) => {
                match run_with(sandboxes, req, Start::Pooled(pooled), cancel.clone(), tap.clone()).await {
                    Ran::Done(result) => return *result,
                    Ran::NotTaken(why) if why.refuses_limits() => {
                        tracing::info!(%why, "a pre-started sandbox cannot take the run's limits; running it cold");
                        break;
                    }
                    Ran::NotTaken(why) => tracing::warn!(%why, "the warm path could not take the run"),
                }
            }
            Some(Claim::Forked(zygote)) => {
                start = Start::Forked(zygote);
                break;
            }
            None => break,
        }
    }
    match run_with(sandboxes, req, start, cancel, tap).await {
        Ran::Done(result) => *result,
        Ran::NotTaken(why) => Err(ExecuteError::Internal(why.to_string())),
    }
}

/// The lifecycle itself: `start` only decides how the sandbox starts.
pub(crate) async fn run_with(
    sandboxes: &Sandboxes,
    req: &ExecutionRequest,
    start: Start,
    cancel: CancellationToken,
    tap: OutputTap,
) -> Ran {
    let began = Instant::now();
    let mut sandbox = match Sandbox::prepare(sandboxes, req, start).await {
        Ok(sandbox) => sandbox,
        Err(ran) => return ran,
    };
    if let Err(e) = sandboxes.workspaces.write_files(sandbox.workspace(), &req.files) {
        sandbox.discard(sandboxes).await;
        return Ran::Done(Box::new(Err(e)));
    }
    let before = artifacts::snapshot(&sandbox.workspace().path);
    let (run, path, door) = match sandbox.launch(sandboxes, req, &cancel, tap).await {
        Ok(launched) => launched,
        Err(why) => {
            sandbox.discard(sandboxes).await;
            return Ran::NotTaken(why);
        }
    };
    let ran = began.elapsed();
    let result = run.and_then(|run| finish(sandboxes, req, run, sandbox.workspace(), &before, path));
    let result = result.map(|mut result| {
        let run_ms = result.metrics.duration_ms;
        let launch_ms = (ms(ran) - run_ms).max(0.0);
        let collect_ms = ms(began.elapsed()) - ms(ran);
        result.metrics.phases = Some(Phases { launch_ms, run_ms, collect_ms, ..Phases::default() });
        result
    });
    let result = result.map(|result| with_network(result, door));
    sandbox.release(sandboxes);
    Ran::Done(Box::new(result))
}

/// A duration in ms, to the hundredth.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The result of a run that ended: what changed in its workspace, and whether it was full.
fn finish(
    sandboxes: &Sandboxes,
    req: &ExecutionRequest,
    run: RunOutput,
    workspace: &Workspace,
    before: &Snapshot,
    path: LaunchPath,
) -> Result<ExecutionResult, ExecuteError> {
    let artifacts = artifacts::changed_since(&workspace.path, before);
    let workspace_full = sandboxes.workspaces.size_capped() && sandbox::host::filesystem_full(&workspace.path);
    let mut result = outcome::build(&req.execution_id, run, artifacts, workspace_full)?;
    result.isolation = sandboxes.active_layers.clone();
    result.metrics.path = path;
    Ok(result)
}

/// The result with what went through the run's egress door, if it had one.
fn with_network(mut result: ExecutionResult, door: Option<Door>) -> ExecutionResult {
    if let Some(door) = door {
        outcome::with_network(&mut result, door.close());
    }
    result
}

/// A run's sandbox with its workspace, between its preparation and its release.
enum Sandbox {
    Fresh { zygote: Option<Arc<Zygote>>, environment: Option<Environment>, workspace: Workspace },
    Pooled(Box<Pooled>),
}

impl Sandbox {
    async fn prepare(sandboxes: &Sandboxes, req: &ExecutionRequest, start: Start) -> Result<Sandbox, Ran> {
        let zygote = match start {
            Start::Pooled(pooled) if !pooled.alive() => {
                pooled.retire(sandboxes).await;
                return Err(Ran::NotTaken(NotTaken::Ended(Ahead::PreStarted)));
            }
            Start::Pooled(pooled) => return Ok(Sandbox::Pooled(pooled)),
            Start::Forked(zygote) => Some(zygote),
            Start::Cold => None,
        };
        // Built before the workspace exists: a failed build leaves nothing to clean up.
        let environment = match &req.template {
            Some(template) => {
                Some(sandboxes.templates.prepare(template).await.map_err(|e| Ran::Done(Box::new(Err(e.into()))))?)
            }
            None => None,
        };
        let workspace =
            sandboxes.workspaces.prepare(&req.workspace, &req.execution_id).map_err(|e| Ran::Done(Box::new(Err(e))))?;
        Ok(Sandbox::Fresh { zygote, environment, workspace })
    }

    fn workspace(&self) -> &Workspace {
        match self {
            Sandbox::Fresh { workspace, .. } => workspace,
            Sandbox::Pooled(pooled) => &pooled.workspace,
        }
    }

    /// Starts the run and waits for its end; `Err` when a pre-started sandbox did not take it.
    async fn launch(
        &mut self,
        sandboxes: &Sandboxes,
        req: &ExecutionRequest,
        cancel: &CancellationToken,
        tap: OutputTap,
    ) -> Result<(Result<RunOutput, ExecuteError>, LaunchPath, Option<Door>), NotTaken> {
        match self {
            Sandbox::Pooled(pooled) => {
                // The sandbox started before its run: its output goes to the run's tap from now.
                if let Some(sink) = tap.sink() {
                    pooled.live.tap.set(sink);
                }
                let run = warm::serve(sandboxes, req, pooled, cancel).await?;
                Ok((run, LaunchPath::Warm, None))
            }
            Sandbox::Fresh { zygote, environment, workspace } => {
                let into = Into { workspace, cancel, tap };
                Ok(launch_fresh(sandboxes, req, zygote.as_deref(), environment.as_ref(), into).await)
            }
        }
    }

    /// Kills what was started for the run and removes its workspace.
    async fn discard(self, sandboxes: &Sandboxes) {
        match self {
            Sandbox::Fresh { workspace, .. } => sandboxes.workspaces.release(workspace),
            Sandbox::Pooled(pooled) => pooled.retire(sandboxes).await,
        }
    }

    /// Removes the workspace of a run that ended (its sandbox is gone with it).
    fn release(self, sandboxes: &Sandboxes) {
        match self {
            Sandbox::Fresh { workspace, .. } => sandboxes.workspaces.release(workspace),
            Sandbox::Pooled(pooled) => sandboxes.workspaces.release(pooled.workspace),
        }
    }
}

/// What a fresh sandbox runs in and gives to: its workspace, its cancellation, its output's tap.
struct Into<'a> {
    workspace: &'a Workspace,
    cancel: &'a CancellationToken,
    tap: OutputTap,
}

/// A sandbox of the run's own, built from its spec: forked by `zygote` when it can, else cold;
/// either way with its egress door when it has a policy.
async fn launch_fresh(
    sandboxes: &Sandboxes,
    req: &ExecutionRequest,
    zygote: Option<&Zygote>,
    environment: Option<&Environment>,
    Into { workspace, cancel, tap }: Into<'_>,
) -> (Result<RunOutput, ExecuteError>, LaunchPath, Option<Door>) {
    let (event, context) = event_and_context(&sandboxes.config, req);
    let runtimes = runtimes_for(&sandboxes.config, environment);
    let launch = runtime::launch(req.language, &runtimes, &req.code, &event, &context);
    let mut spec = sandbox_spec(
        &sandboxes.config,
        &sandboxes.cgroups,
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
    if req.home_alias {
        crate::spec::alias_home(&mut spec);
    }
    let max_output = req.limits.max_output_bytes.unwrap_or(sandboxes.config.limits.default_output_bytes);
    let kill = cancel.child_token();
    let (door, handoff) = match open_door(sandboxes, req, &mut spec, &kill) {
        Ok(opened) => opened.unzip(),
        Err(e) => return (Err(e), LaunchPath::Cold, None),
    };
    let started = async {
        if let Some(zygote) = zygote {
            let executes = req.language != crate::Language::Python;
            // The fork gets a copy of the door's socket: the cold path keeps it if the fork fails.
            let more = match handoff.as_ref().map(|fd| fd.try_clone()).transpose() {
                Ok(copy) => copy.into_iter().collect(),
                Err(e) => return (Err(RunError::Protocol(format!("egress door: {e}"))), LaunchPath::Cold),
            };
            let run =
                warm::ForkRun { max_output_bytes: max_output, cancel: kill.clone(), executes, more, tap: tap.clone() };
            if let Some(forked) = warm::fork(sandboxes, zygote, &spec, &workspace.path, run).await {
                return forked;
            }
        }
        let start = SandboxStart {
            handed: handoff.into_iter().collect(),
            ..SandboxStart::fresh(&spec, max_output, kill.clone(), tap)
        };
        (sandboxes.launcher.start(start).await, LaunchPath::Cold)
    };
    let timeout = Duration::from_millis(req.timeout_ms) + BEHIND_THE_LAUNCHER;
    let ((run, path), ended) = deadline::race(started, timeout, cancel, &kill).await;
    let run = run.map(|mut run| {
        ended.correct(&mut run.report.outcome);
        run
    });
    (run.map_err(|e| ExecuteError::launch("launch", &e)), path, door)
}

/// The run's egress door, when it has a policy: `spec` gets it, and the socket that goes to
/// the launcher with the spec comes back with it. Passing a limit cancels `kill`.
fn open_door(
    sandboxes: &Sandboxes,
    req: &ExecutionRequest,
    spec: &mut sandbox::SandboxSpec,
    kill: &CancellationToken,
) -> Result<Option<(Door, std::os::fd::OwnedFd)>, ExecuteError> {
    let Some(policy) = &req.egress else { return Ok(None) };
    let config = sandboxes.config.egress.clone();
    let opened =
        Door::open(policy, config, &req.execution_id, kill.clone()).map_err(|e| ExecuteError::io("egress door", &e))?;
    crate::spec::with_egress_door(spec);
    Ok(Some(opened))
}
