//! Egress on purpose: a run with a policy gets one door out of its empty network namespace
//! (see [`sandbox::EgressDoor`]), and this is the daemon's side of it: an HTTP proxy that
//! reads where each connection wants to go, checks the run's policy and the operator's
//! configuration, resolves the name itself, refuses non-public addresses unless allowed,
//! connects and relays bytes, counting every attempt and byte against the run's limits.

mod address;
mod config;
mod ledger;
mod open;
mod policy;
mod proxy;
mod report;
mod request;
#[cfg(test)]
mod tests;
mod trust;

use std::os::fd::OwnedFd;
use std::sync::Arc;

use sandbox::egress::{Connections, Received};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{EgressConfig, NotPermitted, OpenConnections, DEFAULT_MAX_OPEN, DEFAULT_MAX_OPEN_PER_RUN, DOOR_PORT};
pub use policy::{
    check_host_name, AddressRange, Destination, EgressPolicy, HostPattern, PolicyError, MAX_DESTINATIONS,
    MAX_DESTINATION_LEN, WEB_PORTS,
};
pub use report::{EgressInfo, NetworkAttempt, NetworkReport};
pub(crate) use trust::variables as ca_variables;
pub use trust::{ca_bundle, HOST_CA_BUNDLE, SANDBOX_CA_BUNDLE};

use ledger::Ledger;

/// What every connection of one run's door shares.
struct RunDoor {
    policy: EgressPolicy,
    config: Arc<EgressConfig>,
    ledger: Ledger,
    /// The run's connections open now.
    open: OpenConnections,
    /// Cancelled when the run passes a limit (the run's kill).
    cut: CancellationToken,
}

/// A run's open door, daemon side. Closing it ends every connection still relayed.
pub struct Door {
    run: Arc<RunDoor>,
    task: tokio::task::JoinHandle<()>,
}

impl Door {
    /// Opens a door for `policy`: returns it and the socket that goes to the launcher with
    /// the spec. `cut` is cancelled (stopping the run) when the run passes a limit.
    pub fn open(
        policy: &EgressPolicy,
        config: Arc<EgressConfig>,
        execution_id: &str,
        cut: CancellationToken,
    ) -> std::io::Result<(Door, OwnedFd)> {
        let (ours, theirs) = sandbox::egress::pair()?;
        let ledger =
            Ledger::new(policy.describe(), config.max_bytes, config.max_connections, cut.clone(), execution_id);
        let run = Arc::new(RunDoor { policy: policy.clone(), config, ledger, open: OpenConnections::default(), cut });
        let socket = Connections::new(ours)?;
        let task = tokio::spawn(accept(socket, run.clone()));
        Ok((Door { run, task }, theirs))
    }

    /// Where the list of attempts is now: [`Door::since`] it gives what came after.
    pub fn mark(&self) -> usize {
        self.run.ledger.report().attempts.len()
    }

    /// The attempts since `mark` and their bytes (a session's cell, on its interpreter's
    /// door); the limit, if one was passed, is the door's.
    pub fn since(&self, mark: usize) -> NetworkReport {
        let mut report = self.run.ledger.report();
        report.attempts.drain(..mark.min(report.attempts.len()));
        report.connections = report.attempts.len() as u64;
        report.bytes_sent = report.attempts.iter().map(|a| a.bytes_sent).sum();
        report.bytes_received = report.attempts.iter().map(|a| a.bytes_received).sum();
        report
    }

    /// Closes the door (every connection with it) and says what went through it.
    pub fn close(self) -> NetworkReport {
        self.task.abort();
        self.run.ledger.report()
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Takes each connection the launcher hands over and serves it in a task of its own; the
/// tasks end with this one.
async fn accept(socket: Connections, run: Arc<RunDoor>) {
    let mut connections = JoinSet::new();
    while let Some(received) = socket.next().await {
        match received {
            Received::Connection(fd) => match client(fd) {
                Ok(stream) => {
                    connections.spawn(proxy::serve(stream, run.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "a connection from a run's door was not a TCP socket"),
            },
            Received::Lost(e) => proxy::lost(&run, &e),
            Received::Nothing | Received::Closed => {}
        }
        while connections.try_join_next().is_some() {}
    }
    // The launcher is gone; what was relayed ends with the run.
    while connections.join_next().await.is_some() {}
}

fn client(fd: OwnedFd) -> std::io::Result<tokio::net::TcpStream> {
    let stream = std::net::TcpStream::from(fd);
    stream.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(stream)
}
