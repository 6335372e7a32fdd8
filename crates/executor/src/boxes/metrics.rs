//! A box's usage over time, sampled from its cgroup while it lives: the series E2B's
//! metrics and our own API show.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sandbox::runner::Adjustable;
use tokio_util::sync::CancellationToken;

/// How often a box is sampled.
const EVERY: Duration = Duration::from_secs(5);
/// Samples kept: the last hour.
const KEPT: usize = 720;

/// A box's usage at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxMetrics {
    pub timestamp: SystemTime,
    /// CPUs the box may use.
    pub cpu_count: u32,
    /// Of those CPUs, since the sample before (0 for the first).
    pub cpu_used_pct: f64,
    /// Memory its processes hold, as its cgroup counts it (`None` without the memory controller).
    pub mem_used: Option<u64>,
    /// The most it may hold.
    pub mem_total: u64,
    /// Bytes used and in all of its workspace, where it is a filesystem of its own.
    pub disk: Option<(u64, u64)>,
}

pub(super) type Series = Arc<Mutex<VecDeque<BoxMetrics>>>;

/// The CPUs a box may use: the host's (no CPU quota is set on boxes).
pub fn cpu_count() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Samples the cgroup `adjust` learns into `series` every [`EVERY`] until `cancel`.
pub(super) async fn sample(adjust: Arc<Adjustable>, series: Series, mem_total: u64, cancel: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    let mut before: Option<(Instant, u64)> = None;
    let cpus = cpu_count();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = cancel.cancelled() => return,
        }
        let usage = adjust.usage_now().unwrap_or_default();
        let now = Instant::now();
        let cpu_used_pct = match (before, usage.cpu_usec) {
            (Some((then, was)), Some(is)) => {
                let wall_usec = now.duration_since(then).as_micros().max(1) as f64;
                (is.saturating_sub(was) as f64 / wall_usec / f64::from(cpus) * 100.0).min(100.0)
            }
            _ => 0.0,
        };
        before = usage.cpu_usec.map(|cpu| (now, cpu));
        let metrics = BoxMetrics {
            timestamp: SystemTime::now(),
            cpu_count: cpus,
            cpu_used_pct,
            mem_used: usage.memory_bytes,
            mem_total: usage.memory_limit_bytes.unwrap_or(mem_total),
            disk: None,
        };
        let mut kept = series.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back(metrics);
    }
}
