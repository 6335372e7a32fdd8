//! What the E2B compatibility layer does with a session besides cells and files: commands,
//! interpreter restarts, and the workspace as a filesystem.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::ExecutionService;
use crate::session::Sessions;
use crate::{ExecuteError, ExecutionResult, Language, SessionCommand, WorkspaceEntry};

impl ExecutionService {
    /// Runs a shell command in the session's workspace (a one-shot sandbox) and waits for it.
    pub async fn session_command(&self, command: SessionCommand) -> Result<ExecutionResult, ExecuteError> {
        self.sessions.run_command(command).await
    }

    /// The session now ends `after` from now however idle or busy, at most at the lifetime
    /// cap (SESSION_MAX_LIFETIME_SECS); when it then ends.
    pub fn end_session_in(&self, id: &str, tenant: &str, after: Duration) -> Result<SystemTime, ExecuteError> {
        self.sessions.end_in(id, tenant, after)
    }

    /// When the live session ends if nothing else happens; `SessionNotFound` once it ended.
    pub fn session_ends_at(&self, id: &str, tenant: &str) -> Result<SystemTime, ExecuteError> {
        self.sessions.ends_at(id, tenant)
    }

    /// Resolves once the session has ended, however it ended (destroyed, expired, its end
    /// reached, the daemon stopping).
    pub fn session_ended(
        &self,
        id: &str,
        tenant: &str,
    ) -> Result<impl Future<Output = ()> + Send + 'static, ExecuteError> {
        self.sessions.ended(id, tenant)
    }

    /// Makes room for the session's named context `context` of `language`: it counts against
    /// the session's interpreter cap (SESSION_MAX_INTERPRETERS) from now on; past the cap,
    /// `SessionLimit`.
    pub fn open_session_context(
        &self,
        id: &str,
        tenant: &str,
        context: &str,
        language: Language,
    ) -> Result<(), ExecuteError> {
        self.sessions.open_context(id, tenant, context, language)
    }

    /// Kills the session's interpreter of `language` (of the named context `context`): the
    /// next cell there starts a fresh one.
    pub async fn restart_session_interpreter(
        &self,
        id: &str,
        tenant: &str,
        language: Language,
        context: Option<&str>,
    ) -> Result<(), ExecuteError> {
        self.sessions.restart_interpreter(id, tenant, language, context).await
    }

    /// Ends the session's named context `context` of `language`: its interpreter is killed.
    pub async fn drop_session_context(
        &self,
        id: &str,
        tenant: &str,
        context: &str,
        language: Language,
    ) -> Result<(), ExecuteError> {
        self.sessions.drop_context(id, tenant, context, language).await
    }

    /// What is at `path` of the session's workspace (the workspace itself when empty).
    pub async fn session_stat(&self, id: &str, tenant: &str, path: &str) -> Result<WorkspaceEntry, ExecuteError> {
        let (sessions, id, tenant, path) = self.owned(id, tenant, path);
        off_runtime(move || sessions.stat_entry(&id, &tenant, &path)).await
    }

    /// The entries of the directory `path` of the session's workspace, `depth` levels down.
    pub async fn session_list_dir(
        &self,
        id: &str,
        tenant: &str,
        path: &str,
        depth: u32,
    ) -> Result<Vec<WorkspaceEntry>, ExecuteError> {
        let (sessions, id, tenant, path) = self.owned(id, tenant, path);
        off_runtime(move || sessions.list_entries(&id, &tenant, &path, depth)).await
    }

    /// Makes the directory `path` with its parents; false when it was there already.
    pub async fn session_make_dir(&self, id: &str, tenant: &str, path: &str) -> Result<bool, ExecuteError> {
        let (sessions, id, tenant, path) = self.owned(id, tenant, path);
        off_runtime(move || sessions.make_dir(&id, &tenant, &path)).await
    }

    /// Removes `path` of the session's workspace (a directory with everything in it).
    pub async fn session_remove(&self, id: &str, tenant: &str, path: &str) -> Result<(), ExecuteError> {
        let (sessions, id, tenant, path) = self.owned(id, tenant, path);
        off_runtime(move || sessions.remove_entry(&id, &tenant, &path)).await
    }

    /// Moves `from` to `to` within the session's workspace.
    pub async fn session_move(&self, id: &str, tenant: &str, from: &str, to: &str) -> Result<(), ExecuteError> {
        let (sessions, id, tenant, from) = self.owned(id, tenant, from);
        let to = to.to_string();
        off_runtime(move || sessions.move_entry(&id, &tenant, &from, &to)).await
    }

    /// A TCP connection to `127.0.0.1:<port>` inside the session's sandbox, for the daemon to
    /// proxy a client's HTTP or WebSocket traffic to a server there. `SessionNotFound` for an
    /// unknown session (or another tenant's); `PortClosed` when nothing listens on the port.
    pub async fn session_connect_port(
        &self,
        id: &str,
        tenant: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, ExecuteError> {
        // BOX: replaced by the box's agent (a connection made inside the box's network
        // namespace and handed over as a descriptor). Until then: the host's loopback.
        self.sessions.ends_at(id, tenant)?;
        match tokio::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port)).await {
            Ok(stream) => Ok(stream),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                Err(ExecuteError::PortClosed { session: id.to_string(), port })
            }
            Err(e) => Err(ExecuteError::io(&format!("connecting to port {port} of session {id}"), &e)),
        }
    }

    fn owned(&self, id: &str, tenant: &str, path: &str) -> (Arc<Sessions>, String, String, String) {
        (self.sessions.clone(), id.to_string(), tenant.to_string(), path.to_string())
    }
}

/// Runs file work on the blocking pool: a deep or wide tree takes as long as it takes
/// without holding an async worker that other requests need.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ExecuteError> + Send + 'static,
) -> Result<T, ExecuteError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ExecuteError::Internal(format!("file task failed: {e}")))?
}
