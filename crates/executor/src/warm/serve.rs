//! The pre-started start: a claimed sandbox gets its run down its socket, says it has taken
//! it, and is awaited until the run's deadline (measured from the claim).

use std::time::{Duration, Instant};

use sandbox::runner::RunOutput;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::not_taken::{Ahead, NotTaken};
use super::pooled::Pooled;
use super::Fixed;
use crate::sandboxes::Sandboxes;
use crate::{deadline, driver, spec};
use crate::{ExecuteError, ExecutionRequest};

/// How long a pre-started sandbox may take to say it has its run (it only reads it).
const TAKE_WAIT: Duration = Duration::from_secs(10);

/// Runs `req` on `pooled` and awaits its end; [`NotTaken`] when the sandbox did not take the
/// run (nothing of it started: it may go elsewhere).
pub(crate) async fn serve(
    sandboxes: &Sandboxes,
    req: &ExecutionRequest,
    pooled: &mut Pooled,
    cancel: &CancellationToken,
) -> Result<Result<RunOutput, ExecuteError>, NotTaken> {
    let message = driver::run_message(&sandboxes.config, req, pooled.environment.as_ref());
    let fixed = Fixed::of(&req.limits, &sandboxes.config.limits);
    if pooled.fixed != fixed {
        // Applied from outside before the run is handed over; a limit that cannot be applied
        // gives the sandbox up (the run goes elsewhere), never a run with other limits.
        let limits = spec::run_limits(&sandboxes.config, &sandboxes.cgroups, &req.limits, req.timeout_ms);
        pooled.adjust.apply(&limits, fixed.output_bytes)?;
        pooled.fixed = fixed;
    }
    let claimed = Instant::now();
    match tokio::time::timeout(TAKE_WAIT, take(pooled, &message)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(NotTaken::Refused(Ahead::PreStarted, e)),
        Err(_) => return Err(NotTaken::Late(Ahead::PreStarted)),
    }
    let timeout = Duration::from_millis(req.timeout_ms);
    let (joined, ended) = deadline::race(&mut pooled.live.task, timeout, cancel, &pooled.live.cancel).await;
    Ok(match joined {
        Err(e) => Err(ExecuteError::Internal(format!("warm run task failed: {e}"))),
        Ok(Err(e)) => Err(ExecuteError::launch("launch", &e)),
        Ok(Ok(mut run)) => {
            ended.correct(&mut run.report.outcome);
            // The launcher's clock started with the sandbox; the run's starts at the claim.
            run.report.wall_time_ms = claimed.elapsed().as_secs_f64() * 1000.0;
            Ok(run)
        }
    })
}

/// Sends the run; only a driver that answers has it: a sandbox killed while it waited (or as
/// it was claimed) has not started anything of it.
async fn take(pooled: &mut Pooled, message: &[u8]) -> std::io::Result<()> {
    pooled.socket.write_all(message).await?;
    pooled.socket.shutdown().await?;
    let mut taken = [0u8; driver::TAKEN.len()];
    pooled.socket.read_exact(&mut taken).await?;
    match &taken == driver::TAKEN {
        true => Ok(()),
        false => Err(std::io::Error::other("it answered something else than taken")),
    }
}
