//! The execution service: the one entry point for running code.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ExecuteError, ExecutionRequest, ExecutionResult, ExecutorConfig, LimitPolicy};

/// What `GET /info` reports about this host and the sandbox in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostInfo {
    pub version: String,
    pub platform: Platform,
    pub isolation: Isolation,
    pub languages: Vec<LanguageInfo>,
    pub limits: LimitPolicy,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Isolation {
    /// How runs are isolated: `linux-namespaces`.
    pub mechanism: String,
    /// Every layer, in force or not, with why.
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Layer {
    pub name: String,
    pub active: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LanguageInfo {
    pub language: crate::Language,
    pub interpreter: String,
    /// The interpreter's own version string, or null when it is missing.
    pub version: Option<String>,
}

pub struct ExecutionService {
    _config: ExecutorConfig,
}

impl ExecutionService {
    pub async fn new(config: ExecutorConfig) -> Result<Self, ExecuteError> {
        Ok(ExecutionService { _config: config })
    }

    pub async fn execute(&self, _req: ExecutionRequest) -> Result<ExecutionResult, ExecuteError> {
        unimplemented!()
    }

    pub fn active_executions(&self) -> usize {
        0
    }

    /// `Err(reason)` when the sandbox cannot work on this host.
    pub fn health(&self) -> Result<(), String> {
        Ok(())
    }

    pub fn info(&self) -> HostInfo {
        unimplemented!()
    }

    pub fn limits(&self) -> &LimitPolicy {
        &self._config.limits
    }
}
