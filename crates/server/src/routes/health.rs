//! `GET /health`: the runtime executor's health body; 503 when the sandbox cannot work here.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthBody {
    pub status: HealthStatus,
    pub version: String,
    pub uptime_seconds: f64,
    pub active_executions: usize,
    /// Why the executor is unhealthy; absent when healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The 503 body: the health fields and the standard error fields together, so that both
/// health probes and generic error handling can read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnhealthyBody {
    #[serde(flatten)]
    pub health: HealthBody,
    #[serde(flatten)]
    pub error: ErrorBody,
}

#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "health",
    // Open even when the daemon has an API token: probes carry no credentials.
    security(()),
    responses(
        (status = 200, description = "The executor can run code", body = HealthBody),
        (status = 503, description = "The executor cannot run code on this host", body = UnhealthyBody),
    )
)]
pub async fn health(State(state): State<Arc<AppState>>) -> Result<Json<HealthBody>, ApiError> {
    let uptime = state.options.started_at.elapsed().as_secs_f64();
    let mut body = HealthBody {
        status: HealthStatus::Healthy,
        version: state.options.version.clone(),
        // Milliseconds are plenty for a probe, and keep the number readable.
        uptime_seconds: (uptime * 1000.0).round() / 1000.0,
        active_executions: state.service.active_executions(),
        reason: None,
    };
    match state.service.health() {
        Ok(()) => Ok(Json(body)),
        Err(reason) => {
            body.status = HealthStatus::Unhealthy;
            let reason = reason.to_string();
            body.reason = Some(reason.clone());
            Err(ApiError::new(
                ErrorCode::Unhealthy,
                "The executor cannot run code on this host right now.",
                reason,
                "Check the daemon's log and GET /info for the missing runtime or isolation layer; \
                 send executions elsewhere until this endpoint answers 200.",
            )
            .with_fields(body))
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadyBody {
    /// True: a new execution would be taken now.
    pub ready: bool,
    pub active_executions: u64,
    pub queued_executions: u64,
    pub max_queued: u64,
    /// Why it would not; absent when ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The 503 body of `/ready`: the readiness fields and the standard error fields together.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotReadyBody {
    #[serde(flatten)]
    pub ready: ReadyBody,
    #[serde(flatten)]
    pub error: ErrorBody,
}

#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "health",
    // Open even when the daemon has an API token: probes carry no credentials.
    security(()),
    responses(
        (status = 200, description = "A new execution would be taken now", body = ReadyBody),
        (status = 503, description = "Not now: the host cannot sandbox, the daemon is shutting down, or its queue is full", body = NotReadyBody),
    )
)]
pub async fn ready(State(state): State<Arc<AppState>>) -> Result<Json<ReadyBody>, ApiError> {
    let stats = state.service.stats();
    let mut body = ReadyBody {
        ready: true,
        active_executions: stats.active_executions,
        queued_executions: stats.queued_executions,
        max_queued: stats.max_queued,
        reason: None,
    };
    match state.service.ready() {
        Ok(()) => Ok(Json(body)),
        Err(reason) => {
            body.ready = false;
            let reason = reason.to_string();
            body.reason = Some(reason.clone());
            Err(ApiError::new(
                ErrorCode::NotReady,
                "The executor takes no new executions right now.",
                reason,
                "Send executions to another instance; this one answers 200 here again once it has room \
                 (or once the host can sandbox).",
            )
            .with_fields(body))
        }
    }
}
