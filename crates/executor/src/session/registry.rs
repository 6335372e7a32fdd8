//! The live sessions: lookup by id and tenant, the caps, expiry, and the counters.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use super::interpreter::Slot;
use super::{SessionConfig, SessionInfo};
use crate::templates::Environment;
use crate::{ExecuteError, Language, Template};

/// The seed's session counters, as `GET /metrics` reports them.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct SessionStats {
    pub sessions_created: u64,
    /// Calls made to an existing session (each `POST /session/execute`).
    pub sessions_reused: u64,
    /// Sessions ended by `POST /session/destroy`.
    pub sessions_destroyed: u64,
    /// Sessions ended by the reaper (idle past their TTL, or past the lifetime cap).
    pub sessions_expired: u64,
    pub active_sessions: u64,
    pub max_sessions: u64,
}

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
    usage: Mutex<(Instant, SystemTime)>,
    busy: AtomicUsize,
    interpreters: Mutex<HashMap<Language, Arc<tokio::sync::Mutex<Slot>>>>,
    /// Interpreters of named contexts, each with variables of its own (E2B code contexts).
    contexts: Mutex<HashMap<(String, Language), SharedSlot>>,
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
            usage: Mutex::new(now),
            busy: AtomicUsize::new(0),
            interpreters: Mutex::new(HashMap::new()),
            contexts: Mutex::new(HashMap::new()),
            egress: None,
        }
    }

    /// The template whose environment each of its sandboxes gets (interpreters of every
    /// language and shell calls alike), and whose zygote may fork them; `None` for one
    /// without packages, which runs the system interpreters as they are.
    pub fn sandbox_template(&self) -> Option<&Template> {
        self.template.needs_build().then_some(&self.template)
    }

    fn begin_call(self: &Arc<Self>) -> CallGuard {
        self.busy.fetch_add(1, Ordering::SeqCst);
        CallGuard(Arc::clone(self))
    }

    /// Whether the session has ended (destroyed, expired, or the daemon is stopping).
    pub fn ended(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The interpreter slot of `language`, created empty on first use.
    pub fn slot(&self, language: Language) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut map = self.interpreters.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(language).or_default())
    }

    /// The interpreter slot of the named context `name` of `language`, created empty on
    /// first use.
    pub fn context_slot(&self, name: &str, language: Language) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut map = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry((name.to_string(), language)).or_default())
    }

    /// Takes the named context's slot out of the session.
    pub fn take_context(&self, name: &str, language: Language) -> Option<Arc<tokio::sync::Mutex<Slot>>> {
        self.contexts.lock().unwrap_or_else(|p| p.into_inner()).remove(&(name.to_string(), language))
    }

    pub fn slots(&self) -> Vec<Arc<tokio::sync::Mutex<Slot>>> {
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

    /// Idle past its TTL (and not busy), or past the lifetime cap.
    fn expired(&self, now: Instant, lifetime: Duration) -> bool {
        let idle = self.busy.load(Ordering::SeqCst) == 0
            && now.duration_since(self.usage.lock().unwrap_or_else(|p| p.into_inner()).0) >= self.ttl;
        idle || now.duration_since(self.started) >= lifetime
    }

    pub fn info(&self) -> SessionInfo {
        let (_, last_used) = *self.usage.lock().unwrap_or_else(|p| p.into_inner());
        let rfc3339 = |t: SystemTime| humantime::format_rfc3339_millis(t).to_string();
        SessionInfo {
            session_id: self.id.clone(),
            tenant_id: self.tenant.clone(),
            scope: self.scope.clone(),
            template: self.template.name.clone(),
            languages: self.languages(),
            created_at: rfc3339(self.created),
            last_used_at: rfc3339(last_used),
            ttl: self.ttl.as_secs(),
            expires_at: rfc3339(last_used + self.ttl),
        }
    }
}

pub(crate) struct Registry {
    pub config: SessionConfig,
    live: Mutex<HashMap<String, Arc<Session>>>,
    created: AtomicU64,
    reused: AtomicU64,
    destroyed: AtomicU64,
    expired: AtomicU64,
}

impl Registry {
    pub fn new(config: SessionConfig) -> Registry {
        Registry {
            config,
            live: Mutex::new(HashMap::new()),
            created: AtomicU64::new(0),
            reused: AtomicU64::new(0),
            destroyed: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh id no live session has: 12 hexadecimal characters.
    pub fn new_id(&self) -> String {
        let live = self.live();
        loop {
            let hex = &uuid::Uuid::new_v4().simple().to_string()[..12];
            let id = match &self.config.id_prefix {
                Some(prefix) => format!("{prefix}.{hex}"),
                None => hex.to_string(),
            };
            if !live.contains_key(&id) {
                return id;
            }
        }
    }

    /// Refuses a new session of `tenant` when a cap is reached.
    pub fn check_room(&self, tenant: &str) -> Result<(), ExecuteError> {
        check_room(&self.live(), &self.config, tenant)
    }

    /// Adds `session` unless a cap was reached meanwhile.
    pub fn insert(&self, session: Arc<Session>) -> Result<(), ExecuteError> {
        let mut live = self.live();
        check_room(&live, &self.config, &session.tenant)?;
        live.insert(session.id.clone(), session);
        self.created.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sandbox_sessions_created_total").increment(1);
        metrics::gauge!("sandbox_active_sessions").set(live.len() as f64);
        Ok(())
    }

    /// The live session `id` of `tenant`, marked busy until the guard is dropped (taken under
    /// the registry's lock, so the reaper cannot expire it in between); another tenant's
    /// session looks exactly like a missing one.
    pub fn get(&self, id: &str, tenant: &str) -> Result<(Arc<Session>, CallGuard), ExecuteError> {
        let live = self.live();
        match live.get(id) {
            Some(s) if s.tenant == tenant && !s.expired(Instant::now(), self.lifetime()) => {
                Ok((Arc::clone(s), s.begin_call()))
            }
            _ => Err(ExecuteError::SessionNotFound(id.to_string())),
        }
    }

    /// Counts one call to an existing session.
    pub fn reused(&self) {
        self.reused.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sandbox_sessions_reused_total").increment(1);
    }

    /// Takes the session `id` of `tenant` out, for destruction.
    pub fn remove(&self, id: &str, tenant: &str) -> Result<Arc<Session>, ExecuteError> {
        let mut live = self.live();
        match live.get(id) {
            Some(s) if s.tenant == tenant => {}
            _ => return Err(ExecuteError::SessionNotFound(id.to_string())),
        }
        let session = live.remove(id).ok_or_else(|| ExecuteError::SessionNotFound(id.to_string()))?;
        self.destroyed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sandbox_sessions_destroyed_total").increment(1);
        metrics::gauge!("sandbox_active_sessions").set(live.len() as f64);
        Ok(session)
    }

    /// Takes out every session past its TTL or lifetime.
    pub fn take_expired(&self) -> Vec<Arc<Session>> {
        let mut live = self.live();
        let now = Instant::now();
        let lifetime = self.lifetime();
        let ids: Vec<String> = live.values().filter(|s| s.expired(now, lifetime)).map(|s| s.id.clone()).collect();
        let taken: Vec<Arc<Session>> = ids.iter().filter_map(|id| live.remove(id)).collect();
        if !taken.is_empty() {
            self.expired.fetch_add(taken.len() as u64, Ordering::Relaxed);
            metrics::counter!("sandbox_sessions_expired_total").increment(taken.len() as u64);
            metrics::gauge!("sandbox_active_sessions").set(live.len() as f64);
        }
        taken
    }

    /// Takes out every session (at shutdown).
    pub fn drain(&self) -> Vec<Arc<Session>> {
        let mut live = self.live();
        let all = live.drain().map(|(_, s)| s).collect();
        metrics::gauge!("sandbox_active_sessions").set(0.0);
        all
    }

    pub fn list(&self, tenant: &str) -> Vec<SessionInfo> {
        let mut sessions: Vec<SessionInfo> =
            self.live().values().filter(|s| s.tenant == tenant).map(|s| s.info()).collect();
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.session_id.cmp(&b.session_id)));
        sessions
    }

    pub fn stats(&self) -> SessionStats {
        SessionStats {
            sessions_created: self.created.load(Ordering::Relaxed),
            sessions_reused: self.reused.load(Ordering::Relaxed),
            sessions_destroyed: self.destroyed.load(Ordering::Relaxed),
            sessions_expired: self.expired.load(Ordering::Relaxed),
            active_sessions: self.live().len() as u64,
            max_sessions: self.config.max_sessions as u64,
        }
    }

    fn lifetime(&self) -> Duration {
        Duration::from_secs(self.config.max_lifetime_secs)
    }
}

fn check_room(live: &HashMap<String, Arc<Session>>, config: &SessionConfig, tenant: &str) -> Result<(), ExecuteError> {
    if live.len() >= config.max_sessions {
        return Err(ExecuteError::SessionLimit(format!(
            "{} sessions are alive, the most this daemon keeps (SESSION_MAX_COUNT)",
            live.len()
        )));
    }
    let own = live.values().filter(|s| s.tenant == tenant).count();
    if own >= config.max_per_tenant {
        return Err(ExecuteError::SessionLimit(format!(
            "tenant {tenant:?} has {own} sessions alive, the most one tenant may keep (SESSION_MAX_PER_TENANT)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(registry: &Registry, tenant: &str, ttl: Duration) -> Arc<Session> {
        let template = Template {
            name: "default".into(),
            description: String::new(),
            language: Language::Python,
            packages: Vec::new(),
            limits: crate::templates::TemplateLimits { memory_mb: 512, timeout_secs: 30 },
            origin: crate::templates::Origin::Builtin,
            egress: None,
        };
        let environment = Environment { language: template.language, dir: None };
        let id = registry.new_id();
        Arc::new(Session::new(
            id.clone(),
            tenant.into(),
            None,
            template,
            environment,
            ttl,
            format!("live-{id}"),
            PathBuf::from("/nonexistent"),
            CancellationToken::new(),
        ))
    }

    fn registry(max_sessions: usize, max_per_tenant: usize) -> Registry {
        Registry::new(SessionConfig { max_sessions, max_per_tenant, ..SessionConfig::default() })
    }

    #[test]
    fn ids_are_twelve_hex_characters() {
        let id = registry(1, 1).new_id();
        assert_eq!(id.len(), 12);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{id}");
    }

    #[test]
    fn another_tenant_sees_nothing() {
        let r = registry(10, 10);
        let s = session(&r, "a", Duration::from_secs(60));
        r.insert(Arc::clone(&s)).unwrap();
        assert!(r.get(&s.id, "a").is_ok());
        assert!(matches!(r.get(&s.id, "b"), Err(ExecuteError::SessionNotFound(_))));
        assert!(matches!(r.remove(&s.id, "b"), Err(ExecuteError::SessionNotFound(_))));
        assert!(r.list("b").is_empty());
        assert_eq!(r.list("a").len(), 1);
        assert!(r.remove(&s.id, "a").is_ok());
        assert_eq!(r.stats().sessions_destroyed, 1);
    }

    #[test]
    fn caps_count_all_tenants_and_each_tenant() {
        let r = registry(2, 1);
        r.insert(session(&r, "a", Duration::from_secs(60))).unwrap();
        assert!(matches!(r.insert(session(&r, "a", Duration::from_secs(60))), Err(ExecuteError::SessionLimit(_))));
        r.insert(session(&r, "b", Duration::from_secs(60))).unwrap();
        assert!(matches!(r.check_room("c"), Err(ExecuteError::SessionLimit(_))));
        assert_eq!(r.stats().active_sessions, 2);
    }

    #[test]
    fn idle_sessions_expire_but_busy_ones_do_not() {
        let r = registry(10, 10);
        let idle = session(&r, "a", Duration::ZERO);
        let busy = session(&r, "a", Duration::ZERO);
        r.insert(Arc::clone(&idle)).unwrap();
        r.insert(Arc::clone(&busy)).unwrap();
        let guard = busy.begin_call();
        let expired = r.take_expired();
        assert_eq!(expired.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [idle.id.as_str()]);
        assert!(matches!(r.get(&idle.id, "a"), Err(ExecuteError::SessionNotFound(_))));
        drop(guard);
        assert_eq!(r.take_expired().len(), 1);
        assert_eq!(r.stats().sessions_expired, 2);
        assert_eq!(r.stats().active_sessions, 0);
    }
}
