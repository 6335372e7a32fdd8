//! The per-phase timings a daemon reports in `metrics.phases`, summed over a shape's runs.

use serde_json::Value;

/// The phases of `metrics.phases`, in the order a run goes through them.
pub const PHASES: [&str; 5] = ["queue_ms", "launch_ms", "run_ms", "collect_ms", "store_ms"];

/// Sums of `metrics.phases` over the runs that reported them (results from a daemon without
/// them count nowhere).
#[derive(Clone, Default)]
pub struct Phases {
    pub count: usize,
    pub sums: [f64; 5],
}

impl Phases {
    pub fn add(&mut self, reply: &Value) {
        let phases = &reply["metrics"]["phases"];
        let Some(values) = PHASES.iter().map(|p| phases[*p].as_f64()).collect::<Option<Vec<_>>>() else { return };
        self.count += 1;
        for (sum, value) in self.sums.iter_mut().zip(values) {
            *sum += value;
        }
    }

    /// The mean of each phase in ms, or None when no run reported them.
    pub fn means(&self) -> Option<[f64; 5]> {
        (self.count > 0).then(|| self.sums.map(|s| s / self.count as f64))
    }
}
