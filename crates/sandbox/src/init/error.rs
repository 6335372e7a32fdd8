//! Errors of building the sandbox, each tagged with the stage that failed.

use std::fmt;

/// A failed setup step: which stage, and the OS's reason.
#[derive(Debug, Clone)]
pub struct SetupError {
    pub stage: String,
    pub message: String,
}

impl SetupError {
    pub fn new(stage: impl Into<String>, message: impl fmt::Display) -> Self {
        SetupError { stage: stage.into(), message: message.to_string() }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)
    }
}

pub type SetupResult<T> = Result<T, SetupError>;

/// Attaches a stage name to any displayable error.
pub trait Stage<T> {
    fn stage(self, stage: impl FnOnce() -> String) -> SetupResult<T>;
}

impl<T, E: fmt::Display> Stage<T> for Result<T, E> {
    fn stage(self, stage: impl FnOnce() -> String) -> SetupResult<T> {
        self.map_err(|e| SetupError::new(stage(), e))
    }
}
