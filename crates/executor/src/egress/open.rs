//! How many connections are open at once, per run and across the daemon's runs. Each open
//! connection holds two of the daemon's descriptors (the run's side and the destination's),
//! so these limits keep one run, or all of them, from taking every descriptor the daemon has.

use std::sync::Arc;

use super::RunDoor;

/// One connection counted as open, in its run and in the daemon, until it is dropped.
pub(super) struct OpenSlot {
    run: Arc<RunDoor>,
}

/// Why a connection may not be open now: the status of the proxy's answer, and the reason.
pub(super) struct Full {
    pub status: &'static str,
    pub why: String,
}

impl OpenSlot {
    pub fn take(run: &Arc<RunDoor>) -> Result<OpenSlot, Full> {
        let (per_run, daemon) = (run.config.max_open_per_run, run.config.max_open);
        if !run.open.take(per_run) {
            return Err(Full {
                status: "429 Too Many Requests",
                why: format!("the run has {per_run} connections open, the most it may; close one first"),
            });
        }
        if !run.config.open.take(daemon) {
            run.open.give_back();
            return Err(Full {
                status: "503 Service Unavailable",
                why: format!("the server has {daemon} egress connections open, the most it takes; try again later"),
            });
        }
        run.ledger.open_now(run.open.now());
        gauge(run);
        Ok(OpenSlot { run: run.clone() })
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.run.open.give_back();
        self.run.config.open.give_back();
        gauge(&self.run);
    }
}

/// The daemon's open egress connections, for `/metrics`.
fn gauge(run: &RunDoor) {
    metrics::gauge!("sandbox_egress_open_connections").set(run.config.open.now() as f64);
}
