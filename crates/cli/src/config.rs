//! Configuration: raw flags and environment variables first, validated into an
//! [`ExecutorConfig`] second.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use executor::{ExecutorConfig, LimitPolicy, RuntimePaths, TemplateConfig};

pub use crate::session_args::SessionArgs;

// Flag defaults are the executor's own defaults, written once there.
const MIB: u64 = 1024 * 1024;

fn limits() -> LimitPolicy {
    LimitPolicy::default()
}

/// Settings shared by every command that runs code.
#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Host directory for workspaces.
    #[arg(long, env = "WORKSPACE_PATH")]
    pub workspace_path: Option<PathBuf>,
    /// Unprivileged host uid the sandbox user (uid 1000 inside) maps to when the daemon is root.
    #[arg(long, env = "SANDBOX_HOST_UID", default_value_t = 100000)]
    pub sandbox_host_uid: u32,
    /// Unprivileged host gid the sandbox group (gid 1000 inside) maps to when the daemon is root.
    #[arg(long, env = "SANDBOX_HOST_GID", default_value_t = 100000)]
    pub sandbox_host_gid: u32,
    /// Python interpreter used inside the sandbox.
    #[arg(long, env = "SANDBOX_PYTHON", default_value = "/usr/bin/python3")]
    pub python: PathBuf,
    /// Node.js used inside the sandbox.
    #[arg(long, env = "SANDBOX_NODE", default_value = "/usr/bin/node")]
    pub node: PathBuf,
    /// Bash used inside the sandbox.
    #[arg(long, env = "SANDBOX_BASH", default_value = "/bin/bash")]
    pub bash: PathBuf,
    /// Memory of a run when a request names none (MiB).
    #[arg(long, env = "SANDBOX_DEFAULT_MEMORY_MB", default_value_t = limits().default_memory_mb)]
    pub default_memory_mb: u64,
    /// Largest memory a request may ask for (MiB).
    #[arg(long, env = "SANDBOX_MAX_MEMORY_MB", default_value_t = limits().max_memory_mb)]
    pub max_memory_mb: u64,
    /// Bytes kept of each output stream when a request names no limit.
    #[arg(long, env = "SANDBOX_MAX_OUTPUT_BYTES", default_value_t = limits().default_output_bytes)]
    pub default_output_bytes: u64,
    /// Size cap of each workspace (MiB).
    #[arg(long, env = "SANDBOX_WORKSPACE_MB", default_value_t = limits().workspace_bytes / MIB)]
    pub workspace_mb: u64,
    /// Size cap of each sandbox's /tmp (MiB).
    #[arg(long, env = "SANDBOX_TMP_MB", default_value_t = limits().tmp_bytes / MIB)]
    pub tmp_mb: u64,
    /// Largest file accepted in a request's `files` or uploaded into a session (MiB).
    #[arg(long, env = "SANDBOX_MAX_FILE_MB", default_value_t = limits().max_file_bytes / MIB)]
    pub max_file_mb: u64,
    /// Largest `code` accepted (bytes).
    #[arg(long, env = "SANDBOX_MAX_CODE_BYTES", default_value_t = limits().max_code_bytes)]
    pub max_code_bytes: u64,
    /// Where template environments are built, and custom templates kept
    /// (default: <state dir>/templates).
    #[arg(long, env = "SANDBOX_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,
    /// The package cache every template build shares (default: <state dir>/cache).
    #[arg(long, env = "SANDBOX_PACKAGE_CACHE_DIR")]
    pub package_cache_dir: Option<PathBuf>,
    /// A TOML file of templates (`[[template]]` tables) besides the built-in ones.
    #[arg(long, env = "SANDBOX_TEMPLATES_FILE")]
    pub templates_file: Option<PathBuf>,
    /// Isolation layers without which the daemon refuses to start (comma-separated layer
    /// names as `check` lists them, or the groups namespaces, memory, pids, cpu, cgroups;
    /// `none` requires nothing).
    #[arg(long, env = "SANDBOX_REQUIRE", value_delimiter = ',', default_value = "namespaces,seccomp,memory,pids")]
    pub require: Vec<String>,
    /// Give runs the seccomp filter where the host supports it (`false` turns it off).
    #[arg(long, env = "SANDBOX_SECCOMP", default_value_t = true, action = clap::ArgAction::Set)]
    pub seccomp: bool,
    /// Give runs Landlock rules where the host supports them (`false` turns them off).
    #[arg(long, env = "SANDBOX_LANDLOCK", default_value_t = true, action = clap::ArgAction::Set)]
    pub landlock: bool,
    /// Cgroup (a path from the root of each cgroup hierarchy) under which every run gets its
    /// own cgroup. Default: v2 `<the daemon's cgroup>/sandbox-executor`, v1 `/sandbox-executor`.
    #[arg(long, env = "SANDBOX_CGROUP_PARENT")]
    pub cgroup_parent: Option<String>,
    /// CPUs each run may use at most (a CFS quota; fractions allowed); 0 for no quota.
    #[arg(long, env = "SANDBOX_CPU_QUOTA", default_value_t = 1.0)]
    pub cpu_quota: f64,
    #[command(flatten)]
    pub egress: crate::egress_args::EgressArgs,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[arg(long, env = "EXECUTOR_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    #[arg(long, env = "EXECUTOR_PORT", default_value_t = 8080)]
    pub port: u16,
    /// trace, debug, info, warn (or WARNING), error.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// json (one object per line) or text.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    pub log_format: String,
    /// Directory of the execution store (and, by default, the workspaces).
    #[arg(long, env = "STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Largest request body accepted (bytes).
    #[arg(long, env = "EXECUTOR_MAX_BODY_BYTES", default_value_t = 80 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Executions running at once (default: 4 per CPU, at least 4).
    #[arg(long, env = "EXECUTOR_MAX_CONCURRENT")]
    pub max_concurrent: Option<usize>,
    /// Executions waiting for a turn; beyond this, requests get 503 Executor.QueueFull.
    #[arg(long, env = "EXECUTOR_MAX_QUEUE", default_value_t = executor::ServiceOptions::default().max_queued)]
    pub max_queue: usize,
    /// On SIGTERM, how long running executions may go on before they are killed (seconds).
    #[arg(long, env = "EXECUTOR_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    /// How long finished executions stay readable with GET /executions/{id} (seconds).
    #[arg(long, env = "RESULT_RETENTION_SECS", default_value_t = 86400)]
    pub result_retention_secs: u64,
    /// Token every endpoint but /health requires (as a bearer token or X-API-Key).
    #[arg(long, env = "EXECUTOR_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Listen on a non-loopback address without an API token.
    #[arg(long, env = "EXECUTOR_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
    /// The template of NVIDIA-dialect (`generated_code`) requests that name none; an empty
    /// value runs them with the system interpreter.
    #[arg(long, env = "NVIDIA_TEMPLATE", default_value = "python-data")]
    pub nvidia_template: String,
    /// Pre-started sandboxes kept ready per language and template (the warm path); 0 turns
    /// the warm path off.
    #[arg(long, env = "SANDBOX_WARM_POOL", default_value_t = 2)]
    pub warm_pool: usize,
    /// Sandboxes each Python zygote builds ahead of their runs (fresh namespaces, root, /tmp
    /// and cgroup, waiting for the run that claims them); 0: every forked run builds its own.
    #[arg(long, env = "SANDBOX_WARM_PREBUILT", default_value_t = 2)]
    pub warm_prebuilt: usize,
    /// Seconds an idle pre-started sandbox is kept before it is replaced by a fresh one.
    #[arg(long, env = "SANDBOX_WARM_MAX_IDLE_SECS", default_value_t = 60)]
    pub warm_max_idle_secs: u64,
    /// Templates kept warm at once (the most recently used), besides the system interpreters.
    #[arg(long, env = "SANDBOX_WARM_TEMPLATES", default_value_t = 2)]
    pub warm_templates: usize,
    /// The shared library Python zygotes fork runs with (built as libsandbox_zygote.so);
    /// by default found next to this program or in ../lib/sandbox-executor. `off` turns
    /// forking off: Python runs then use pre-started sandboxes.
    #[arg(long, env = "SANDBOX_ZYGOTE_LIB")]
    pub zygote_lib: Option<PathBuf>,
    /// Web origins (comma-separated `scheme://host[:port]`) whose pages may call the API
    /// from a browser; none by default: no CORS headers at all.
    #[arg(long, env = "EXECUTOR_CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,
    #[command(flatten)]
    pub peers: crate::peer_args::PeerArgs,
    #[command(flatten)]
    pub ports: crate::port_args::PortArgs,
    #[command(flatten)]
    pub sessions: SessionArgs,
    #[command(flatten)]
    pub control_plane: ControlPlaneArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// Where results go besides the caller; without a URL the daemon runs standalone.
#[derive(Args, Debug, Clone)]
pub struct ControlPlaneArgs {
    /// Control plane base URL for result callbacks, heartbeats and lifecycle events.
    #[arg(long, env = "CONTROL_PLANE_URL")]
    pub control_plane_url: Option<String>,
    /// Bearer token for control plane callbacks.
    #[arg(long, env = "INTERNAL_API_TOKEN", hide_env_values = true)]
    pub internal_api_token: Option<String>,
    /// Path of the internal API under the control plane URL.
    #[arg(long, env = "CALLBACK_BASE_PATH", default_value = "/api/v1/internal")]
    pub callback_base_path: String,
    /// Seconds between heartbeats of a running execution.
    #[arg(long, env = "HEARTBEAT_INTERVAL_SECS", default_value_t = 5.0)]
    pub heartbeat_interval_secs: f64,
    /// A result not delivered after this many seconds is dead-lettered.
    #[arg(long, env = "DELIVERY_MAX_AGE_SECS", default_value_t = 86400)]
    pub delivery_max_age_secs: u64,
    /// Longest wait between two delivery attempts (seconds).
    #[arg(long, env = "DELIVERY_BACKOFF_MAX_SECS", default_value_t = 60.0)]
    pub delivery_backoff_max_secs: f64,
    /// Where results wait as JSON files while the control plane is unreachable.
    #[arg(long, env = "RESULTS_FALLBACK_DIR", default_value = "/tmp/results")]
    pub results_fallback_dir: PathBuf,
}

impl ControlPlaneArgs {
    /// The control plane's URL; unset or empty (a compose file's `${CONTROL_PLANE_URL:-}`):
    /// standalone.
    pub fn url(&self) -> Option<&str> {
        self.control_plane_url.as_deref().map(str::trim).filter(|url| !url.is_empty())
    }
}

impl ServeArgs {
    /// The web origins allowed to call the API from a browser.
    pub fn cors_origins(&self) -> anyhow::Result<Vec<server::cors::Origin>> {
        server::cors::parse_origins(&self.cors_origins).map_err(|e| anyhow::anyhow!("--cors-origins: {e}"))
    }

    /// The zygote library: as configured (empty: none), or found beside this program.
    pub fn zygote_library(&self) -> Option<PathBuf> {
        const NAME: &str = "libsandbox_zygote.so";
        if let Some(path) = &self.zygote_lib {
            return (path.as_os_str() != "off").then(|| path.clone());
        }
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        [dir.join(NAME), dir.join("../lib/sandbox-executor").join(NAME)].into_iter().find(|p| p.is_file())
    }

    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The API token: EXECUTOR_API_TOKEN, or the seed's EXECUTOR_API_KEY.
    pub fn api_token(&self) -> Option<String> {
        self.api_token.clone().or_else(|| std::env::var("EXECUTOR_API_KEY").ok()).filter(|t| !t.is_empty())
    }

    /// Refuses to serve an open API beyond this machine unless told to.
    pub fn check_exposure(&self) -> anyhow::Result<()> {
        if !self.host.is_loopback() && self.api_token().is_none() && !self.allow_unauthenticated {
            bail!(
                "refusing to listen on {} without an API token: set EXECUTOR_API_TOKEN, or pass --allow-unauthenticated",
                self.host
            );
        }
        Ok(())
    }

    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }
}

/// Variables the daemon reads besides its flags' `env` (docs/configuration.md documents
/// them all; a test holds both lists to the code and the document).
#[cfg(test)]
pub const READ_DIRECTLY: &[&str] = &["EXECUTOR_API_KEY", "STATE_DIR", "CONTAINER_ID", "POD_NAME"];

/// The state directory of commands without a `--state-dir` flag: `STATE_DIR`, or the default.
pub fn state_dir_from_env() -> PathBuf {
    std::env::var_os("STATE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(default_state_dir)
}

/// Where state lives when nothing says otherwise.
pub fn default_state_dir() -> PathBuf {
    if sandbox::host::is_root() {
        PathBuf::from("/var/lib/sandbox-executor")
    } else {
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")));
        base.unwrap_or_else(std::env::temp_dir).join("sandbox-executor")
    }
}

impl SandboxArgs {
    /// A workspace root of this process alone, for one-shot commands: a running daemon's
    /// workspaces (which a new service would clear as leftovers) are never touched.
    pub fn private_root(&self, command: &str) -> PathBuf {
        let base = self.workspace_path.clone().unwrap_or_else(default_state_dir);
        base.join(format!("{command}-{}", std::process::id()))
    }

    /// Where templates are built and cached, by default under `state_dir`.
    pub fn template_config(&self, state_dir: &std::path::Path) -> TemplateConfig {
        let defaults = TemplateConfig::under(state_dir);
        TemplateConfig {
            dir: self.templates_dir.clone().unwrap_or(defaults.dir),
            cache_dir: self.package_cache_dir.clone().unwrap_or(defaults.cache_dir),
            file: self.templates_file.clone(),
        }
    }

    /// Validates the raw settings into the executor's configuration; templates live under
    /// `state_dir` unless configured elsewhere.
    pub fn into_config(self, workspace_root: PathBuf, state_dir: &std::path::Path) -> anyhow::Result<ExecutorConfig> {
        if self.sandbox_host_uid == 0 || self.sandbox_host_gid == 0 {
            bail!("--sandbox-host-uid and --sandbox-host-gid must not be 0 (root)");
        }
        for (name, path) in [("python", &self.python), ("node", &self.node), ("bash", &self.bash)] {
            if !path.is_absolute() {
                bail!("--{name} must be an absolute path, got {}", path.display());
            }
        }
        if self.default_memory_mb == 0 || self.default_memory_mb > self.max_memory_mb {
            bail!("--default-memory-mb must be between 1 and --max-memory-mb ({})", self.max_memory_mb);
        }
        if !self.cpu_quota.is_finite() || self.cpu_quota < 0.0 {
            bail!("--cpu-quota must be a number of CPUs, 0 or more, got {}", self.cpu_quota);
        }
        let cgroup_parent = self.cgroup_parent.clone().filter(|p| !p.is_empty());
        if cgroup_parent.as_deref().is_some_and(|p| !p.starts_with('/') || p.split('/').any(|c| c == "..")) {
            bail!("--cgroup-parent must be an absolute cgroup path without `..`, such as /sandbox-executor");
        }
        const MIB: u64 = 1024 * 1024;
        let templates = self.template_config(state_dir);
        let base = LimitPolicy::default();
        let limits = LimitPolicy {
            default_memory_mb: self.default_memory_mb,
            max_memory_mb: self.max_memory_mb,
            default_output_bytes: self.default_output_bytes,
            max_output_bytes: base.max_output_bytes.max(self.default_output_bytes),
            workspace_bytes: self.workspace_mb.max(1) * MIB,
            tmp_bytes: self.tmp_mb.max(1) * MIB,
            max_code_bytes: self.max_code_bytes,
            max_file_bytes: self.max_file_mb.max(1) * MIB,
            ..base
        };
        Ok(ExecutorConfig {
            workspace_root,
            init_exe: std::env::current_exe().context("cannot find this program's own executable")?,
            runtimes: RuntimePaths { python: self.python, node: self.node, bash: self.bash },
            identity: sandbox::Identity {
                uid: 1000,
                gid: 1000,
                host_uid: self.sandbox_host_uid,
                host_gid: self.sandbox_host_gid,
            },
            limits,
            templates,
            required_layers: self.require,
            confinement: executor::ConfinementLayers::probed(self.seccomp, self.landlock),
            cgroups: sandbox::cgroup::CgroupConfig { parent: cgroup_parent, cpu_quota: self.cpu_quota },
            egress: self.egress.into_config(state_dir)?,
        })
    }
}
