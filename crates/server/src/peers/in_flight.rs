//! How many forwarded calls each peer has from this daemon at once: a frozen or slow peer
//! holds at most its share of this daemon's connections and tasks, never all of them, and
//! one tenant at most a quarter of a peer's share, so that its long calls leave room for
//! other tenants' calls to the same peer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A peer's calls (`tenant` None) or one tenant's calls to it.
type Key = (String, Option<String>);

/// The calls in flight, by peer and by tenant. A key with none has no entry, so peers named
/// by made-up ids, and tenants, leave nothing behind.
#[derive(Debug, Default)]
pub struct InFlight {
    counts: Arc<Mutex<HashMap<Key, usize>>>,
}

/// One call in flight to a peer, until it is dropped (a streamed answer's end included).
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<HashMap<Key, usize>>>,
    keys: [Key; 2],
}

/// Why a call found no place.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// The peer has `max` calls in flight.
    Peer,
    /// The tenant has its share of them.
    Tenant(usize),
}

/// The calls to one peer one tenant may have in flight of the peer's `max`.
pub fn tenant_share(max: usize) -> usize {
    (max / 4).max(1)
}

impl InFlight {
    /// A place for one more call of `tenant` to `node`, unless `max` are in flight to it
    /// already, or the tenant has its share of them.
    pub fn try_enter(&self, node: &str, tenant: &str, max: usize) -> Result<Permit, Full> {
        let keys = [(node.to_owned(), None), (node.to_owned(), Some(tenant.to_owned()))];
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = |key: &Key| counts.get(key).copied().unwrap_or(0);
        if count(&keys[0]) >= max {
            return Err(Full::Peer);
        }
        let share = tenant_share(max);
        if count(&keys[1]) >= share {
            return Err(Full::Tenant(share));
        }
        for key in &keys {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        Ok(Permit { counts: Arc::clone(&self.counts), keys })
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for key in &self.keys {
            if let Some(count) = counts.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_peer_has_at_most_its_share_and_idle_peers_leave_nothing() {
        let in_flight = InFlight::default();
        let first = in_flight.try_enter("a", "t1", 8).unwrap();
        let second = in_flight.try_enter("a", "t1", 8).unwrap();
        assert_eq!(in_flight.try_enter("a", "t1", 8).unwrap_err(), Full::Tenant(2), "a tenant's third call to a");
        let others: Vec<Permit> =
            (0..6).map(|i| in_flight.try_enter("a", &format!("t{}", i / 2 + 2), 8).unwrap()).collect();
        assert_eq!(in_flight.try_enter("a", "t9", 8).unwrap_err(), Full::Peer, "a ninth call to a");
        let elsewhere = in_flight.try_enter("b", "t1", 8).expect("another peer has its own share");
        drop(first);
        let third = in_flight.try_enter("a", "t1", 8).expect("a place came free");
        drop((second, third, others, elsewhere));
        assert_eq!(in_flight.keys(), 0);
    }
}
