//! Sandboxes a zygote builds ahead of their runs. Each is a fork of the zygote whose
//! launcher has made its fresh user, pid, mount, network, IPC, UTS and cgroup namespaces, its
//! own cgroup, root and /tmp, and whose program waits, with nothing of any run in it, for the
//! claim of one run: its workspace (a detached mount), files, environment, stdin, limits and
//! confinement ([`sandbox::Claim`]). The cgroup's limits become the run's at the claim; the
//! program applies the rest itself before the code starts. One run each, then it is gone.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sandbox::runner::{Adjustable, OutputTap, RunError, RunOutput};
use sandbox::zygote::ZygoteLink;
use sandbox::SandboxSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio_util::sync::CancellationToken;

use super::not_taken::{Ahead, BuildError, NotTaken};
use crate::launcher::OutputCap;
use crate::live::LiveSandbox;
use crate::runtime::{self, runtimes_for};
use crate::sandboxes::Sandboxes;
use crate::spec::{self, Shape, SpecParts};
use crate::{deadline, validate, Language, RequestedLimits, Template};

/// How long a fork may take to build its sandbox.
const READY_WAIT: Duration = Duration::from_secs(10);
/// How long a claimed sandbox may take to put its run in place.
const TAKE_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Prebuilt {
    live: LiveSandbox,
    /// Its program waits for the claim on it.
    socket: UnixStream,
    adjust: Arc<Adjustable>,
    shape: Shape,
    pub built: Instant,
}

impl Prebuilt {
    /// Has the zygote of `link` fork a sandbox shaped for its Python runs (of `template`)
    /// and waits until it is built; `token` (the zygote's) ends it with the zygote.
    pub async fn build(service: &Sandboxes, of: ForkSource<'_>) -> Result<Prebuilt, BuildError> {
        let ForkSource { link, token, template } = of;
        let like = typical_run(service, template).await?;
        let shape = Shape::of(&like);
        let spec = spec::prebuilt(&shape, &like);
        let adjust = Adjustable::new(service.config.limits.default_output_bytes);
        let link = Arc::new(link.try_clone().map_err(BuildError::Link)?);
        let output = OutputCap::Adjustable(adjust.clone());
        let token = token.child_token();
        let launcher = service.launcher.clone();
        let started = LiveSandbox::start_forked(launcher, link, spec, Vec::new(), output, token);
        let (mut live, mut socket) = started.map_err(BuildError::Socket)?;
        live.ready(&mut socket, READY_WAIT).await.map_err(BuildError::NotReady)?;
        Ok(Prebuilt { live, socket, adjust, shape, built: Instant::now() })
    }

    /// Whether a run of this shape can claim it.
    pub fn fits(&self, shape: &Shape) -> bool {
        self.shape == *shape
    }

    /// Whether it still waits: its launcher runs and its program has not hung up (it writes
    /// nothing while it waits).
    pub fn alive(&self) -> bool {
        let hung_up = match self.socket.try_read(&mut [0u8; 1]) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        };
        self.live.alive() && !hung_up
    }

    /// Kills it (nothing of a run is in it).
    pub async fn retire(mut self) {
        self.live.kill().await;
    }

    /// Hands it the run of the forked spec `run` with its workspace's detached mount, keeping
    /// `output_cap` bytes of each stream, and awaits the run's end, held to the run's own
    /// timeout from the claim. [`NotTaken`] when it did not take the run: nothing of the run
    /// started, and it may go elsewhere.
    pub async fn serve(
        mut self,
        run: &SandboxSpec,
        mount: OwnedFd,
        claim: Claiming<'_>,
    ) -> Result<RunResult, NotTaken> {
        if let Some(sink) = claim.tap.sink() {
            self.live.tap.set(sink);
        }
        if let Err(why) = self.claim(run, vec![mount], claim.output_cap).await {
            self.give_up();
            return Err(why);
        }
        let claimed = Instant::now();
        let timeout = Duration::from_millis(run.limits.wall_time_ms);
        let (joined, ended) = deadline::race(&mut self.live.task, timeout, claim.cancel, &self.live.cancel).await;
        Ok(match joined {
            Err(e) => Err(RunError::Protocol(format!("pre-built run task failed: {e}"))),
            Ok(Err(e)) => Err(e),
            Ok(Ok(mut output)) => {
                ended.correct(&mut output.report.outcome);
                // The launcher's clock started with the sandbox; the run's starts at the claim.
                output.report.wall_time_ms = claimed.elapsed().as_secs_f64() * 1000.0;
                if run.channel_fd.is_none() {
                    // The sandbox has a channel; a run without one never had it.
                    output.report.channel = None;
                    output.report.channel_truncated = false;
                }
                Ok(output)
            }
        })
    }

    /// Hands it the session interpreter of the forked spec `run`, with its workspace's
    /// detached mount and the program's end of the session socket; returns the sandbox, the
    /// interpreter's from now on (its launcher's clock is the zygote's lifetime; the session
    /// holds it to its own). [`NotTaken`] when it did not take it.
    pub async fn serve_session(
        mut self,
        run: &SandboxSpec,
        mount: OwnedFd,
        session: OwnedFd,
        output_cap: u64,
    ) -> Result<LiveSandbox, NotTaken> {
        match self.claim(run, vec![session, mount], output_cap).await {
            Ok(()) => Ok(self.live),
            Err(why) => {
                self.give_up();
                Err(why)
            }
        }
    }

    /// Kills one that will not serve a run.
    pub fn give_up(self) {
        self.live.cancel.cancel();
    }

    /// Gives its cgroup the run's limits and sends the claim with `handed` (see
    /// [`sandbox::Claim`]); `Ok` once the program has the run in place.
    async fn claim(&mut self, run: &SandboxSpec, handed: Vec<OwnedFd>, output_cap: u64) -> Result<(), NotTaken> {
        self.adjust.apply_cgroup(&run.limits, output_cap)?;
        let payload = serde_json::to_vec(&spec::claim_of(run))?;
        match tokio::time::timeout(TAKE_WAIT, self.hand_over(&payload, handed)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NotTaken::Refused(Ahead::PreBuilt, e)),
            Err(_) => Err(NotTaken::Late(Ahead::PreBuilt)),
        }
    }

    /// Sends the claim (`handed` with its first byte); only a program that answers has it.
    async fn hand_over(&mut self, payload: &[u8], handed: Vec<OwnedFd>) -> std::io::Result<()> {
        // One byte into the socket's empty buffer never waits.
        let fds: Vec<_> = handed.iter().map(|fd| fd.as_fd()).collect();
        let sent = sandbox::handoff::send(self.socket.as_fd(), &payload[..1], &fds)?;
        drop(handed);
        self.socket.write_all(&payload[sent..]).await?;
        self.socket.shutdown().await?;
        let mut taken = [0u8; sandbox::init::CLAIM_TAKEN.len()];
        self.socket.read_exact(&mut taken).await?;
        match &taken == sandbox::init::CLAIM_TAKEN {
            true => Ok(()),
            false => Err(std::io::Error::other("it answered something else than taken")),
        }
    }
}

/// What of a zygote its sandboxes built ahead are made with.
pub(crate) struct ForkSource<'a> {
    pub link: &'a ZygoteLink,
    pub token: &'a CancellationToken,
    pub template: Option<&'a Template>,
}

/// What a claim needs besides the run's spec and workspace.
pub(crate) struct Claiming<'a> {
    pub output_cap: u64,
    pub tap: &'a OutputTap,
    pub cancel: &'a CancellationToken,
}

pub(crate) type RunResult = Result<RunOutput, RunError>;

/// The forked spec of a plain Python run of `template`: what its sandboxes are shaped for.
async fn typical_run(service: &Sandboxes, template: Option<&Template>) -> Result<SandboxSpec, BuildError> {
    let environment = match template {
        Some(template) => Some(service.templates.prepare(template).await?),
        None => None,
    };
    let runtimes = runtimes_for(&service.config, environment.as_ref());
    let policy = &service.config.limits;
    let limits = validate::limits_with_template(RequestedLimits::default(), template, policy);
    let parts = SpecParts {
        launch: runtime::launch(Language::Python, &runtimes, "", "", ""),
        environment: environment.as_ref(),
        workspace: std::path::Path::new(crate::spec::rootfs::WORKSPACE),
        env_vars: &Default::default(),
        limits: &limits,
        wall_time_ms: (policy.default_timeout_secs * 1000.0) as u64,
        stdin: String::new(),
    };
    Ok(spec::forked(spec::sandbox_spec(&service.config, &service.cgroups, parts), false))
}
