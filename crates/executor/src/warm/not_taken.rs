//! Why a sandbox started or built ahead of its run did not take it: nothing of the run
//! started, and the run may go elsewhere (another sandbox, a fork, or cold).

use std::fmt;

use sandbox::runner::AdjustError;

/// Which kind of sandbox made ahead of its run refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ahead {
    /// Started by the pool, its driver waiting for the run.
    PreStarted,
    /// Built by a zygote, its program waiting for the claim.
    PreBuilt,
}

impl fmt::Display for Ahead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ahead::PreStarted => "pre-started",
            Ahead::PreBuilt => "pre-built",
        })
    }
}

/// The run was not taken, and why.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotTaken {
    /// The run's limits cannot be applied to the sandbox: the other ready sandboxes of its
    /// pool were started alike, so the run goes cold.
    #[error("the run's limits cannot be applied: {0}")]
    Limits(#[from] AdjustError),
    /// The sandbox ended while it waited.
    #[error("the {0} sandbox had ended")]
    Ended(Ahead),
    /// The claim could not be written.
    #[error("claim: {0}")]
    Claim(#[from] serde_json::Error),
    /// Handing the run over failed, or the sandbox answered something else than taken.
    #[error("the {0} sandbox did not take the run: {1}")]
    Refused(Ahead, std::io::Error),
    /// The sandbox did not say it had the run in time.
    #[error("the {0} sandbox did not take the run in time")]
    Late(Ahead),
}

impl NotTaken {
    /// Whether every sandbox of the pool would refuse it alike (the run should go cold).
    pub(crate) fn refuses_limits(&self) -> bool {
        matches!(self, NotTaken::Limits(_))
    }
}

/// Why a zygote could not build a sandbox ahead of its runs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    #[error(transparent)]
    Template(#[from] crate::templates::TemplateError),
    #[error("zygote link: {0}")]
    Link(std::io::Error),
    #[error("claim socket: {0}")]
    Socket(std::io::Error),
    /// Its program did not get ready (why, with what its sandbox reported).
    #[error("{0}")]
    NotReady(String),
}
