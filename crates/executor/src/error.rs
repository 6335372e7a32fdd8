//! Why the service refused or could not run a request.

/// Errors of [`crate::ExecutionService::execute`]. A run whose code failed is not an error:
/// it is an [`crate::ExecutionResult`] with a failed status.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The request is well-formed JSON but not acceptable (the caller can fix it).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request's data is over a size cap.
    #[error("{what} is {actual} bytes, over the limit of {limit} bytes")]
    TooLarge { what: String, actual: u64, limit: u64 },
    /// An execution with this id is still running.
    #[error("execution {0} is already running")]
    AlreadyRunning(String),
    /// The id is another tenant's execution (running or finished): never replaced. Ids are
    /// one namespace for all tenants (the control plane knows executions by id alone).
    #[error("execution_id {0} is taken")]
    IdTaken(String),
    /// The sandbox could not be built on this host, so the code never ran.
    #[error("the sandbox could not start ({stage}): {message}")]
    Sandbox { stage: String, message: String },
    /// As many executions are running and waiting as the daemon takes; try again later.
    #[error("{running} executions are running and {queued} waiting, the most this daemon takes")]
    QueueFull { running: usize, queued: usize, retry_after_secs: u64 },
    /// As many file transfers are under way as the daemon (or the tenant) may have; try
    /// again later.
    #[error("{message}")]
    TransfersFull { message: String, retry_after_secs: u64 },
    /// The daemon is shutting down and takes no new executions.
    #[error("the daemon is shutting down")]
    ShuttingDown,
    /// The daemon is shutting down, and the session named ends with it.
    #[error("the daemon is shutting down: session {0} ends with it")]
    SessionEnding(String),
    /// No execution with this id is known (never run, or its record has expired).
    #[error("no execution {0} is known")]
    NotFound(String),
    /// No template has this name (the message lists the known ones).
    #[error("{0}")]
    UnknownTemplate(String),
    /// The run's template could not be built (pip or npm failed), so the code never ran.
    #[error("template {template} could not be built: {message}")]
    TemplateBuild { template: String, message: String, log_tail: String },
    /// No live session with this id for the caller's tenant (never created, destroyed,
    /// expired, or another tenant's: the answer is the same, so ids do not leak).
    #[error("Session {0} not found or expired")]
    SessionNotFound(String),
    /// As many sessions are alive as the daemon (or the tenant) may keep.
    #[error("{0}")]
    SessionLimit(String),
    /// No such file in the session's workspace.
    #[error("{0}: no such file in the session's workspace")]
    FileNotFound(String),
    /// Something else (the session's code, another upload) changed the same path while it
    /// was being written; nothing of the request was written.
    #[error("{0}")]
    FileConflict(String),
    /// The workspace's filesystem is full although the files' sizes are within the cap (it
    /// counts whole blocks and directories too).
    #[error(
        "the workspace is full: its files hold {files_bytes} bytes and {adding} more bytes do not fit in its \
         {limit}-byte cap (the filesystem also counts whole blocks and directories)"
    )]
    WorkspaceFull { files_bytes: u64, adding: u64, limit: u64 },
    /// The daemon (or the host) is out of open descriptors just now, so what the request
    /// needs could not be opened; nothing of it ran. Trying again later may succeed.
    #[error("the server is out of open descriptors for now: {0}")]
    ResourcesExhausted(String),
    /// Nothing listens on this port inside the session's sandbox (the connection was
    /// refused): the session itself is alive.
    #[error("session {session} is running but nothing listens on its port {port}")]
    PortClosed { session: String, port: u16 },
    /// Anything else on the daemon's side.
    #[error("{0}")]
    Internal(String),
}

impl ExecuteError {
    /// A short name of the kind of error, for records and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ExecuteError::Invalid { .. } => "ValidationError",
            ExecuteError::TooLarge { .. } => "PayloadTooLarge",
            ExecuteError::AlreadyRunning(_) | ExecuteError::IdTaken(_) => "Conflict",
            ExecuteError::Sandbox { .. } => "SandboxError",
            ExecuteError::QueueFull { .. } | ExecuteError::TransfersFull { .. } => "QueueFull",
            ExecuteError::ShuttingDown | ExecuteError::SessionEnding(_) => "ShuttingDown",
            ExecuteError::NotFound(_) | ExecuteError::UnknownTemplate(_) => "NotFound",
            ExecuteError::TemplateBuild { .. } => "TemplateBuildError",
            ExecuteError::SessionNotFound(_) => "SessionNotFound",
            ExecuteError::SessionLimit(_) => "SessionLimit",
            ExecuteError::FileNotFound(_) => "FileNotFound",
            ExecuteError::FileConflict(_) => "Conflict",
            ExecuteError::WorkspaceFull { .. } => "PayloadTooLarge",
            ExecuteError::ResourcesExhausted(_) => "ResourcesExhausted",
            ExecuteError::PortClosed { .. } => "PortClosed",
            ExecuteError::Internal(_) => "InternalError",
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ExecuteError::Invalid { field: field.into(), message: message.into() }
    }

    /// A failure of the daemon's own I/O while serving a request: out of descriptors is
    /// [`ExecuteError::ResourcesExhausted`] (the caller may retry), anything else internal.
    pub fn io(what: &str, e: &std::io::Error) -> Self {
        if sandbox::host::out_of_descriptors(e) {
            ExecuteError::ResourcesExhausted(format!("{what}: {e}"))
        } else {
            ExecuteError::Internal(format!("{what}: {e}"))
        }
    }

    /// [`ExecuteError::io`] of the daemon's safe workspace access.
    pub fn workspace_io(what: &str, e: &sandbox::workspace_fs::WorkspaceFsError) -> Self {
        if e.is_out_of_descriptors() {
            ExecuteError::ResourcesExhausted(format!("{what}: {e}"))
        } else {
            ExecuteError::Internal(format!("{what}: {e}"))
        }
    }

    /// A sandbox that could not start: out of descriptors is
    /// [`ExecuteError::ResourcesExhausted`], anything else a sandbox error of `stage`.
    pub fn launch(stage: &str, e: &sandbox::runner::RunError) -> Self {
        if e.out_of_descriptors() {
            ExecuteError::ResourcesExhausted(e.to_string())
        } else {
            ExecuteError::Sandbox { stage: stage.into(), message: e.to_string() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Linux's numbers.
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    const EACCES: i32 = 13;

    #[test]
    fn out_of_descriptors_is_exhaustion_and_other_failures_are_internal() {
        for errno in [EMFILE, ENFILE] {
            let e = ExecuteError::io("egress door", &std::io::Error::from_raw_os_error(errno));
            assert!(matches!(e, ExecuteError::ResourcesExhausted(_)), "{e}");
            assert_eq!(e.kind(), "ResourcesExhausted");
        }
        let e = ExecuteError::io("egress door", &std::io::Error::from_raw_os_error(EACCES));
        assert!(matches!(e, ExecuteError::Internal(_)), "{e}");
        let spawn = sandbox::runner::RunError::Spawn("x".into(), std::io::Error::from_raw_os_error(EMFILE));
        assert!(matches!(ExecuteError::launch("launch", &spawn), ExecuteError::ResourcesExhausted(_)));
        let other = sandbox::runner::RunError::Protocol("early eof".into());
        assert!(matches!(ExecuteError::launch("launch", &other), ExecuteError::Sandbox { .. }));
    }
}
