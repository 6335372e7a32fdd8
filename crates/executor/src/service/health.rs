//! The host's posture as the service starts: the isolation layers in force after the
//! sandboxed self-test, the required ones missing, and the health they give.

use crate::executions::SelfTestError;
use crate::posture::{self, Layer};
use crate::sandboxes::Sandboxes;
use crate::ExecuteError;

/// Why the daemon takes no executions: `/health` and `/ready` answer with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unhealthy {
    /// The sandboxed self-test at startup failed on this host (why).
    #[error("{0}")]
    SelfTest(String),
    /// Layers the configuration requires are not in force here (each with why).
    #[error("required isolation layers missing: {}", .0.join(", "))]
    MissingLayers(Vec<String>),
    /// Admission takes nothing new now: the daemon is shutting down, or its queue is full.
    #[error("{0}")]
    Refused(String),
}

/// The isolation layers of this host: all of them, the names of those in force, the health
/// they give, and the required ones missing.
pub(super) struct Posture {
    pub layers: Vec<Layer>,
    pub health: Result<(), Unhealthy>,
    pub missing_required: Vec<String>,
}

/// The layers in force given the self-test's outcome, and what the configuration requires.
/// Requirements are checked against what the host supports: a failed self-test is a health
/// problem (503 with its reason), not a missing layer.
pub(super) fn posture_of(sandboxes: &Sandboxes, self_test: Result<(), SelfTestError>) -> Result<Posture, ExecuteError> {
    let self_test = self_test.map_err(|e| Unhealthy::SelfTest(e.to_string()));
    if let Err(reason) = &self_test {
        tracing::error!(%reason, "the sandbox does not work on this host");
    }
    let capped = sandboxes.workspaces.size_capped();
    let config = &sandboxes.config;
    let layers_if =
        |test: Result<(), &str>| posture::layers(test, capped, config.confinement, sandboxes.cgroups.states());
    let failed = self_test.as_ref().err().map(|e| e.to_string());
    let mut layers = layers_if(failed.as_deref().map_or(Ok(()), Err));
    let mut supported = layers_if(Ok(()));
    let missing_required = posture::require(&mut supported, &config.required_layers)
        .map_err(|e| ExecuteError::invalid("require", e.to_string()))?;
    for (layer, supported) in layers.iter_mut().zip(&supported) {
        layer.required = supported.required;
    }
    let health = match self_test {
        Ok(()) if !missing_required.is_empty() => Err(Unhealthy::MissingLayers(missing_required.clone())),
        other => other,
    };
    Ok(Posture { layers, health, missing_required })
}
