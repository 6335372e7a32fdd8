//! What a run's result says of its network: the policy it ran under and every attempt.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Attempts listed in a result; beyond this only the totals grow.
pub const MAX_LISTED: usize = 1000;

/// The network of a run that had an egress policy (runs without one have none: `null`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct NetworkReport {
    /// The destinations the run was allowed, as the policy named them.
    pub allowed: Vec<String>,
    /// Every connection the run made through its door, in order (the first 1000).
    pub attempts: Vec<NetworkAttempt>,
    /// Connections the run opened (allowed or refused).
    pub connections: u64,
    /// The most connections the run had open at once through its door.
    #[serde(default)]
    pub peak_open: u64,
    /// Bytes from the run to its destinations, all connections together.
    pub bytes_sent: u64,
    /// Bytes from the destinations to the run.
    pub bytes_received: u64,
    /// `bytes` or `connections` when the run was stopped for passing that limit.
    pub limit_exceeded: Option<String>,
}

/// What `GET /info` says of egress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EgressInfo {
    /// Whether a run, session or template may ask for an egress policy here.
    pub available: bool,
    /// How it is enforced.
    #[schema(example = "proxy")]
    pub enforcement: String,
    /// What the enforcement lets through and what it cannot see.
    pub description: String,
    /// The most a policy may allow (`null`: any host name).
    pub allowed_destinations: Option<Vec<String>>,
    /// Whether loopback and private destinations may be reached (never link-local or
    /// metadata addresses, nor the server's own API).
    pub private_destinations: bool,
    /// Bytes (both ways) a run may move before it is stopped.
    pub max_bytes_per_run: u64,
    /// Connections a run may open before it is stopped.
    pub max_connections_per_run: u64,
    /// Connections a run may have open at once; one more is refused (429), the run goes on.
    pub max_open_connections_per_run: u64,
    /// Connections all runs together may have open at once; one more is refused (503).
    pub max_open_connections: u64,
}

impl EgressInfo {
    pub fn of(config: &super::EgressConfig, sandbox_works: bool) -> EgressInfo {
        EgressInfo {
            available: config.enabled && sandbox_works,
            enforcement: "proxy".into(),
            description: "Each run has its own network namespace with only a loopback interface and no route: no \
                          DNS, no UDP, no direct connection. A run with a policy gets one door: a listener the \
                          sandbox's launcher opens on 127.0.0.1 before the code starts, whose connections go to \
                          the daemon's HTTP proxy (CONNECT and absolute-URI requests). The proxy checks the host \
                          name against the policy, resolves it itself, refuses non-public addresses unless \
                          configured, and relays bytes without opening TLS: it sees host names and byte counts, \
                          never the contents of encrypted connections."
                .into(),
            allowed_destinations: config.cap.as_ref().map(|cap| cap.iter().map(ToString::to_string).collect()),
            private_destinations: config.allow_private,
            max_bytes_per_run: config.max_bytes,
            max_connections_per_run: config.max_connections,
            max_open_connections_per_run: config.max_open_per_run,
            max_open_connections: config.max_open,
        }
    }
}

/// One connection through the door.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct NetworkAttempt {
    /// The host the run asked for (empty when its request could not be read).
    pub host: String,
    pub port: u16,
    /// `CONNECT`, or the method of a plain HTTP request through the proxy.
    pub method: String,
    pub allowed: bool,
    /// Why it was refused, or why an allowed one failed (`null` when it went through).
    pub reason: Option<String>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}
