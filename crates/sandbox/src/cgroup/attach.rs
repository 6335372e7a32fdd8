//! The runner's side of a run's cgroup: create and join it, watch it, and finish it.

use std::sync::Arc;
use std::time::Duration;

use super::{Manager, RunCgroup, RunLimits, Usage};
use crate::spec::Limits;

/// How often the process-limit counter is read while a run goes on.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Gives the launcher `pid` its own cgroup with the spec's limits, before it reads its spec.
/// None when no controller is in force here; an error means the run must not go on.
pub fn attach(manager: Option<&Manager>, limits: &Limits, pid: Option<u32>) -> Result<Option<RunCgroup>, String> {
    let Some(manager) = manager else { return Ok(None) };
    let run_limits = RunLimits { memory_bytes: limits.memory_bytes, processes: limits.pids };
    let Some(cgroup) = manager.create(&run_limits).map_err(|e| format!("create the run's cgroup: {e}"))? else {
        return Ok(None);
    };
    let joined = match pid {
        Some(pid) => cgroup.join(pid).map_err(|e| format!("move the launcher into its cgroup: {e}")),
        None => Err("the launcher exited before it could join its cgroup".to_string()),
    };
    match joined {
        Ok(()) => Ok(Some(cgroup)),
        Err(e) => {
            cgroup.finish();
            Err(e)
        }
    }
}

/// [`attach`] on a blocking thread: moving a process into a cgroup takes the kernel's
/// cgroup threadgroup lock, which waits for an RCU grace period (milliseconds), and the
/// runtime's other tasks (other runs' output and reports) must not wait with it.
pub async fn attach_apart(
    manager: Option<Arc<Manager>>,
    limits: Limits,
    pid: Option<u32>,
) -> Result<Option<RunCgroup>, String> {
    let Some(manager) = manager else { return Ok(None) };
    let joined = tokio::task::spawn_blocking(move || attach(Some(&manager), &limits, pid)).await;
    joined.unwrap_or_else(|e| Err(format!("create the run's cgroup: {e}")))
}

/// Resolves once a fork or clone of the run was refused by its process limit; never
/// without a cgroup.
pub async fn process_limit_hit(cgroup: Option<&RunCgroup>) {
    let Some(cgroup) = cgroup else { return std::future::pending().await };
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        if cgroup.usage().pids_limit_hits > 0 {
            return;
        }
    }
}

/// What the kernel counted for the run; its cgroup is then removed (and anything left in it
/// killed) in the background by `manager`, or at once without one.
pub async fn finish(cgroup: Option<RunCgroup>, manager: Option<&Manager>) -> Option<Usage> {
    let cgroup = cgroup?;
    match manager {
        Some(manager) => Some(manager.finish_later(cgroup)),
        None => tokio::task::spawn_blocking(move || cgroup.finish()).await.ok(),
    }
}
