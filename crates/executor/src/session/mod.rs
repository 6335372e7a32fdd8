//! Sessions: a workspace that lives on between calls, and a long-lived sandboxed interpreter
//! per language the session has used, so that variables survive from one call to the next.
//!
//! Every interpreter is an ordinary sandbox built by the same spec code as a one-shot run
//! (see [`crate::spec::sandbox_spec`]); its requests travel on a socket handed to it at start
//! (never a path in the workspace). A session ends when it is destroyed, when it has been
//! idle for its TTL (or, if it has one, at its explicit end), when it reaches the lifetime
//! cap, or when the daemon stops: for every API at once.

mod attributes;
mod boxed;
mod cell;
mod commands;
mod contexts;
pub(crate) mod egress;
mod entries;
mod files;
mod foreground;
mod handle;
mod interpreter;
mod lifetime;
mod live;
mod processes;
mod registry;
mod sessions;
mod transfers;
mod watch;

use serde::Serialize;
use utoipa::ToSchema;

pub use attributes::{AccessTokens, SessionAttributes};
pub use commands::SessionCommand;
pub use contexts::CodeContext;
pub use files::{FileDownload, SessionFile};
pub use foreground::ProcessRun;
pub(crate) use handle::page;
pub use handle::{ListOrder, SessionHandle, SessionPage, SessionQuery};
pub use registry::SessionStats;
pub use sessions::Sessions;
pub use sessions::{SessionCall, SessionResult};
pub use transfers::Transfer;
pub use watch::{
    WatchEvent, WatchEventKind, WatchSpec, WatchStream, MAX_QUEUED_EVENTS, MAX_WATCHED_DIRS, MAX_WATCHERS_PER_SESSION,
};

use crate::Language;

pub use crate::request::DEFAULT_TENANT;

/// Caps and defaults of sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Idle time after which a session that asked for no TTL expires (seconds).
    pub default_ttl_secs: u64,
    /// The largest TTL a session may ask for (seconds).
    pub max_ttl_secs: u64,
    /// Sessions alive at once, all tenants together; more are refused (429).
    pub max_sessions: usize,
    /// Sessions alive at once for one tenant; more are refused (429).
    pub max_per_tenant: usize,
    /// The longest a session lives, however busy: its interpreters' wall-clock limit (seconds).
    pub max_lifetime_secs: u64,
    /// What session ids start with (and a dot): the daemon's name among peers.
    pub id_prefix: Option<String>,
    /// Interpreters one session keeps at once: its languages' and its named contexts'
    /// (each a sandbox with its own memory and process budget); more are refused (429).
    pub max_interpreters: usize,
    /// File transfers (downloads) under way at once, all tenants together; more are refused
    /// (503, Retry-After).
    pub max_transfers: usize,
    /// File transfers under way at once for one tenant; more are refused (503, Retry-After).
    pub max_transfers_per_tenant: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            default_ttl_secs: 300,
            max_ttl_secs: 3600,
            max_sessions: 10,
            max_per_tenant: 10,
            max_lifetime_secs: 24 * 3600,
            id_prefix: None,
            max_interpreters: 8,
            max_transfers: 64,
            max_transfers_per_tenant: 16,
        }
    }
}

/// What `POST /session/create` asks for, validated by the caller of
/// [`crate::ExecutionService::create_session`] except for the TTL.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub tenant_id: String,
    pub scope: Option<String>,
    pub template: crate::Template,
    /// Idle seconds; `None`: the default. Unused when the session has a `lifetime_secs`.
    pub ttl_secs: Option<u64>,
    /// An explicit end: the session ends this many seconds after its creation however busy
    /// or idle (no idle TTL), at most at the lifetime cap (E2B sandboxes). `None`: it ends
    /// when idle past its TTL.
    pub lifetime_secs: Option<u64>,
    /// Whether the session's sandboxes also show its workspace as `/home/user`, with
    /// `HOME` there (E2B sandboxes).
    pub home_alias: bool,
    /// Where the session's code may connect (interpreters and shell calls alike); `None`:
    /// no network. Packages it installs go to the session's own layer (see [`egress`]).
    pub egress: Option<crate::EgressPolicy>,
    /// What the session carries for the protocol that made it (E2B's template id, metadata,
    /// variables, access tokens); none for a session of the API's own.
    pub attributes: SessionAttributes,
}

/// A live session as `GET /sessions` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionInfo {
    /// 12 hexadecimal characters.
    #[schema(example = "3f9a1c0b7d2e")]
    pub session_id: String,
    pub tenant_id: String,
    pub scope: Option<String>,
    pub template: String,
    /// The languages whose interpreters the session has started.
    pub languages: Vec<Language>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: the end of the last call (or the creation).
    pub last_used_at: String,
    /// Idle seconds after which the session expires (for a session with an explicit end,
    /// the seconds from its creation to that end).
    pub ttl: u64,
    /// RFC 3339: when the session expires if it stays idle (sooner if it reaches the
    /// lifetime cap); for a session with an explicit end, that end, however busy.
    pub expires_at: String,
}
