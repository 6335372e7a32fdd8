//! Turns what a caller sent into an [`ExecutionRequest`], or says precisely what is wrong.

use std::collections::BTreeMap;

use crate::{ExecuteError, ExecutionRequest, LimitPolicy, RequestedLimits};

/// A request as the caller sent it, before validation (JSON already decoded, base64 file
/// contents already decoded).
#[derive(Debug, Clone, Default)]
pub struct RequestDraft {
    pub execution_id: Option<String>,
    pub language: Option<String>,
    pub code: String,
    pub timeout_secs: Option<f64>,
    /// A session's persistent workspace.
    pub session_id: Option<String>,
    /// A named shared workspace chosen by the server (the NVIDIA dialect's default one).
    pub shared_workspace: Option<String>,
    pub event: Option<serde_json::Value>,
    pub stdin: Option<String>,
    pub env_vars: BTreeMap<String, String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub limits: RequestedLimits,
}

pub fn build_request(
    _draft: RequestDraft,
    _policy: &LimitPolicy,
) -> Result<ExecutionRequest, ExecuteError> {
    unimplemented!("validation")
}
