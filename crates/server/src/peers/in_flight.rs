//! How many forwarded calls each peer has from this daemon at once: a frozen or slow peer
//! holds at most its share of this daemon's connections and tasks, never all of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The calls in flight, by peer. A peer with none has no entry, so peers named by made-up ids
/// leave nothing behind.
#[derive(Debug, Default)]
pub struct InFlight {
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

/// One call in flight to a peer, until it is dropped (a streamed answer's end included).
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    node: String,
}

impl InFlight {
    /// A place for one more call to `node`, unless `max` are in flight to it already.
    pub fn try_enter(&self, node: &str, max: usize) -> Option<Permit> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.get(node).copied().unwrap_or(0);
        if count >= max {
            return None;
        }
        counts.insert(node.to_owned(), count + 1);
        Some(Permit { counts: Arc::clone(&self.counts), node: node.to_owned() })
    }

    #[cfg(test)]
    fn peers(&self) -> usize {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.node) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.node);
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
        let first = in_flight.try_enter("a", 2).unwrap();
        let second = in_flight.try_enter("a", 2).unwrap();
        assert!(in_flight.try_enter("a", 2).is_none(), "a third call to a");
        let other = in_flight.try_enter("b", 2).expect("another peer has its own share");
        drop(first);
        let third = in_flight.try_enter("a", 2).expect("a place came free");
        drop((second, third, other));
        assert_eq!(in_flight.peers(), 0);
    }
}
