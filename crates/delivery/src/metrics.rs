//! The metric families delivery records: their help text, and their series at zero from the
//! start.

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};

/// What is posted to the control plane, as the `kind` label names it.
const KINDS: [&str; 4] = ["result", "heartbeat", "ready", "exited"];

/// Describes delivery's families to the installed recorder and registers their series.
pub fn describe_metrics() {
    describe_counter!("sandbox_callbacks_total", "Posts to the control plane, by kind and outcome.");
    describe_histogram!(
        "sandbox_callback_duration_seconds",
        Unit::Seconds,
        "Time of one post to the control plane, by kind."
    );
    describe_histogram!(
        "sandbox_result_delivery_latency_seconds",
        Unit::Seconds,
        "Time from a run's end to its result's delivery."
    );
    for kind in KINDS {
        for outcome in ["delivered", "retry", "dead"] {
            counter!("sandbox_callbacks_total", "kind" => kind, "outcome" => outcome).absolute(0);
        }
        let _ = histogram!("sandbox_callback_duration_seconds", "kind" => kind);
    }
    let _ = histogram!("sandbox_result_delivery_latency_seconds");
}
