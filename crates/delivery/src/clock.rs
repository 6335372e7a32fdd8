//! Wall-clock time as the store keeps it (ms since the epoch) and as the contract writes it
//! (RFC 3339, UTC).

pub(crate) use executor::recorder::{now_ms, rfc3339};
