//! One live session: what it is, its interpreters (capped), and when it ends by itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::attributes::{AccessTokens, SessionAttributes};
use super::contexts::CodeContexts;
use super::interpreter::Slot;
use super::{SessionConfig, SessionInfo};
use crate::templates::Environment;
use crate::{ExecuteError, Language, Template};

/// An interpreter slot, locked for the length of a call.
type SharedSlot = Arc<tokio::sync::Mutex<Slot>>;

pub(crate) struct Session {
    pub id: String,
    pub tenant: String,
    pub scope: Option<String>,
    pub template: Template,
    pub environment: Environment,
    pub ttl: Duration,
    pub created: SystemTime,
    pub started: Instant,
    /// The persistent workspace's name and host path.
    pub workspace_name: String,
    pub workspace: PathBuf,
    /// Cancelled when the session ends: kills every interpreter of it.
    pub cancel: CancellationToken,
    /// Whether its sandboxes also show the workspace as `/home/user` (E2B sandboxes).
    pub home_alias: bool,
    /// Where its interpreters and shell calls may connect; `None`: no network.
    pub egress: Option<crate::EgressPolicy>,
    /// Interpreters it may keep at once, its languages' and its contexts' together.
    pub max_interpreters: usize,
    /// What it was created with for its protocol (labels, variables, public ports).
    pub attributes: SessionAttributes,
    /// Its access tokens, when its attributes asked for them.
    pub tokens: Option<AccessTokens>,
    /// Its code contexts (E2B's): names of its interpreters, each counting its cells.
    pub code_contexts: CodeContexts,
    /// Its explicit end, when it has one: then it ends there however idle or busy, and the
    /// idle TTL does not apply.
    end: Mutex<Option<(Instant, SystemTime)>>,
    usage: Mutex<(Instant, SystemTime)>,
    busy: AtomicUsize,
    interpreters: Mutex<HashMap<Language, SharedSlot>>,
    /// Interpreters of named contexts, each with variables of its own (E2B code contexts).
    contexts: Mutex<HashMap<(String, Language), SharedSlot>>,
    /// Its box, once a process was started in it (see [`crate::boxes`]).
    pub(crate) the_box: tokio::sync::Mutex<Option<Arc<crate::boxes::LiveBox>>>,
}

/// Marks a session busy for one call: a busy session never expires, and the call's end
/// counts as its last use.
pub(crate) struct CallGuard(Arc<Session>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        *self.0.usage.lock().unwrap_or_else(|p| p.into_inner()) = (Instant::now(), SystemTime::now());
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        tenant: String,
        scope: Option<String>,
        template: Template,
        environment: Environment,
        ttl: Duration,
        workspace_name: String,
        workspace: PathBuf,
        cancel: CancellationToken,
    ) -> Session {
        let now = (Instant::now(), SystemTime::now());
        Session {
            id,
            tenant,
            scope,
            template,
            environment,
            ttl,
            created: now.1,
            started: now.0,
            workspace_name,
            workspace,
            cancel,
            home_alias: false,
            max_interpreters: usize::MAX,
            end: Mutex::new(None),
            usage: Mutex::new(now),
            busy: AtomicUsize::new(0),
            interpreters: Mutex::new(HashMap::new()),
            contexts: Mutex::new(HashMap::new()),
            egress: None,
            the_box: tokio::sync::Mutex::new(None),
            attributes: SessionAttributes::default(),
            tokens: None,
            code_contexts: CodeContexts::default(),
        }
    }

    /// Gives it what it was created with for its protocol, and its tokens if asked for.
    pub fn set_attributes(&mut self, attributes: SessionAttributes) {
        self.tokens = attributes.access_tokens.then(AccessTokens::issue);
        self.attributes = attributes;
    }

    /// The template whose environment each of its sandboxes gets (interpreters of every
    /// language and shell calls alike), and whose zygote may fork them; `None` for one
    /// without packages, which runs the system interpreters as they are.
    pub fn sandbox_template(&self) -> Option<&Template> {
        self.template.needs_build().then_some(&self.template)
    }

    pub(crate) fn begin_call(self: &Arc<Self>) -> CallGuard {
        self.busy.fetch_add(1, Ordering::SeqCst);
        CallGuard(Arc::clone(self))
    }

    /// Whether the session has ended (destroyed, expired, or the daemon is stopping).
    pub fn ended(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The session now ends `after` from now, at most `lifetime` after its start; when it
    /// then ends.
    pub fn end_in(&self, after: Duration, lifetime: Duration) -> SystemTime {
        let now = (Instant::now(), SystemTime::now());
        let cap = (self.started + lifetime).saturating_duration_since(now.0);
        let after = after.min(cap);
        *self.end.lock().unwrap_or_else(|p| p.into_inner()) = Some((now.0 + after, now.1 + after));
        now.1 + after
    }

    /// When it ends by itself if nothing else happens: its explicit end, or its TTL after its
    /// last use; never after `lifetime` from its start.
    pub fn ends_at(&self, lifetime: Duration) -> SystemTime {
        let capped = self.created + lifetime;
        let end = match *self.end.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((_, at)) => at,
            None => self.usage.lock().unwrap_or_else(|p| p.into_inner()).1 + self.ttl,
        };
        end.min(capped)
    }

    /// The interpreter slot of `language`, created empty on first use (within the cap).
    pub fn slot(&self, language: Language) -> Result<SharedSlot, ExecuteError> {
        let mut map = self.interpreters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = map.get(&language) {
            return Ok(Arc::clone(slot));
        }
        self.check_room(map.len() + self.contexts.lock().unwrap_or_else(|p| p.into_inner()).len())?;
        Ok(Arc::clone(map.entry(language).or_default()))
    }

    /// The interpreter slot of the named context `name` of `language`, created empty on
    /// first use (within the cap).
    pub fn context_slot(&self, name: &str, language: Language) -> Result<SharedSlot, ExecuteError> {
        // The same order of locks as `slot`'s.
        let interpreters = self.interpreters.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
        let key = (name.to_string(), language);
        if let Some(slot) = map.get(&key) {
            return Ok(Arc::clone(slot));
        }
        self.check_room(interpreters.len() + map.len())?;
        Ok(Arc::clone(map.entry(key).or_default()))
    }

    /// Refuses one more interpreter when `held` are as many as the session may keep.
    fn check_room(&self, held: usize) -> Result<(), ExecuteError> {
        match held < self.max_interpreters {
            true => Ok(()),
            false => Err(ExecuteError::SessionLimit(format!(
                "session {} has {held} interpreters (code contexts included), the most one session may keep \
                 (SESSION_MAX_INTERPRETERS); delete a context to make room",
                self.id
            ))),
        }
    }

    /// Takes the named context's slot out of the session.
    pub fn take_context(&self, name: &str, language: Language) -> Option<SharedSlot> {
        self.contexts.lock().unwrap_or_else(|p| p.into_inner()).remove(&(name.to_string(), language))
    }

    pub fn slots(&self) -> Vec<SharedSlot> {
        let mut slots: Vec<_> = self.interpreters.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        slots.extend(self.contexts.lock().unwrap_or_else(|p| p.into_inner()).values().cloned());
        slots
    }

    fn languages(&self) -> Vec<Language> {
        let mut languages: Vec<Language> =
            self.interpreters.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect();
        languages.sort_by_key(|l| l.name());
        languages
    }

    /// Past its explicit end, or (without one) idle past its TTL and not busy; or past the
    /// lifetime cap.
    pub(crate) fn expired(&self, now: Instant, lifetime: Duration) -> bool {
        let ended = match *self.end.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((at, _)) => now >= at,
            None => {
                self.busy.load(Ordering::SeqCst) == 0
                    && now.duration_since(self.usage.lock().unwrap_or_else(|p| p.into_inner()).0) >= self.ttl
            }
        };
        ended || now.duration_since(self.started) >= lifetime
    }

    pub fn info(&self, lifetime: Duration) -> SessionInfo {
        let (_, last_used) = *self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let rfc3339 = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
        let explicit = self.end.lock().unwrap_or_else(|p| p.into_inner()).is_some();
        SessionInfo {
            session_id: self.id.clone(),
            tenant_id: self.tenant.clone(),
            scope: self.scope.clone(),
            template: self.template.name.clone(),
            languages: self.languages(),
            created_at: rfc3339(self.created),
            last_used_at: rfc3339(last_used),
            ttl: self.ttl.as_secs(),
            expires_at: rfc3339(match explicit {
                true => self.ends_at(lifetime),
                false => last_used + self.ttl,
            }),
        }
    }
}

/// A session's idle TTL, checked against the configuration.
pub(super) fn check_ttl(ttl: u64, config: &SessionConfig) -> Result<u64, ExecuteError> {
    match ttl == 0 || ttl > config.max_ttl_secs {
        true => Err(ExecuteError::invalid(
            "ttl",
            format!("must be between 1 and {} seconds, got {ttl}", config.max_ttl_secs),
        )),
        false => Ok(ttl),
    }
}

/// An explicit end's distance; past the lifetime cap it is bounded, not refused.
pub(super) fn check_lifetime(lifetime: u64) -> Result<u64, ExecuteError> {
    match lifetime {
        0 => Err(ExecuteError::invalid("timeout", "must be at least 1 second")),
        secs => Ok(secs),
    }
}
