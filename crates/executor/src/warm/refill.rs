//! The upkeep of the pools: refills in the background (runs come first), renewal of idle or
//! dead sandboxes, and retirements that wait for what is still in use.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::pool::{extract, Pool, Slot};
use super::pooled::Pooled;
use super::prebuilt::Prebuilt;
use super::zygote::Zygote;
use super::Key;
use crate::{Language, Template};

/// How often idle sandboxes are checked for age and death.
const TICK: Duration = Duration::from_secs(5);
/// How long a pool whose sandbox failed to start waits before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

impl Pool {
    /// Starts the pools of the system interpreters and the upkeep of every pool.
    pub fn start(self: &Arc<Self>) {
        if self.config.per_key == 0 {
            return;
        }
        let _ = self.token.set(self.sandboxes.cancel.child_token());
        {
            let mut slots = self.slots();
            for language in [Language::Python, Language::Javascript] {
                slots.insert(Key { language, template: None }, Slot::new(None));
            }
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(pool) = weak.upgrade() else { return };
                if !pool.enabled() {
                    return;
                }
                pool.upkeep().await;
                drop(pool);
                tokio::time::sleep(TICK).await;
            }
        });
    }

    /// Replaces the sandboxes idle too long or dead, and tops every pool up.
    async fn upkeep(self: &Arc<Self>) {
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
    pub(super) fn refill(self: &Arc<Self>, key: &Key) {
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
        let pool = Arc::clone(self);
        if let Some(library) = self.config.zygote_lib.clone().filter(|_| self.forks(&key)) {
            tokio::spawn(async move { pool.start_zygote(key, template, &library, token).await });
            return;
        }
        tokio::spawn(async move {
            while pool.start_pooled(&key, template.as_ref(), &token).await {}
            if let Some(slot) = pool.slots().get_mut(&key) {
                slot.filling = false;
            }
        });
    }

    /// Runs come first: background work waits while every place to run is taken.
    async fn wait_for_room(&self) {
        while self.sandboxes.busy() && self.enabled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts one sandbox into the pool of `key` if it still wants one; whether it may want more.
    async fn start_pooled(&self, key: &Key, template: Option<&Template>, token: &CancellationToken) -> bool {
        self.wait_for_room().await;
        let wanted = self.enabled() && self.slots().get(key).is_some_and(|s| s.ready.len() < self.config.per_key);
        if !wanted {
            return false;
        }
        // Counted until it is in its pool or retired: a close meanwhile waits for it.
        self.starting.fetch_add(1, Ordering::SeqCst);
        let started = Pooled::start(&self.sandboxes, key, template, self.config.max_idle, token).await;
        let more = match started {
            Ok(pooled) => {
                let unwanted = {
                    let mut slots = self.slots();
                    match slots.get_mut(key) {
                        Some(slot) if self.enabled() => {
                            slot.ready.push(pooled);
                            slot.failed_at = None;
                            None
                        }
                        _ => Some(pooled),
                    }
                };
                match unwanted {
                    Some(pooled) => {
                        pooled.retire(&self.sandboxes).await;
                        false
                    }
                    None => true,
                }
            }
            Err(_) if !self.enabled() => false,
            Err(e) => {
                tracing::warn!(language = key.language.name(), template = ?key.template, error = %e, "cannot start a warm sandbox");
                if let Some(slot) = self.slots().get_mut(key) {
                    slot.failed_at = Some(Instant::now());
                }
                false
            }
        };
        self.starting.fetch_sub(1, Ordering::SeqCst);
        more
    }

    /// Starts the zygote of `key`, replacing a dead one.
    async fn start_zygote(
        self: &Arc<Self>,
        key: Key,
        template: Option<Template>,
        library: &Path,
        token: CancellationToken,
    ) {
        self.wait_for_room().await;
        self.starting.fetch_add(1, Ordering::SeqCst);
        let started = match self.enabled() {
            true => Some(Zygote::start(&self.sandboxes, template.as_ref(), library, &token).await),
            false => None,
        };
        let (unwanted, dead) = {
            let mut slots = self.slots();
            let slot = slots.get_mut(&key).filter(|_| self.enabled());
            match (started, slot) {
                (Some(Ok(zygote)), Some(slot)) => {
                    slot.failed_at = None;
                    slot.filling = false;
                    let zygote = Arc::new(zygote);
                    self.keep_prebuilt(&zygote);
                    (None, slot.zygote.replace(zygote))
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
            zygote.retire(&self.sandboxes).await;
        }
        self.retire_zygote_later(dead);
        self.starting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Keeps `zygote`'s sandboxes built ahead at the configured number while it lives: one
    /// at a time, when runs leave room, woken when one was taken and every [`TICK`] (to
    /// replace those idle too long).
    fn keep_prebuilt(self: &Arc<Self>, zygote: &Arc<Zygote>) {
        // Only a root daemon can hand a fork its run's workspace (a detached mount).
        if self.config.prebuilt == 0 || !sandbox::host::is_root() {
            return;
        }
        let (pool, zygote, wanted) = (Arc::downgrade(self), Arc::downgrade(zygote), zygote.wanted.clone());
        tokio::spawn(async move {
            loop {
                // Held only while building: a zygote being retired is not kept alive by this.
                let (Some(pool), Some(zygote)) = (pool.upgrade(), zygote.upgrade()) else { return };
                if !pool.enabled() || !zygote.alive() {
                    return;
                }
                pool.top_up_prebuilt(&zygote).await;
                let wake = wanted.notified();
                drop((pool, zygote));
                let _ = tokio::time::timeout(TICK, wake).await;
            }
        });
    }

    /// Retires `zygote`'s stale sandboxes built ahead and builds new ones up to the number.
    async fn top_up_prebuilt(&self, zygote: &Zygote) {
        for stale in zygote.stale_prebuilt(self.config.max_idle) {
            stale.retire().await;
        }
        while self.enabled() && zygote.alive() && zygote.prebuilt_count() < self.config.prebuilt {
            self.wait_for_room().await;
            self.starting.fetch_add(1, Ordering::SeqCst);
            let built = Prebuilt::build(&self.sandboxes, zygote.fork_source()).await;
            let kept = match built {
                Ok(built) => match zygote.keep(built) {
                    None => true,
                    Some(unwanted) => {
                        unwanted.retire().await;
                        false
                    }
                },
                Err(why) => {
                    tracing::warn!(template = ?zygote.template.as_ref().map(|t| &t.name), %why, "cannot build a sandbox ahead of its run");
                    false
                }
            };
            self.starting.fetch_sub(1, Ordering::SeqCst);
            if !kept {
                return;
            }
        }
    }

    /// Retires a zygote once the runs it forked are over (killing it would take them along).
    pub(super) fn retire_zygote_later(self: &Arc<Self>, zygote: Option<Arc<Zygote>>) {
        let Some(mut zygote) = zygote else { return };
        self.starting.fetch_add(1, Ordering::SeqCst);
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            let sandboxes = &pool.sandboxes;
            let deadline = Instant::now() + Duration::from_secs_f64(sandboxes.config.limits.max_timeout_secs + 10.0);
            // Past the deadline it is killed, and with it what it forked; its workspace is
            // removed once those are gone too.
            let mut killed: Option<Instant> = None;
            let zygote = loop {
                match Arc::try_unwrap(zygote) {
                    Ok(zygote) => break Some(zygote),
                    Err(_) if killed.is_some_and(|at| at.elapsed() > crate::live::KILL_WAIT) => break None,
                    Err(shared) => {
                        if killed.is_none() && (Instant::now() >= deadline || sandboxes.cancel.is_cancelled()) {
                            shared.kill();
                            killed = Some(Instant::now());
                        }
                        zygote = shared;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            if let Some(zygote) = zygote {
                zygote.retire(sandboxes).await;
            }
            pool.starting.fetch_sub(1, Ordering::SeqCst);
        });
    }

    pub(super) fn retire_later(self: &Arc<Self>, sandboxes: Vec<Pooled>) {
        if sandboxes.is_empty() {
            return;
        }
        self.starting.fetch_add(1, Ordering::SeqCst);
        let pool = Arc::clone(self);
        tokio::spawn(async move {
            for pooled in sandboxes {
                pooled.retire(&pool.sandboxes).await;
            }
            pool.starting.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
