//! Wakes the deliverer when an outbox entry was committed.
//!
//! Semantics: a commit wakes every task waiting at that moment (`notify_waiters`), and also
//! leaves one permit (a flag) so that a task that starts waiting only after the commit — the
//! deliverer between its scan of due entries and its next wait — returns at once instead of
//! sleeping on work that is already there. Any number of commits before the next wait
//! coalesce into that one permit, which is all a deliverer needs: it re-scans everything due.
//! A wake can be spurious (the permit of a commit whose entry the last scan already saw);
//! that costs one empty scan.
//!
//! `notify_one` alone has the same permit but wakes a single waiter; the flag plus
//! `notify_waiters` also behaves when more than one task waits (a second deliverer, a test).
//! The permit is shared, so it suits one consuming loop, or several that all re-scan.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct OutboxSignal {
    notify: Notify,
    /// Set by a commit, cleared by the wait that reports it.
    permit: AtomicBool,
}

impl OutboxSignal {
    /// Called after (never before) the commit of a new entry, so a woken task sees it.
    pub(crate) fn entry_added(&self) {
        self.permit.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) async fn changed(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before the flag is checked: a commit after the check wakes this wait.
        notified.as_mut().enable();
        if self.permit.swap(false, Ordering::SeqCst) {
            return;
        }
        notified.await;
        // This wake reports the commits so far; the caller's next scan sees them all. A swap,
        // not a store: reading a later commit's flag orders that commit before the scan, and
        // a flag set after this swap stays set for the next wait.
        self.permit.swap(false, Ordering::SeqCst);
    }
}
