//! The live sessions: lookup by id and tenant, the caps, expiry, and the counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use utoipa::ToSchema;

pub(crate) use super::live::{CallGuard, Session};
use super::{SessionConfig, SessionInfo};
use crate::ExecuteError;

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

    /// The live session `id` of `tenant`, without marking it used (what it says of itself).
    pub fn peek(&self, id: &str, tenant: &str) -> Result<Arc<Session>, ExecuteError> {
        match self.live().get(id) {
            Some(s) if s.tenant == tenant && !s.expired(Instant::now(), self.lifetime()) => Ok(Arc::clone(s)),
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

    /// The live session `id` whatever its tenant, if one of `presented` is its access token:
    /// a wrong token and an unknown id look alike.
    pub fn by_token(&self, id: &str, presented: &[&str]) -> Option<Arc<Session>> {
        let live = self.live();
        let session = live.get(id).filter(|s| !s.expired(Instant::now(), self.lifetime()))?;
        let tokens = session.tokens.as_ref()?;
        presented.iter().any(|t| tokens.accepts(t)).then(|| Arc::clone(session))
    }

    /// The live sessions that issued access tokens (only `id`, when named), whoever owns them.
    pub fn with_tokens(&self, id: Option<&str>) -> Vec<Arc<Session>> {
        let now = Instant::now();
        let live = self.live();
        let named = |s: &&Arc<Session>| id.is_none_or(|id| s.id == id);
        live.values()
            .filter(named)
            .filter(|s| s.tokens.is_some() && !s.expired(now, self.lifetime()))
            .cloned()
            .collect()
    }

    /// The tenant's live sessions, in no order.
    pub fn of_tenant(&self, tenant: &str) -> Vec<Arc<Session>> {
        let now = Instant::now();
        let live = self.live();
        live.values().filter(|s| s.tenant == tenant && !s.expired(now, self.lifetime())).cloned().collect()
    }

    pub fn list(&self, tenant: &str) -> Vec<SessionInfo> {
        let mut sessions: Vec<SessionInfo> =
            self.live().values().filter(|s| s.tenant == tenant).map(|s| s.info(self.lifetime())).collect();
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

    pub fn lifetime(&self) -> Duration {
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
    use crate::templates::Environment;
    use crate::{Language, Template};
    use std::path::PathBuf;
    use tokio_util::sync::CancellationToken;

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
    fn pages_follow_their_cursors_newest_first_and_stay_within_the_tenant() {
        use crate::session::{page, ListOrder, SessionAttributes, SessionQuery};
        let r = registry(10, 10);
        let mut made = Vec::new();
        for n in 0..3 {
            let mut s = session(&r, "a", Duration::from_secs(60));
            let metadata = [("n".to_string(), n.to_string()), ("suite".to_string(), "x".to_string())].into();
            Arc::get_mut(&mut s).unwrap().set_attributes(SessionAttributes { metadata, ..Default::default() });
            r.insert(Arc::clone(&s)).unwrap();
            made.push(s);
        }
        r.insert(session(&r, "b", Duration::from_secs(60))).unwrap();
        let ids = |p: &crate::session::SessionPage| p.sessions.iter().map(|s| s.id().to_string()).collect::<Vec<_>>();
        let mut expected: Vec<String> = made.iter().map(|s| s.id.clone()).collect();
        expected.sort_by_key(|id| {
            let s = made.iter().find(|s| &s.id == id).unwrap();
            (s.created, s.id.clone())
        });
        expected.reverse();
        let mut query = SessionQuery { limit: 1, ..Default::default() };
        let mut seen = Vec::new();
        loop {
            let p = page(r.of_tenant("a"), &query).unwrap();
            seen.extend(ids(&p));
            match p.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected);
        let oldest = SessionQuery { limit: 10, order: ListOrder::OldestFirst, ..Default::default() };
        let all = ids(&page(r.of_tenant("a"), &oldest).unwrap());
        assert_eq!(all, expected.iter().rev().cloned().collect::<Vec<_>>());
        let one = SessionQuery { limit: 10, metadata: vec![("n".into(), "1".into())], ..Default::default() };
        assert_eq!(ids(&page(r.of_tenant("a"), &one).unwrap()), [made[1].id.clone()]);
        // A cursor of tenant a's pages shows tenant b nothing of a's.
        let first = page(r.of_tenant("a"), &SessionQuery { limit: 1, ..Default::default() }).unwrap();
        let b = page(r.of_tenant("b"), &SessionQuery { limit: 10, after: first.next, ..Default::default() }).unwrap();
        assert!(b.sessions.iter().all(|s| s.tenant() == "b"));
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

    #[test]
    fn a_session_with_an_end_ends_there_busy_or_not_and_never_past_the_lifetime() {
        let r = registry(10, 10);
        let s = session(&r, "a", Duration::ZERO);
        r.insert(Arc::clone(&s)).unwrap();
        // Idle past its TTL, but its end is an hour away: it lives.
        let lifetime = Duration::from_secs(7200);
        let end = s.end_in(Duration::from_secs(3600), lifetime);
        assert!(r.take_expired().is_empty());
        assert_eq!(s.ends_at(lifetime), end);
        // Asked past the lifetime cap: it ends at the cap.
        let capped = s.end_in(Duration::from_secs(10_000), lifetime);
        assert!(capped <= s.created + lifetime && capped > end, "{capped:?}");
        let _busy = s.begin_call();
        s.end_in(Duration::ZERO, lifetime);
        assert_eq!(r.take_expired().len(), 1, "a busy session ends at its end");
        assert!(matches!(r.peek(&s.id, "a"), Err(ExecuteError::SessionNotFound(_))));
    }

    #[test]
    fn interpreters_are_capped_per_session_contexts_included() {
        let r = registry(10, 10);
        let mut s = session(&r, "a", Duration::from_secs(60));
        Arc::get_mut(&mut s).unwrap().max_interpreters = 2;
        s.slot(Language::Python).unwrap();
        s.context_slot("c1", Language::Python).unwrap();
        assert!(matches!(s.context_slot("c2", Language::Python), Err(ExecuteError::SessionLimit(_))));
        assert!(matches!(s.slot(Language::Javascript), Err(ExecuteError::SessionLimit(_))));
        // The ones it has are still there, and a context taken out makes room.
        s.slot(Language::Python).unwrap();
        s.context_slot("c1", Language::Python).unwrap();
        s.take_context("c1", Language::Python).unwrap();
        s.context_slot("c2", Language::Python).unwrap();
    }
}
