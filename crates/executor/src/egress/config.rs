//! What the daemon's operator decides about egress: whether runs may have any, the most a
//! policy may allow, whether private addresses may be reached, and each run's limits.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::policy::{Destination, EgressPolicy};

/// The port of the door inside every sandbox (each has its own network namespace).
pub const DOOR_PORT: u16 = 3128;

/// Connections a run may have open at once, by default.
pub const DEFAULT_MAX_OPEN_PER_RUN: u64 = 64;
/// Connections the daemon's runs may have open at once, by default (the daemon's start
/// lowers it to a quarter of its descriptor limit when that is less).
pub const DEFAULT_MAX_OPEN: u64 = 1024;

/// A count of open connections shared by every clone (the daemon's, across runs).
#[derive(Debug, Clone, Default)]
pub struct OpenConnections(Arc<AtomicU64>);

impl OpenConnections {
    /// Counts one more unless `max` are open; `false` when it may not.
    pub fn take(&self, max: u64) -> bool {
        self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).is_ok()
    }

    /// Counts one fewer (one [`OpenConnections::take`] ended).
    pub fn give_back(&self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn now(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// `false`: a request, session or template with a policy is refused.
    pub enabled: bool,
    /// The most any policy may allow: each of its destinations must be within one of these.
    /// `None`: any host name.
    pub cap: Option<Vec<Destination>>,
    /// Whether destinations that resolve to loopback, private, link-local, shared or
    /// otherwise non-public addresses may be reached. Off by default: with it on, a run can
    /// reach whatever the host reaches on those networks.
    pub allow_private: bool,
    /// Names the proxy resolves to these addresses instead of asking DNS (tests map names
    /// to 127.0.0.1 with it).
    pub hosts: BTreeMap<String, IpAddr>,
    /// Bytes (both ways, all connections) a run may move; past it the run is stopped.
    pub max_bytes: u64,
    /// Connections a run may open (allowed or refused); past it the run is stopped.
    pub max_connections: u64,
    /// Connections a run may have open at once; one more is refused (the run goes on).
    pub max_open_per_run: u64,
    /// Connections all runs together may have open at once; one more is refused. Each
    /// holds two of the daemon's descriptors (the run's side and the destination's).
    pub max_open: u64,
    /// The connections open now, across every door opened with this configuration.
    pub open: OpenConnections,
    /// Addresses never reached, whatever the rest allows (the daemon's own API).
    pub never: Vec<SocketAddr>,
    /// How long the proxy waits for a client's request line and headers, and for a connection.
    pub handshake_timeout: Duration,
    /// The host file bound read-only as every sandbox's CA bundle (see [`super::ca_bundle`]);
    /// `None`: no bundle, and TLS from a sandbox verifies nothing it could trust.
    pub ca_bundle: Option<PathBuf>,
}

impl Default for EgressConfig {
    fn default() -> Self {
        EgressConfig {
            enabled: true,
            cap: None,
            allow_private: false,
            hosts: BTreeMap::new(),
            max_bytes: 1 << 30,
            max_connections: 1024,
            max_open_per_run: DEFAULT_MAX_OPEN_PER_RUN,
            max_open: DEFAULT_MAX_OPEN,
            open: OpenConnections::default(),
            never: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            ca_bundle: None,
        }
    }
}

impl EgressConfig {
    /// Checks a policy against the switch and the cap; the message names what is refused.
    pub fn permits(&self, policy: &EgressPolicy) -> Result<(), NotPermitted> {
        if !self.enabled {
            return Err(NotPermitted::Off);
        }
        let Some(cap) = &self.cap else { return Ok(()) };
        match policy.allow.iter().find(|d| !cap.iter().any(|c| c.covers(d))) {
            Some(outside) => Err(NotPermitted::Outside(outside.clone())),
            None => Ok(()),
        }
    }
}

/// Why the server refuses a run's egress policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPermitted {
    #[error("egress is turned off on this server")]
    Off,
    #[error("{0} is outside what this server allows")]
    Outside(super::Destination),
}
