//! The metric families the executor records: their help text, and their series at zero from
//! the start, so a scraper sees every family (and can take rates) before the first run.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit};

use crate::{ExecutionStatus, Language};

/// The phases of a run, as `sandbox_execution_phase_seconds` labels them.
const PHASES: [&str; 5] = ["queue", "launch", "run", "collect", "store"];

/// Describes the executor's families to the installed recorder and registers their series.
pub fn describe_metrics() {
    describe_counter!("sandbox_executions_total", "Runs finished, by language and status.");
    describe_histogram!("sandbox_execution_duration_seconds", Unit::Seconds, "Wall time of a run's code, by language.");
    describe_histogram!(
        "sandbox_execution_phase_seconds",
        Unit::Seconds,
        "Where a one-shot run's time went: queue, launch, run, collect, store."
    );
    for language in Language::ALL {
        for status in ExecutionStatus::ALL {
            counter!("sandbox_executions_total", "language" => language.name(), "status" => status.name()).absolute(0);
        }
        let _ = histogram!("sandbox_execution_duration_seconds", "language" => language.name());
    }
    for phase in PHASES {
        let _ = histogram!("sandbox_execution_phase_seconds", "phase" => phase);
    }
    describe_gauge!("sandbox_admitted_executions", "Runs holding a slot to run now.");
    describe_gauge!("sandbox_queue_depth", "Runs waiting for a slot.");
    describe_gauge!("sandbox_active_sessions", "Sessions alive now.");
    for name in ["sandbox_admitted_executions", "sandbox_queue_depth", "sandbox_active_sessions"] {
        gauge!(name).set(0.0);
    }
    let sessions = [
        ("sandbox_sessions_created_total", "Sessions created."),
        ("sandbox_sessions_reused_total", "Calls to a session that already existed."),
        ("sandbox_sessions_destroyed_total", "Sessions destroyed on request."),
        ("sandbox_sessions_expired_total", "Sessions reaped after their idle time-to-live."),
    ];
    for (name, help) in sessions {
        describe_counter!(name, help);
        counter!(name).absolute(0);
    }
    describe_egress();
}

fn describe_egress() {
    describe_counter!("sandbox_egress_connections_total", "Connections runs asked their egress proxy for, by outcome.");
    describe_counter!("sandbox_egress_bytes_total", Unit::Bytes, "Bytes moved through the egress proxy, by direction.");
    describe_counter!("sandbox_egress_limits_total", "Runs stopped for passing an egress limit, by limit.");
    for outcome in ["allowed", "refused"] {
        counter!("sandbox_egress_connections_total", "outcome" => outcome).absolute(0);
    }
    for direction in ["sent", "received"] {
        counter!("sandbox_egress_bytes_total", "direction" => direction).absolute(0);
    }
    for limit in ["connections", "bytes"] {
        counter!("sandbox_egress_limits_total", "limit" => limit).absolute(0);
    }
}
