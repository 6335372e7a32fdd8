//! The pools of pre-started sandboxes, one per (language, template): what claims take and
//! what `GET /info` shows. Their upkeep (refills, renewals, retirements) is in
//! [`super::refill`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::pooled::Pooled;
use super::zygote::Zygote;
use super::{key_for, Fixed, Key, WarmConfig, WarmInfo, WarmPoolInfo};
use crate::sandboxes::Sandboxes;
use crate::{ExecutionRequest, Language, Template};

pub(crate) struct Pool {
    pub(super) config: WarmConfig,
    pub(super) sandboxes: Arc<Sandboxes>,
    pub(super) slots: Mutex<HashMap<Key, Slot>>,
    pub(super) closed: AtomicBool,
    /// Every pooled sandbox's token descends from it: cancelling it ends those starting too.
    /// Set once the pools are started: nothing is started before.
    pub(super) token: OnceLock<CancellationToken>,
    /// Sandboxes being started, or retired in the background: `close` waits for them, so that
    /// none is left with its workspace mounted when the daemon exits.
    pub(super) starting: AtomicUsize,
}

/// What serves a claimed run warm.
pub(crate) enum Claim {
    /// A pre-started sandbox, the run's alone.
    Pooled(Box<Pooled>),
    /// A zygote that forks the run a sandbox of its own.
    Forked(Arc<Zygote>),
}

pub(super) struct Slot {
    pub template: Option<Template>,
    pub ready: Vec<Pooled>,
    /// The pool's zygote, for Python when forking is available.
    pub zygote: Option<Arc<Zygote>>,
    /// A refill is under way (one at a time per pool).
    pub filling: bool,
    pub used: Instant,
    pub failed_at: Option<Instant>,
}

impl Slot {
    pub fn new(template: Option<Template>) -> Slot {
        Slot { template, ready: Vec::new(), zygote: None, filling: false, used: Instant::now(), failed_at: None }
    }
}

impl Pool {
    pub fn new(config: WarmConfig, sandboxes: Arc<Sandboxes>) -> Pool {
        Pool {
            config,
            sandboxes,
            slots: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            token: OnceLock::new(),
            starting: AtomicUsize::new(0),
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.config.per_key > 0 && !self.closed.load(Ordering::SeqCst)
    }

    /// Whether the pool of `key` is a zygote.
    pub(super) fn forks(&self, key: &Key) -> bool {
        key.language == Language::Python && self.config.zygote_lib.is_some()
    }

    pub(super) fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What can serve `req` warm, if anything matches it; the pool starts a replacement.
    pub fn claim(self: &Arc<Self>, req: &ExecutionRequest, fixed: Fixed) -> Option<Claim> {
        if !self.enabled() {
            return None;
        }
        let key = key_for(req, self.config.zygote_lib.is_some())?;
        let (claimed, stale) = self.in_slot(&key, req.template.as_ref(), |slot| {
            if self.forks(&key) {
                let zygote = slot.zygote.as_ref().filter(|z| z.alive() && z.template == req.template);
                (zygote.cloned().map(Claim::Forked), Vec::new())
            } else {
                let stale: Vec<Pooled> = extract(&mut slot.ready, |p| !p.alive());
                // One started with the run's limits, else any: the claim gives it the run's.
                let fits = |p: &Pooled| p.template == req.template;
                let exact = slot.ready.iter().position(|p| fits(p) && p.fixed == fixed);
                let at = exact.or_else(|| slot.ready.iter().position(fits));
                (at.map(|at| Claim::Pooled(Box::new(slot.ready.remove(at)))), stale)
            }
        });
        self.retire_later(stale);
        self.refill(&key);
        claimed
    }

    /// [`Pool::claim`] for a run that only a fork can serve (a run with an egress door: a
    /// pre-started sandbox started without one): its zygote, or None (the run goes cold).
    pub fn claim_fork(self: &Arc<Self>, req: &ExecutionRequest, fixed: Fixed) -> Option<Arc<Zygote>> {
        let key = key_for(req, self.config.zygote_lib.is_some())?;
        if !self.enabled() || !self.forks(&key) {
            return None;
        }
        match self.claim(req, fixed)? {
            Claim::Forked(zygote) => Some(zygote),
            Claim::Pooled(pooled) => {
                self.retire_later(vec![*pooled]);
                None
            }
        }
    }

    /// The ready Python zygote of `template` (None: the system interpreter), for a session's
    /// interpreter to be forked from; the pool is started if it was not.
    pub fn zygote(self: &Arc<Self>, template: Option<&Template>) -> Option<Arc<Zygote>> {
        let key = Key { language: Language::Python, template: template.map(|t| t.name.clone()) };
        if !self.enabled() || !self.forks(&key) {
            return None;
        }
        let zygote = self.in_slot(&key, template, |slot| {
            slot.zygote.as_ref().filter(|z| z.alive() && z.template.as_ref() == template).cloned()
        });
        self.refill(&key);
        zygote
    }

    /// Runs `take` on the slot of `key`, made (for `template`) if there is none yet.
    fn in_slot<T>(self: &Arc<Self>, key: &Key, template: Option<&Template>, take: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots();
        if !slots.contains_key(key) {
            self.make_room(&mut slots);
        }
        let slot = slots.entry(key.clone()).or_insert_with(|| Slot::new(template.cloned()));
        slot.used = Instant::now();
        take(slot)
    }

    /// Keeps at most `max_templates` template pools: the least recently used one not in use
    /// goes.
    fn make_room(self: &Arc<Self>, slots: &mut HashMap<Key, Slot>) {
        let templates = slots.keys().filter(|k| k.template.is_some()).count();
        if templates < self.config.max_templates {
            return;
        }
        // A zygote that session interpreters (or runs) were forked from stays: retiring it
        // would end them.
        let in_use = |slot: &Slot| slot.zygote.as_ref().is_some_and(|z| Arc::strong_count(z) > 1);
        let oldest = slots.iter().filter(|(k, s)| k.template.is_some() && !in_use(s)).min_by_key(|(_, s)| s.used);
        if let Some(key) = oldest.map(|(k, _)| k.clone()) {
            if let Some(slot) = slots.remove(&key) {
                self.retire_later(slot.ready);
                self.retire_zygote_later(slot.zygote);
            }
        }
    }

    /// Stops refilling, kills every idle sandbox and removes its workspace.
    pub async fn close(&self) {
        self.kill_idle();
        let slots: Vec<Slot> = self.slots().drain().map(|(_, s)| s).collect();
        for slot in slots {
            for pooled in slot.ready {
                pooled.retire(&self.sandboxes).await;
            }
            if let Some(zygote) = slot.zygote {
                self.retire_zygote_now(zygote).await;
            }
        }
        // Those being started end too, and remove their workspaces themselves.
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.starting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Retires `zygote` once nothing else holds it, which the upkeep of its sandboxes built
    /// ahead stops doing at once when the pool closes; one still shared after a moment (a
    /// session forked from it) is killed, and its workspace goes with the next daemon's start.
    async fn retire_zygote_now(&self, mut zygote: Arc<Zygote>) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match Arc::try_unwrap(zygote) {
                Ok(zygote) => return zygote.retire(&self.sandboxes).await,
                Err(shared) if Instant::now() < deadline => zygote = shared,
                Err(shared) => return shared.kill(),
            }
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
                prebuilt: slot.zygote.as_ref().filter(|z| z.alive()).map_or(0, |z| z.prebuilt_count()),
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
pub(super) fn extract(items: &mut Vec<Pooled>, pick: impl Fn(&Pooled) -> bool) -> Vec<Pooled> {
    let (taken, kept): (Vec<Pooled>, Vec<Pooled>) = items.drain(..).partition(|p| pick(p));
    *items = kept;
    taken
}
