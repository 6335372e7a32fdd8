//! The file transfers of sessions under way. A download holds an open file while its bytes
//! go out in bounded chunks, for as long as the caller takes to read them; the daemon serves
//! at most `max` at once, and one tenant at most `per_tenant` of them, so that slow readers
//! cannot pin the daemon's descriptors and threads nor take every place from other tenants.
//! Past either cap a transfer is refused at once (the caller retries after a second), never
//! queued: a queued download would hold its caller's connection for an unknown time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::registry::CallGuard;
use crate::ExecuteError;

/// How long a refused caller should wait before trying again.
const RETRY_AFTER_SECS: u64 = 1;

pub(crate) struct Transfers {
    max: usize,
    per_tenant: usize,
    /// Transfers under way, by tenant (a tenant with none has no entry).
    active: Mutex<HashMap<String, usize>>,
}

/// One transfer under way: its place among the transfers, and its session marked busy (a
/// session being downloaded from is in use, so it does not expire meanwhile). Dropping it
/// frees both.
pub struct Transfer {
    _place: Place,
    _call: CallGuard,
}

impl Transfer {
    pub(crate) fn new(place: Place, call: CallGuard) -> Transfer {
        Transfer { _place: place, _call: call }
    }
}

/// A place among the transfers, freed when dropped.
pub(crate) struct Place {
    transfers: Arc<Transfers>,
    tenant: String,
}

impl Transfers {
    pub fn new(max: usize, per_tenant: usize) -> Arc<Transfers> {
        Arc::new(Transfers { max: max.max(1), per_tenant: per_tenant.max(1), active: Mutex::new(HashMap::new()) })
    }

    /// A place for a transfer of `tenant`, or the refusal.
    pub fn begin(self: &Arc<Self>, tenant: &str) -> Result<Place, ExecuteError> {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = active.values().sum();
        let own = active.get(tenant).copied().unwrap_or(0);
        let message = if total >= self.max {
            format!("{total} file transfers are under way, the most this daemon serves at once")
        } else if own >= self.per_tenant {
            format!("tenant {tenant} has {own} file transfers under way, the most one tenant may have at once")
        } else {
            *active.entry(tenant.to_owned()).or_default() += 1;
            metrics::gauge!("sandbox_file_transfers").set((total + 1) as f64);
            return Ok(Place { transfers: Arc::clone(self), tenant: tenant.to_owned() });
        };
        Err(ExecuteError::TransfersFull { message, retry_after_secs: RETRY_AFTER_SECS })
    }

    /// Transfers under way, all tenants together.
    #[cfg(test)]
    fn active(&self) -> usize {
        self.active.lock().unwrap_or_else(|p| p.into_inner()).values().sum()
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut active = self.transfers.active.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(own) = active.get_mut(&self.tenant) {
            *own -= 1;
            if *own == 0 {
                active.remove(&self.tenant);
            }
        }
        metrics::gauge!("sandbox_file_transfers").set(active.values().sum::<usize>() as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_takes_its_share_and_the_daemon_its_cap() {
        let transfers = Transfers::new(3, 2);
        let a1 = transfers.begin("a").unwrap();
        let _a2 = transfers.begin("a").unwrap();
        let refused = transfers.begin("a").err().expect("a third of tenant a");
        assert!(refused.to_string().contains("tenant a has 2"), "{refused}");
        let _b1 = transfers.begin("b").unwrap();
        let refused = transfers.begin("b").err().expect("a fourth in all");
        assert!(refused.to_string().contains("3 file transfers"), "{refused}");
        assert!(matches!(refused, ExecuteError::TransfersFull { retry_after_secs: 1, .. }));
        drop(a1);
        assert_eq!(transfers.active(), 2);
        let _b2 = transfers.begin("b").unwrap();
        assert!(transfers.active.lock().unwrap().get("c").is_none());
    }
}
