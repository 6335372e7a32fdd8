//! The proxy to servers listening in sessions: the operator's wildcard domain for E2B's
//! `get_host(port)`, and the bounds of proxied connections.

use std::time::Duration;

use clap::Args;
use server::ports::PortOptions;

fn defaults() -> PortOptions {
    PortOptions::default()
}

#[derive(Args, Debug, Clone)]
pub struct PortArgs {
    /// The wildcard domain pointing at this daemon (`*.<domain>`): E2B's `get_host(port)` is
    /// `{port}-{sandbox id}.<domain>`, and such a request reaches that port in the sandbox.
    /// Empty: no host names (the path forms still route).
    #[arg(long, env = "EXECUTOR_E2B_DOMAIN", default_value = "")]
    pub e2b_domain: String,
    /// Proxied connections open at once to one session's ports; beyond, 429.
    #[arg(long, env = "EXECUTOR_PORT_MAX_CONNECTIONS", default_value_t = defaults().max_per_session)]
    pub port_max_connections: usize,
    /// Proxied connections open at once to all of one tenant's sessions; beyond, 429.
    #[arg(long, env = "EXECUTOR_PORT_MAX_CONNECTIONS_PER_TENANT", default_value_t = defaults().max_per_tenant)]
    pub port_max_connections_per_tenant: usize,
    /// Seconds a proxied connection may carry no byte either way before it is closed.
    #[arg(long, env = "EXECUTOR_PORT_IDLE_SECS", default_value_t = defaults().idle.as_secs())]
    pub port_idle_secs: u64,
}

impl PortArgs {
    pub fn options(&self) -> PortOptions {
        PortOptions {
            max_per_session: self.port_max_connections,
            max_per_tenant: self.port_max_connections_per_tenant,
            idle: Duration::from_secs(self.port_idle_secs.max(1)),
            domain: None,
        }
        .with_domain(&self.e2b_domain)
    }
}
