//! The execution domain: turns a validated request into a sandbox spec, runs it through a
//! launcher, and turns the sandbox's report into a result.
#![forbid(unsafe_code)]

mod admission;
mod artifacts;
pub mod boxes;
pub mod config;
pub mod confinement;
mod deadline;
mod driver;
pub mod egress;
pub mod error;
mod exact_json;
mod executions;
pub mod json_shape;
pub mod language;
pub mod launcher;
mod lifecycle;
mod live;
mod metrics;
mod outcome;
mod posture;
pub mod recorder;
pub mod request;
pub mod result;
pub mod rich;
mod runtime;
mod sandboxes;
pub mod service;
pub mod session;
mod spec;
pub mod templates;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
pub mod validate;
mod warm;
mod workspace;

pub use config::{ExecutorConfig, LimitPolicy, RuntimePaths, TemplateConfig};
pub use confinement::ConfinementLayers;
pub use egress::{EgressConfig, EgressPolicy, NetworkAttempt, NetworkReport};
pub use error::ExecuteError;
pub use exact_json::{ExactJson, MAX_VALUE_DEPTH};
pub use language::Language;
pub use metrics::describe_metrics;
pub use recorder::{ExecutionRecord, ExecutionRecorder, ExecutionState, RecordError, StartedExecution};
pub use request::{ExecutionRequest, InputFile, RequestedLimits, WorkspaceChoice, DEFAULT_TENANT};
pub use result::*;
pub use rich::{LiveEvent, RichResult, Tap};
pub use sandbox::workspace_fs::{Entry as WorkspaceEntry, EntryKind as WorkspaceEntryKind};
pub use service::{ExecutionService, HostInfo, Running, ServiceOptions, ServiceStats, Unhealthy};
pub use session::{
    AccessTokens, CodeContext, FileDownload, ListOrder, NewSession, ProcessRun, SessionAttributes, SessionCall,
    SessionCommand, SessionConfig, SessionFile, SessionHandle, SessionInfo, SessionPage, SessionQuery, SessionResult,
    SessionStats, Transfer, WatchEvent, WatchEventKind, WatchSpec, WatchStream,
};
pub use templates::{Template, TemplateError, TemplateInfo, TemplateSpec, Templates};
pub use warm::{WarmConfig, WarmInfo, WarmPoolInfo};
