//! Which outbox rows are being delivered, so that no row is sent twice at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// The outbox rows being delivered now, so that the worker and flush() never send one twice
/// at once; and the rows released lately, so that a list read before a row's delivery ended
/// does not send it again.
#[derive(Clone, Default)]
pub(crate) struct InFlight(Arc<Mutex<Rows>>);

#[derive(Default)]
struct Rows {
    claimed: HashSet<i64>,
    /// Release number of each row released lately; `order` bounds how many are remembered.
    released: HashMap<i64, u64>,
    order: VecDeque<(u64, i64)>,
    releases: u64,
}

/// Releases remembered: far more than one list read can go stale by.
const REMEMBERED_RELEASES: usize = 4096;

/// A row taken for delivery; released when dropped, even by an aborted task.
pub(crate) struct Claim {
    rows: InFlight,
    row: i64,
}

impl InFlight {
    fn rows(&self) -> MutexGuard<'_, Rows> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the moment a list of rows is read from the store.
    pub(crate) fn mark(&self) -> u64 {
        self.rows().releases
    }

    /// Takes `row`, read from the store at `mark`, unless it is under way or was released since.
    pub(crate) fn claim(&self, row: i64, mark: u64) -> Option<Claim> {
        let mut rows = self.rows();
        let released_since = rows.released.get(&row).is_some_and(|&at| at > mark);
        (!released_since && rows.claimed.insert(row)).then(|| Claim { rows: self.clone(), row })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut rows = self.rows.rows();
        rows.claimed.remove(&self.row);
        rows.releases += 1;
        let at = rows.releases;
        rows.released.insert(self.row, at);
        rows.order.push_back((at, self.row));
        while rows.order.len() > REMEMBERED_RELEASES {
            if let Some((at, row)) = rows.order.pop_front() {
                if rows.released.get(&row) == Some(&at) {
                    rows.released.remove(&row);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_claimed_once_and_not_again_from_a_stale_list() {
        let rows = InFlight::default();
        let before = rows.mark();
        let claim = rows.claim(7, before).unwrap();
        assert!(rows.claim(7, before).is_none(), "under way");
        drop(claim);
        assert!(rows.claim(7, before).is_none(), "read before its release: already handled");
        assert!(rows.claim(7, rows.mark()).is_some(), "read after its release: due again");
    }
}
