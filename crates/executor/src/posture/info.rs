//! What `GET /info` reports about this host: its platform, interpreters and isolation layers.

use serde::Serialize;
use utoipa::ToSchema;

use crate::{Language, LimitPolicy, RuntimePaths};

/// What `GET /info` reports about this host and the sandbox in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostInfo {
    pub version: String,
    pub platform: Platform,
    pub isolation: Isolation,
    pub languages: Vec<LanguageInfo>,
    pub limits: LimitPolicy,
    /// Names of the templates runs may ask for (`GET /templates` has the details).
    pub templates: Vec<String>,
    /// The pre-started sandboxes that serve runs warm.
    pub warm: crate::WarmInfo,
    /// Whether runs may have network through an egress policy, and how it is enforced.
    pub egress: crate::egress::EgressInfo,
    /// The daemon's own limit of open descriptors, as in force now (`null` if unknown).
    pub daemon_open_files: Option<OpenFilesLimit>,
}

/// The daemon's limit of open descriptors (`RLIMIT_NOFILE`). At start the daemon raises its
/// soft limit to the hard one; the hard one is the service manager's (`LimitNOFILE`).
#[derive(Debug, Clone, Copy, Serialize, ToSchema, PartialEq, Eq)]
pub struct OpenFilesLimit {
    /// The limit in force: past it, opening a descriptor fails.
    pub soft: u64,
    /// The most the soft limit may be raised to.
    pub hard: u64,
}

impl OpenFilesLimit {
    pub fn now() -> Option<OpenFilesLimit> {
        sandbox::host::open_files_limit().ok().map(|(soft, hard)| OpenFilesLimit { soft, hard })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub kernel: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Isolation {
    /// How runs are isolated: `linux-namespaces`.
    pub mechanism: String,
    /// Every layer, in force or not, with why.
    pub layers: Vec<Layer>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Layer {
    pub name: String,
    pub active: bool,
    pub detail: String,
    /// The daemon is configured to refuse to run without this layer.
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LanguageInfo {
    pub language: crate::Language,
    pub interpreter: String,
    /// The interpreter's own version string, or null when it is missing.
    pub version: Option<String>,
}

impl Platform {
    pub fn of_this_host() -> Platform {
        Platform {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            kernel: sandbox::host::kernel_release(),
        }
    }
}

/// Each language's interpreter and its version, asked of the interpreter itself.
pub async fn interpreters(runtimes: &RuntimePaths) -> Vec<LanguageInfo> {
    let mut found = Vec::new();
    for (language, path) in [
        (Language::Python, &runtimes.python),
        (Language::Javascript, &runtimes.node),
        (Language::Shell, &runtimes.bash),
    ] {
        let output = tokio::process::Command::new(path).arg("--version").env_clear().output().await;
        let version = output.ok().filter(|o| o.status.success()).and_then(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().map(|l| l.trim().to_string())
        });
        found.push(LanguageInfo { language, interpreter: path.display().to_string(), version });
    }
    found
}
