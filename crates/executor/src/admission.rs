//! Which executions the service has taken on: at most `max_running` run at once, at most
//! `max_queued` more wait for a turn, an id runs once at a time (and is refused to another
//! tenant as taken, without saying that it runs), and nothing new is taken once shutdown begins.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ExecuteError;

/// How long a refused caller should wait before trying again.
const RETRY_AFTER_SECS: u64 = 1;

pub struct Admission {
    max_running: usize,
    max_queued: usize,
    turns: Arc<Semaphore>,
    /// Each admitted id, with its tenant and when it was admitted.
    taken: Mutex<HashMap<String, (String, Instant)>>,
    waiting: AtomicUsize,
    accepting: AtomicBool,
}

/// An admitted execution; dropping it frees its id and its place.
pub struct Ticket {
    admission: Arc<Admission>,
    pub execution_id: String,
}

impl Admission {
    pub fn new(max_running: usize, max_queued: usize) -> Arc<Self> {
        Arc::new(Admission {
            max_running: max_running.max(1),
            max_queued,
            turns: Arc::new(Semaphore::new(max_running.max(1))),
            taken: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
            accepting: AtomicBool::new(true),
        })
    }

    pub fn admit(self: &Arc<Self>, execution_id: &str, tenant: &str) -> Result<Ticket, ExecuteError> {
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(ExecuteError::ShuttingDown);
        }
        let mut taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        match taken.get(execution_id) {
            Some((owner, _)) if owner == tenant => return Err(ExecuteError::AlreadyRunning(execution_id.to_string())),
            Some(_) => return Err(ExecuteError::IdTaken(execution_id.to_string())),
            None => {}
        }
        if self.full(taken.len()) {
            let queued = self.waiting.load(Ordering::SeqCst);
            return Err(ExecuteError::QueueFull {
                running: taken.len() - queued,
                queued,
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        taken.insert(execution_id.to_string(), (tenant.to_string(), Instant::now()));
        metrics::gauge!("sandbox_admitted_executions").set(taken.len() as f64);
        Ok(Ticket { admission: Arc::clone(self), execution_id: execution_id.to_string() })
    }

    /// Executions taken on and not finished (running or waiting).
    pub fn active(&self) -> usize {
        self.taken.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Ids of the executions taken on, with how long ago.
    pub fn active_ids(&self) -> Vec<(String, std::time::Duration)> {
        let taken = self.taken.lock().unwrap_or_else(|p| p.into_inner());
        taken.iter().map(|(id, (_, since))| (id.clone(), since.elapsed())).collect()
    }

    /// Whether it still takes new work (it stops at shutdown).
    pub fn accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
    }

    /// With `taken` executions admitted, whether every place to run and to wait is taken.
    fn full(&self, taken: usize) -> bool {
        taken >= self.max_running + self.max_queued
    }

    /// Why a new execution would be refused now (shutting down, or no room left), if it would.
    pub fn refusal(&self) -> Option<String> {
        if !self.accepting.load(Ordering::SeqCst) {
            return Some("the daemon is shutting down and takes no new executions".into());
        }
        let taken = self.active();
        (taken >= self.max_running + self.max_queued)
            .then(|| format!("{taken} executions are running and waiting, the most this daemon takes"))
    }
}

impl Ticket {
    /// Waits for a free place to run (the queue), then holds it until dropped.
    pub async fn turn(&self) -> OwnedSemaphorePermit {
        let admission = &self.admission;
        admission.waiting.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!("sandbox_queue_depth").set(admission.queued() as f64);
        let permit = Arc::clone(&admission.turns).acquire_owned().await.expect("the semaphore is never closed");
        admission.waiting.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("sandbox_queue_depth").set(admission.queued() as f64);
        permit
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut taken = self.admission.taken.lock().unwrap_or_else(|p| p.into_inner());
        taken.remove(&self.execution_id);
        metrics::gauge!("sandbox_admitted_executions").set(taken.len() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_id_is_refused_as_running_to_its_tenant_and_as_taken_to_others() {
        let admission = Admission::new(1, 1);
        let ticket = admission.admit("x", "a").unwrap();
        assert!(matches!(admission.admit("x", "a"), Err(ExecuteError::AlreadyRunning(_))));
        assert!(matches!(admission.admit("x", "b"), Err(ExecuteError::IdTaken(_))));
        drop(ticket);
        assert!(admission.admit("x", "b").is_ok());
    }
}
