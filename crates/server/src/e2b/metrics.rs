//! `GET /sandboxes/{id}/metrics`: the box's usage over time (CPU and memory from its cgroup,
//! disk from its workspace), in E2B's `SandboxMetric` shape, between `start` and `end` (Unix
//! seconds) when asked.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use executor::boxes::BoxMetrics;
use serde::Deserialize;
use serde_json::{json, Value};

use super::control::mine;
use super::error::E2bError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct Window {
    start: Option<u64>,
    end: Option<u64>,
}

pub async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(window): Query<Window>,
) -> Result<Json<Value>, E2bError> {
    let (sandbox, _) = mine(&state, &headers, &id)?;
    let series = state.service.sessions().metrics(sandbox.id(), sandbox.tenant()).await?;
    let within = |at: u64| window.start.is_none_or(|s| at >= s) && window.end.is_none_or(|e| at <= e);
    let shown: Vec<Value> = series.iter().filter(|m| within(unix(m.timestamp))).map(metric).collect();
    Ok(Json(Value::Array(shown)))
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

fn metric(m: &BoxMetrics) -> Value {
    let (disk_used, disk_total) = m.disk.unwrap_or((0, 0));
    let timestamp = humantime::format_rfc3339_seconds(m.timestamp).to_string();
    json!({
        "timestamp": timestamp,
        "timestampUnix": unix(m.timestamp),
        "cpuCount": m.cpu_count,
        "cpuUsedPct": (m.cpu_used_pct * 100.0).round() / 100.0,
        "memUsed": m.mem_used.unwrap_or(0),
        "memTotal": m.mem_total,
        "memCache": 0,
        "diskUsed": disk_used,
        "diskTotal": disk_total,
    })
}
