//! The delivery crate's integration tests, one binary: a real store and a stand-in control
//! plane (`common`) on loopback.

mod common;

mod lifecycle;
mod outbox;
mod results;
