//! What the E2B compatibility layer does with a session besides cells and files: commands,
//! interpreter restarts, and the workspace as a filesystem.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::ExecutionService;
use crate::session::Sessions;
use crate::{
    ExecuteError, ExecutionResult, Language, SessionCommand, WatchEvent, WatchSpec, WatchStream, WorkspaceEntry,
};
use crate::{SessionHandle, SessionPage, SessionQuery};

impl ExecutionService {
    /// The sessions: their boxes and processes are reached here.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The live session `id` of `tenant` (another tenant's does not exist for it).
    pub fn session_handle(&self, id: &str, tenant: &str) -> Result<SessionHandle, ExecuteError> {
        self.sessions.registry.peek(id, tenant).map(SessionHandle)
    }

    /// The live session `id`, whoever owns it, if one of `presented` is its access token.
    pub fn session_for_token(&self, id: &str, presented: &[&str]) -> Option<SessionHandle> {
        self.sessions.registry.by_token(id, presented).map(SessionHandle)
    }

    /// The live sessions that issued access tokens (only `id`, when named): the candidates
    /// for a signed URL, which names no tenant.
    pub fn sessions_with_tokens(&self, id: Option<&str>) -> Vec<SessionHandle> {
        self.sessions.registry.with_tokens(id).into_iter().map(SessionHandle).collect()
    }

    /// A page of the tenant's live sessions (every session, whichever API made it).
    pub fn session_page(&self, tenant: &str, query: &SessionQuery) -> Result<SessionPage, ExecuteError> {
        crate::session::page(self.sessions.registry.of_tenant(tenant), query)
    }

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

    /// Gives the file `path` of the session's workspace exactly `metadata`, as user extended
    /// attributes (none kept where the filesystem has none).
    pub async fn session_set_metadata(
        &self,
        id: &str,
        tenant: &str,
        path: &str,
        metadata: std::collections::BTreeMap<String, String>,
    ) -> Result<(), ExecuteError> {
        let (sessions, id, tenant, path) = self.owned(id, tenant, path);
        off_runtime(move || sessions.set_metadata(&id, &tenant, &path, &metadata)).await
    }

    /// Moves `from` to `to` within the session's workspace.
    pub async fn session_move(&self, id: &str, tenant: &str, from: &str, to: &str) -> Result<(), ExecuteError> {
        let (sessions, id, tenant, from) = self.owned(id, tenant, from);
        let to = to.to_string();
        off_runtime(move || sessions.move_entry(&id, &tenant, &from, &to)).await
    }

    /// Watches a directory of the session's workspace (recursively or not) until the
    /// stream is dropped or the session ends.
    pub fn watch_session_dir(&self, id: &str, tenant: &str, spec: &WatchSpec) -> Result<WatchStream, ExecuteError> {
        self.sessions.watch(id, tenant, spec)
    }

    /// A watch of a directory whose events are read with [`Self::session_watcher_events`]:
    /// its id.
    pub fn create_session_watcher(&self, id: &str, tenant: &str, spec: &WatchSpec) -> Result<String, ExecuteError> {
        self.sessions.create_watcher(id, tenant, spec)
    }

    /// The watcher's events since the last call; `None` when the session has no such watcher.
    pub async fn session_watcher_events(
        &self,
        id: &str,
        tenant: &str,
        watcher: &str,
    ) -> Result<Option<Vec<WatchEvent>>, ExecuteError> {
        self.sessions.watcher_events(id, tenant, watcher).await
    }

    /// Ends the watcher; false when the session has no such watcher.
    pub fn remove_session_watcher(&self, id: &str, tenant: &str, watcher: &str) -> Result<bool, ExecuteError> {
        self.sessions.remove_watcher(id, tenant, watcher)
    }

    /// A TCP connection to `127.0.0.1:<port>` inside the session's box, for the daemon to
    /// proxy a client's HTTP or WebSocket traffic to a server there. `SessionNotFound` for an
    /// unknown session (or another tenant's); `PortUnavailable` when nothing listens there.
    pub async fn session_connect_port(
        &self,
        id: &str,
        tenant: &str,
        port: u16,
    ) -> Result<tokio::net::TcpStream, ExecuteError> {
        self.sessions.connect_port(id, tenant, port).await
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
