//! The egress settings: whether runs may have network through their door, the most a policy
//! may allow, private destinations, the per-run limits, and a name map for tests.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use executor::egress::{
    ca_bundle, Destination, EgressConfig, DEFAULT_MAX_OPEN, DEFAULT_MAX_OPEN_PER_RUN, HOST_CA_BUNDLE,
};

fn defaults() -> EgressConfig {
    EgressConfig::default()
}

#[derive(Args, Debug, Clone)]
pub struct EgressArgs {
    /// Let runs, sessions and templates that ask for it reach the destinations their egress
    /// policy lists, through the proxy (`false`: every policy is refused).
    #[arg(long = "egress", env = "EGRESS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,
    /// The most any policy may allow: comma-separated destinations (host, *.suffix, each with
    /// an optional :port; without one, 80 and 443) a policy's must each be within.
    /// Default: any host name.
    #[arg(long, env = "EGRESS_ALLOW", value_delimiter = ',')]
    pub egress_allow: Vec<String>,
    /// Let the proxy connect to loopback, private and other non-public addresses (never to
    /// link-local or metadata addresses, nor to this daemon's own API).
    #[arg(long, env = "EGRESS_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub egress_allow_private: bool,
    /// Names the proxy resolves itself instead of asking DNS: comma-separated name=address.
    #[arg(long, env = "EGRESS_HOSTS", value_delimiter = ',')]
    pub egress_hosts: Vec<String>,
    /// Bytes (both ways) a run may move through its door before it is stopped.
    #[arg(long, env = "EGRESS_MAX_BYTES", default_value_t = defaults().max_bytes)]
    pub egress_max_bytes: u64,
    /// Connections a run may open through its door before it is stopped.
    #[arg(long, env = "EGRESS_MAX_CONNECTIONS", default_value_t = defaults().max_connections)]
    pub egress_max_connections: u64,
    /// A PEM file of CA certificates sandboxes trust besides the host's bundle (a corporate
    /// proxy's, a private package index's): appended to it at start, in the state directory.
    #[arg(long, env = "SANDBOX_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// Connections a run may have open at once through its door; one more is refused (429)
    /// and the run goes on.
    #[arg(long, env = "EGRESS_MAX_OPEN_PER_RUN", default_value_t = DEFAULT_MAX_OPEN_PER_RUN)]
    pub egress_max_open_per_run: u64,
    /// Connections all runs together may have open at once; one more is refused (503).
    /// Default: 1024, or a quarter of the daemon's descriptor limit when that is less (each
    /// open connection holds two descriptors).
    #[arg(long, env = "EGRESS_MAX_OPEN")]
    pub egress_max_open: Option<u64>,
}

/// The daemon-wide limit of open egress connections when none is configured: at most half
/// of the daemon's descriptors go to them (two each).
fn default_max_open() -> u64 {
    let soft = sandbox::host::open_files_limit().map_or(u64::MAX, |(soft, _)| soft);
    DEFAULT_MAX_OPEN.min(soft / 4).max(1)
}

impl EgressArgs {
    /// The configuration; a CA file added by the operator is combined with the host's bundle
    /// into `state_dir`.
    pub fn into_config(self, state_dir: &Path) -> anyhow::Result<Arc<EgressConfig>> {
        let allow = self.egress_allow.iter().map(|s| s.trim()).filter(|s| !s.is_empty());
        let cap = allow
            .map(|d| Destination::parse(d).map_err(|why| anyhow::anyhow!("--egress-allow: {why}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut hosts = BTreeMap::new();
        for entry in self.egress_hosts.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let Some((name, address)) = entry.split_once('=') else { bail!("--egress-hosts takes name=address") };
            let address: IpAddr =
                address.trim().parse().with_context(|| format!("--egress-hosts: {address:?} is not an address"))?;
            hosts.insert(name.trim().trim_end_matches('.').to_ascii_lowercase(), address);
        }
        let extra = self.extra_ca_file.as_deref().filter(|p| !p.as_os_str().is_empty());
        let ca_bundle = ca_bundle(Path::new(HOST_CA_BUNDLE), extra, state_dir)
            .map_err(|why| anyhow::anyhow!("--extra-ca-file: {why}"))?;
        Ok(Arc::new(EgressConfig {
            enabled: self.enabled,
            cap: (!cap.is_empty()).then_some(cap),
            allow_private: self.egress_allow_private,
            hosts,
            max_bytes: self.egress_max_bytes,
            max_connections: self.egress_max_connections,
            ca_bundle,
            max_open_per_run: self.egress_max_open_per_run,
            max_open: self.egress_max_open.unwrap_or_else(default_max_open),
            ..defaults()
        }))
    }
}
