//! The daemon's proxy to servers listening inside a session (an E2B sandbox's `get_host(port)`,
//! our API's `/session/{id}/ports/{port}/...`): a request, or a WebSocket (any upgrade), is
//! carried over a connection the execution service opens to that port inside the session,
//! streamed both ways without holding whole bodies.
//!
//! This module is the mechanism only: which session a request is for, and who may use it, is
//! the protocols' business (`crate::e2b::ports` for E2B's host names and paths,
//! `crate::routes::sessions::ports` for our API). What it owns: the caps on connections open
//! at once per session and per tenant, the idle timeout, and the forwarding itself.

mod idle;
mod limits;
mod proxy;
mod target;

use std::time::Duration;

pub use limits::{ConnectionGuard, Connections, Refused};
pub use proxy::{forward, ProxyError, Upstream};
pub use target::{host_target, parse_port, rest_of_path};

/// How the proxy to sessions' ports behaves.
#[derive(Debug, Clone)]
pub struct PortOptions {
    /// The operator's wildcard domain (`*.<domain>` resolves to this daemon): a request whose
    /// host is `{port}-{sandbox id}.<domain>` goes to that port of that E2B sandbox, and the
    /// E2B answers give it as the sandbox's `domain`. `None`: only the path forms route.
    pub domain: Option<String>,
    /// Proxied connections (requests being answered, WebSockets) open at once to one session.
    pub max_per_session: usize,
    /// Proxied connections open at once to all of one tenant's sessions.
    pub max_per_tenant: usize,
    /// How long a proxied connection may carry no byte either way before it is closed.
    pub idle: Duration,
}

impl Default for PortOptions {
    fn default() -> Self {
        PortOptions { domain: None, max_per_session: 64, max_per_tenant: 256, idle: Duration::from_secs(300) }
    }
}

impl PortOptions {
    /// A domain as the operator may write it (`.example.com`, `Example.COM.`): lower case,
    /// without leading or trailing dots; empty is none.
    pub fn with_domain(mut self, domain: &str) -> Self {
        let domain = domain.trim().trim_matches('.').to_ascii_lowercase();
        self.domain = (!domain.is_empty()).then_some(domain);
        self
    }
}

#[cfg(test)]
mod tests;
