//! The service's configuration: where things live, who the sandbox runs as, and the limits.

use std::path::PathBuf;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Host directory holding one directory per workspace.
    pub workspace_root: PathBuf,
    /// The binary that becomes the sandbox's init child (this daemon's own executable).
    pub init_exe: PathBuf,
    pub runtimes: RuntimePaths,
    pub identity: sandbox::Identity,
    pub limits: LimitPolicy,
    pub templates: TemplateConfig,
    /// Isolation layers (names or groups such as `namespaces`, `memory`) without which the
    /// daemon refuses to run code.
    pub required_layers: Vec<String>,
    /// The seccomp and Landlock layers every run asks for.
    pub confinement: crate::ConfinementLayers,
    /// Where runs' cgroups go and the CPU each may use.
    pub cgroups: sandbox::cgroup::CgroupConfig,
    /// Whether runs may have network through their egress door, and its limits.
    pub egress: std::sync::Arc<crate::egress::EgressConfig>,
}

/// Where templates are defined, built and cached.
#[derive(Debug, Clone)]
pub struct TemplateConfig {
    /// Holds `<name>/env` (the built environment), `<name>/built.json`, `<name>/build.log`,
    /// the build locks, and `custom.toml` (templates created through the API).
    pub dir: PathBuf,
    /// The package cache shared by every build (pip's cache and wheels, npm's cache).
    pub cache_dir: PathBuf,
    /// The operator's `templates.toml`, if any.
    pub file: Option<PathBuf>,
}

impl TemplateConfig {
    /// `<state_dir>/templates` and `<state_dir>/cache`, without an operator file.
    pub fn under(state_dir: &std::path::Path) -> Self {
        TemplateConfig { dir: state_dir.join("templates"), cache_dir: state_dir.join("cache"), file: None }
    }
}

/// Interpreters inside the sandbox (absolute host paths, bound read-only at the same place).
#[derive(Debug, Clone)]
pub struct RuntimePaths {
    pub python: PathBuf,
    pub node: PathBuf,
    pub bash: PathBuf,
}

impl Default for RuntimePaths {
    fn default() -> Self {
        RuntimePaths { python: "/usr/bin/python3".into(), node: "/usr/bin/node".into(), bash: "/bin/bash".into() }
    }
}

/// Defaults applied when a request names no limit, and the caps a request may not exceed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitPolicy {
    pub default_timeout_secs: f64,
    pub min_timeout_secs: f64,
    pub max_timeout_secs: f64,
    pub max_code_bytes: u64,
    pub default_memory_mb: u64,
    pub max_memory_mb: u64,
    pub default_output_bytes: u64,
    pub max_output_bytes: u64,
    pub default_processes: u64,
    pub max_processes: u64,
    /// Largest single uploaded file.
    pub max_file_bytes: u64,
    /// All uploaded files of one request together.
    pub max_files_total_bytes: u64,
    pub max_files: usize,
    /// Size cap of a workspace (when the host lets the daemon mount one).
    pub workspace_bytes: u64,
    /// Size cap of the sandbox's /tmp.
    pub tmp_bytes: u64,
    pub open_files: u64,
    /// Largest return value a handler may send back.
    pub max_return_value_bytes: u64,
}

impl Default for LimitPolicy {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        LimitPolicy {
            default_timeout_secs: 30.0,
            min_timeout_secs: 1.0,
            max_timeout_secs: 3600.0,
            max_code_bytes: MIB,
            default_memory_mb: 512,
            max_memory_mb: 4096,
            default_output_bytes: 10 * MIB,
            max_output_bytes: 64 * MIB,
            default_processes: 128,
            max_processes: 1024,
            max_file_bytes: 10 * MIB,
            max_files_total_bytes: 50 * MIB,
            max_files: 1000,
            workspace_bytes: 100 * MIB,
            tmp_bytes: 100 * MIB,
            open_files: 1024,
            max_return_value_bytes: 10 * MIB,
        }
    }
}
