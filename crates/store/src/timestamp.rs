//! RFC 3339 timestamps of the records, as the executor formats them everywhere.

pub(crate) use executor::recorder::rfc3339 as rfc3339_from_ms;
