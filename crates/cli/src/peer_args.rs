//! Daemons as peers behind one Service: this daemon's name, how to reach a peer by its name,
//! and the limits of the calls forwarded to a peer.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use server::peers::{PeerLimits, Peers};

const MIB: usize = 1024 * 1024;

fn limits() -> PeerLimits {
    PeerLimits::default()
}

#[derive(Args, Debug, Clone)]
pub struct PeerArgs {
    /// This daemon's name among peers (a DNS label; in Kubernetes, its pod's name): the ids
    /// it hands out start with it. Set with --peer-url.
    #[arg(long, env = "EXECUTOR_NODE", requires = "peer_url")]
    pub node_name: Option<String>,
    /// How to reach a peer by its name: an http(s) URL with `{node}` in it, e.g.
    /// `http://{node}.sandbox-executor-peers:8080`. A call for an id a peer handed out is
    /// forwarded there. Set with --node-name.
    #[arg(long, env = "EXECUTOR_PEER_URL", requires = "node_name")]
    pub peer_url: Option<String>,
    /// How long a peer may be silent (seconds): a forwarded call's answer, or while a long call
    /// runs the peer's answer to a health probe, must come within it; else 503.
    #[arg(long, env = "EXECUTOR_PEER_TIMEOUT_SECS", default_value_t = limits().answer_wait.as_secs())]
    pub peer_timeout_secs: u64,
    /// How long a streamed answer relayed from a peer may go without a byte (seconds; the peer
    /// sends a keep-alive every 15 s).
    #[arg(long, env = "EXECUTOR_PEER_STREAM_IDLE_SECS", default_value_t = limits().stream_idle.as_secs())]
    pub peer_stream_idle_secs: u64,
    /// Forwarded calls in flight to one peer at once; beyond, 503.
    #[arg(long, env = "EXECUTOR_PEER_MAX_IN_FLIGHT", default_value_t = limits().max_in_flight)]
    pub peer_max_in_flight: usize,
    /// The largest plain answer relayed from a peer (MiB); beyond, 502.
    #[arg(long, env = "EXECUTOR_PEER_MAX_ANSWER_MB", default_value_t = limits().max_answer_bytes / MIB)]
    pub peer_max_answer_mb: usize,
}

impl PeerArgs {
    /// The peers of `--node-name` and `--peer-url`, when both are set.
    pub fn peers(&self) -> anyhow::Result<Option<Arc<Peers>>> {
        let (Some(node), Some(url)) = (&self.node_name, &self.peer_url) else { return Ok(None) };
        let limits = PeerLimits {
            answer_wait: Duration::from_secs(self.peer_timeout_secs),
            stream_idle: Duration::from_secs(self.peer_stream_idle_secs),
            max_in_flight: self.peer_max_in_flight,
            max_answer_bytes: self.peer_max_answer_mb.saturating_mul(MIB),
        };
        let peers =
            Peers::new(node, url, limits).map_err(|e| anyhow::anyhow!("peers (--node-name, --peer-url): {e}"))?;
        Ok(Some(Arc::new(peers)))
    }
}
