//! The pools of pre-started sandboxes, one per (language, template), refilled in the
//! background and renewed when idle too long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::pooled::Pooled;
use super::zygote::Zygote;
use super::{key_for, Fixed, Key, WarmConfig, WarmInfo, WarmPoolInfo};
use crate::service::ExecutionService;
use crate::{ExecutionRequest, Language, Template};

/// How often idle sandboxes are checked for age and death.
const TICK: Duration = Duration::from_secs(5);
/// How long a pool whose sandbox failed to start waits before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

pub(crate) struct Pool {
    config: WarmConfig,
    service: OnceLock<Weak<ExecutionService>>,
    slots: Mutex<HashMap<Key, Slot>>,
    closed: AtomicBool,
    /// Every pooled sandbox's token descends from it: cancelling it ends those starting too.
    token: OnceLock<CancellationToken>,
    /// Sandboxes being started, or retired in the background: `close` waits for them, so that
    /// none is left with its workspace mounted when the daemon exits.
    starting: AtomicUsize,
}

/// What serves a claimed run warm.
pub(crate) enum Claim {
    /// A pre-started sandbox, the run's alone.
    Pooled(Box<Pooled>),
    /// A zygote that forks the run a sandbox of its own.
    Forked(Arc<Zygote>),
}

struct Slot {
    template: Option<Template>,
    ready: Vec<Pooled>,
    /// The pool's zygote, for Python when forking is available.
    zygote: Option<Arc<Zygote>>,
    /// A refill is under way (one at a time per pool).
    filling: bool,
    used: Instant,
    failed_at: Option<Instant>,
}

impl Slot {
    fn new(template: Option<Template>) -> Slot {
        Slot { template, ready: Vec::new(), zygote: None, filling: false, used: Instant::now(), failed_at: None }
    }
}

impl Pool {
    pub fn new(config: WarmConfig) -> Pool {
        Pool {
            config,
            service: OnceLock::new(),
            slots: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            token: OnceLock::new(),
            starting: AtomicUsize::new(0),
        }
    }

    fn enabled(&self) -> bool {
        self.config.per_key > 0 && !self.closed.load(Ordering::SeqCst)
    }

    /// Whether the pool of `key` is a zygote.
    fn forks(&self, key: &Key) -> bool {
        key.language == Language::Python && self.config.zygote_lib.is_some()
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn service(&self) -> Option<Arc<ExecutionService>> {
        self.service.get().and_then(Weak::upgrade)
    }

    /// Starts the pools of the system interpreters and the upkeep of every pool.
    pub fn start(&self, service: &Arc<ExecutionService>) {
        if self.config.per_key == 0 {
            return;
        }
        let _ = self.service.set(Arc::downgrade(service));
        let _ = self.token.set(service.cancel.child_token());
        {
            let mut slots = self.slots();
            for language in [Language::Python, Language::Javascript] {
                slots.insert(Key { language, template: None }, Slot::new(None));
            }
        }
        let weak = Arc::downgrade(service);
        tokio::spawn(async move {
            loop {
                let Some(service) = weak.upgrade() else { return };
                if !service.warm.enabled() {
                    return;
                }
                service.warm.upkeep().await;
                drop(service);
                tokio::time::sleep(TICK).await;
            }
        });
    }

    /// What can serve `req` warm, if anything matches it; the pool starts a replacement.
    pub fn claim(&self, req: &ExecutionRequest, fixed: Fixed) -> Option<Claim> {
        if !self.enabled() {
            return None;
        }
        let key = key_for(req)?;
        let (claimed, stale) = {
            let mut slots = self.slots();
            if !slots.contains_key(&key) {
                self.make_room(&mut slots);
                slots.insert(key.clone(), Slot::new(req.template.clone()));
            }
            let slot = slots.get_mut(&key)?;
            slot.used = Instant::now();
            if self.forks(&key) {
                let zygote = slot.zygote.as_ref().filter(|z| z.alive() && z.template == req.template);
                (zygote.cloned().map(Claim::Forked), Vec::new())
            } else {
                let stale: Vec<Pooled> = extract(&mut slot.ready, |p| !p.alive());
                let at = slot.ready.iter().position(|p| p.fixed == fixed && p.template == req.template);
                (at.map(|at| Claim::Pooled(Box::new(slot.ready.remove(at)))), stale)
            }
        };
        self.retire_later(stale);
        self.refill(&key);
        claimed
    }

    /// Keeps at most `max_templates` template pools: the least recently used one goes.
    fn make_room(&self, slots: &mut HashMap<Key, Slot>) {
        let templates = slots.keys().filter(|k| k.template.is_some()).count();
        if templates < self.config.max_templates {
            return;
        }
        let oldest = slots.iter().filter(|(k, _)| k.template.is_some()).min_by_key(|(_, s)| s.used);
        if let Some(key) = oldest.map(|(k, _)| k.clone()) {
            if let Some(slot) = slots.remove(&key) {
                self.retire_later(slot.ready);
                self.retire_zygote_later(slot.zygote);
            }
        }
    }

    /// Replaces the sandboxes idle too long or dead, and tops every pool up.
    async fn upkeep(&self) {
        let (old, dead, keys) = {
            let mut slots = self.slots();
            let max_idle = self.config.max_idle;
            let mut old = Vec::new();
            let mut dead = Vec::new();
            for slot in slots.values_mut() {
                old.extend(extract(&mut slot.ready, |p| !p.alive() || p.started.elapsed() > max_idle));
                if slot.zygote.as_ref().is_some_and(|z| !z.alive()) {
                    dead.push(slot.zygote.take());
                }
            }
            (old, dead, slots.keys().cloned().collect::<Vec<_>>())
        };
        self.retire_later(old);
        for zygote in dead {
            self.retire_zygote_later(zygote);
        }
        for key in keys {
            self.refill(&key);
        }
    }

    /// Starts sandboxes for `key` in the background until its pool is full, one at a time.
    fn refill(&self, key: &Key) {
        let Some(service) = self.service() else { return };
        let Some(token) = self.token.get().cloned() else { return };
        let template = {
            let mut slots = self.slots();
            let Some(slot) = slots.get_mut(key) else { return };
            let backing_off = slot.failed_at.is_some_and(|at| at.elapsed() < RETRY_AFTER);
            let full = match self.forks(key) {
                true => slot.zygote.as_ref().is_some_and(|z| z.alive()),
                false => slot.ready.len() >= self.config.per_key,
            };
            if slot.filling || backing_off || full || !self.enabled() {
                return;
            }
            slot.filling = true;
            slot.template.clone()
        };
        let key = key.clone();
        if let Some(library) = self.config.zygote_lib.clone().filter(|_| self.forks(&key)) {
            tokio::spawn(async move { service.warm.start_zygote(&service, key, template, &library, token).await });
            return;
        }
        tokio::spawn(async move {
            let pool = &service.warm;
            loop {
                // Runs come first: a refill waits while every place to run is taken.
                while service.busy() && pool.enabled() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let wanted =
                    pool.enabled() && pool.slots().get(&key).is_some_and(|s| s.ready.len() < pool.config.per_key);
                if !wanted {
                    break;
                }
                pool.starting.fetch_add(1, Ordering::SeqCst);
                let started = Pooled::start(&service, &key, template.as_ref(), pool.config.max_idle, &token).await;
                // Counted until it is in its pool or retired: a close meanwhile waits for it.
                let more = match started {
                    Ok(pooled) => {
                        let unwanted = {
                            let mut slots = pool.slots();
                            match slots.get_mut(&key) {
                                Some(slot) if pool.enabled() => {
                                    slot.ready.push(pooled);
                                    slot.failed_at = None;
                                    None
                                }
                                _ => Some(pooled),
                            }
                        };
                        match unwanted {
                            Some(pooled) => {
                                pooled.retire(&service).await;
                                false
                            }
                            None => true,
                        }
                    }
                    Err(_) if !pool.enabled() => false,
                    Err(e) => {
                        tracing::warn!(language = key.language.name(), template = ?key.template, error = %e, "cannot start a warm sandbox");
                        if let Some(slot) = pool.slots().get_mut(&key) {
                            slot.failed_at = Some(Instant::now());
                        }
                        false
                    }
                };
                pool.starting.fetch_sub(1, Ordering::SeqCst);
                if !more {
                    break;
                }
            }
            if let Some(slot) = pool.slots().get_mut(&key) {
                slot.filling = false;
            }
        });
    }

    /// Starts the zygote of `key`, replacing a dead one.
    async fn start_zygote(
        &self,
        service: &Arc<ExecutionService>,
        key: Key,
        template: Option<Template>,
        library: &std::path::Path,
        token: CancellationToken,
    ) {
        while service.busy() && self.enabled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.starting.fetch_add(1, Ordering::SeqCst);
        let started = match self.enabled() {
            true => Some(Zygote::start(service, template.as_ref(), library, &token).await),
            false => None,
        };
        let (unwanted, dead) = {
            let mut slots = self.slots();
            let slot = slots.get_mut(&key).filter(|_| self.enabled());
            match (started, slot) {
                (Some(Ok(zygote)), Some(slot)) => {
                    slot.failed_at = None;
                    slot.filling = false;
                    (None, slot.zygote.replace(Arc::new(zygote)))
                }
                (Some(Ok(zygote)), None) => (Some(zygote), None),
                (Some(Err(e)), slot) => {
                    tracing::warn!(template = ?key.template, error = %e, "cannot start a Python zygote");
                    if let Some(slot) = slot {
                        slot.failed_at = Some(Instant::now());
                        slot.filling = false;
                    }
                    (None, None)
                }
                (None, slot) => {
                    if let Some(slot) = slot {
                        slot.filling = false;
                    }
                    (None, None)
                }
            }
        };
        if let Some(zygote) = unwanted {
            zygote.retire(service).await;
        }
        self.retire_zygote_later(dead);
        self.starting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Retires a zygote once the runs it forked are over (killing it would take them along).
    fn retire_zygote_later(&self, zygote: Option<Arc<Zygote>>) {
        let Some(mut zygote) = zygote else { return };
        let Some(service) = self.service() else {
            zygote.kill();
            return;
        };
        self.starting.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs_f64(service.config.limits.max_timeout_secs + 10.0);
            let zygote = loop {
                match Arc::try_unwrap(zygote) {
                    Ok(zygote) => break Some(zygote),
                    Err(shared) if Instant::now() < deadline && !service.cancel.is_cancelled() => {
                        zygote = shared;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(shared) => {
                        shared.kill();
                        break None;
                    }
                }
            };
            if let Some(zygote) = zygote {
                zygote.retire(&service).await;
            }
            service.warm.starting.fetch_sub(1, Ordering::SeqCst);
        });
    }

    fn retire_later(&self, sandboxes: Vec<Pooled>) {
        if sandboxes.is_empty() {
            return;
        }
        let Some(service) = self.service() else {
            for pooled in sandboxes {
                pooled.live.cancel.cancel();
            }
            return;
        };
        self.starting.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            for pooled in sandboxes {
                pooled.retire(&service).await;
            }
            service.warm.starting.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Stops refilling, kills every idle sandbox and removes its workspace.
    pub async fn close(&self, service: &ExecutionService) {
        self.kill_idle();
        let slots: Vec<Slot> = self.slots().drain().map(|(_, s)| s).collect();
        for slot in slots {
            for pooled in slot.ready {
                pooled.retire(service).await;
            }
            match slot.zygote.map(Arc::try_unwrap) {
                Some(Ok(zygote)) => zygote.retire(service).await,
                Some(Err(shared)) => shared.kill(),
                None => {}
            }
        }
        // Those being started end too, and remove their workspaces themselves.
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.starting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills every idle sandbox at once (their workspaces go with the next `close`, or
    /// with the next daemon's start).
    pub fn kill_idle(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(token) = self.token.get() {
            token.cancel();
        }
        for slot in self.slots().values() {
            for pooled in &slot.ready {
                pooled.live.cancel.cancel();
            }
            if let Some(zygote) = &slot.zygote {
                zygote.kill();
            }
        }
    }

    pub fn info(&self) -> WarmInfo {
        let slots = self.slots();
        let mut pools: Vec<WarmPoolInfo> = slots
            .iter()
            .map(|(key, slot)| WarmPoolInfo {
                language: key.language,
                template: key.template.clone(),
                ready: slot.ready.iter().filter(|p| p.alive()).count()
                    + slot.zygote.as_ref().filter(|z| z.alive()).map_or(0, |_| 1),
                kind: if self.forks(key) { "fork" } else { "pre-start" },
            })
            .collect();
        pools.sort_by(|a, b| (a.language.name(), &a.template).cmp(&(b.language.name(), &b.template)));
        WarmInfo {
            enabled: self.enabled(),
            pool_size: self.config.per_key,
            max_idle_secs: self.config.max_idle.as_secs(),
            pools,
        }
    }
}

/// Takes the items matching `pick` out of `items`.
fn extract(items: &mut Vec<Pooled>, pick: impl Fn(&Pooled) -> bool) -> Vec<Pooled> {
    let (taken, kept): (Vec<Pooled>, Vec<Pooled>) = items.drain(..).partition(|p| pick(p));
    *items = kept;
    taken
}
