//! A run on a pre-started sandbox: the request's files go into its workspace, the run goes
//! down its socket, and its end is awaited and reported exactly as a cold run's.

use std::time::{Duration, Instant};

use sandbox::Outcome;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::pooled::Pooled;
use crate::service::ExecutionService;
use crate::{artifacts, driver, outcome};
use crate::{ExecuteError, ExecutionRequest, ExecutionResult, LaunchPath};

/// How long a pre-started sandbox may take to say it has its run (it only reads it).
const TAKE_WAIT: Duration = Duration::from_secs(10);

/// How a warm run went: its result (or the error a cold run would have given), or the
/// sandbox could not take the run and the request should go cold.
pub(crate) enum Served {
    Done(Box<Result<ExecutionResult, ExecuteError>>),
    GoCold(String),
}

pub(crate) async fn serve(
    service: &ExecutionService,
    req: &ExecutionRequest,
    mut pooled: Pooled,
    cancel: CancellationToken,
) -> Served {
    if !pooled.alive() {
        pooled.retire(service).await;
        return Served::GoCold("the pre-started sandbox had ended".into());
    }
    if let Err(e) = service.workspaces.write_files(&pooled.workspace, &req.files) {
        pooled.retire(service).await;
        return Served::Done(Box::new(Err(e)));
    }
    let before = artifacts::snapshot(&pooled.workspace.path);
    let message = driver::run_message(&service.config, req, pooled.environment.as_ref());
    let claimed = Instant::now();
    let sent = async {
        pooled.socket.write_all(&message).await?;
        pooled.socket.shutdown().await?;
        // Only a driver that answers has the run: a sandbox killed while it waited (or as
        // it was claimed) has not started anything of it, and the run goes elsewhere.
        let mut taken = [0u8; driver::TAKEN.len()];
        pooled.socket.read_exact(&mut taken).await?;
        match &taken == driver::TAKEN {
            true => Ok(()),
            false => Err(std::io::Error::other("it answered something else than taken")),
        }
    };
    match tokio::time::timeout(TAKE_WAIT, sent).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            pooled.retire(service).await;
            return Served::GoCold(format!("the pre-started sandbox did not take the run: {e}"));
        }
        Err(_) => {
            pooled.retire(service).await;
            return Served::GoCold("the pre-started sandbox did not take the run in time".into());
        }
    }
    let timeout = Duration::from_millis(req.timeout_ms);
    let mut timed_out = false;
    let joined = tokio::select! {
        joined = &mut pooled.live.task => joined,
        _ = tokio::time::sleep(timeout) => {
            timed_out = true;
            pooled.live.cancel.cancel();
            (&mut pooled.live.task).await
        }
        _ = cancel.cancelled() => {
            pooled.live.cancel.cancel();
            (&mut pooled.live.task).await
        }
    };
    let wall_time_ms = claimed.elapsed().as_secs_f64() * 1000.0;
    let result = match joined {
        Err(e) => Err(ExecuteError::Internal(format!("warm run task failed: {e}"))),
        Ok(Err(e)) => Err(ExecuteError::Sandbox { stage: "launch".into(), message: e.to_string() }),
        Ok(Ok(mut run)) => {
            // The launcher's clock started with the sandbox; the run's starts at the claim.
            if timed_out && run.report.outcome == Outcome::Cancelled {
                run.report.outcome = Outcome::TimedOut;
            }
            run.report.wall_time_ms = wall_time_ms;
            let workspace = &pooled.workspace;
            let artifacts = artifacts::changed_since(&workspace.path, &before);
            let workspace_full = service.workspaces.size_capped() && sandbox::host::filesystem_full(&workspace.path);
            outcome::build(&req.execution_id, run, artifacts, workspace_full).map(|mut result| {
                result.isolation = service.active_layers.clone();
                result.metrics.path = LaunchPath::Warm;
                result
            })
        }
    };
    service.workspaces.release(pooled.workspace);
    Served::Done(Box::new(result))
}
