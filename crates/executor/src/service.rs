//! The execution service: the one entry point for running code.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use sandbox::{Limits, SandboxSpec};
use serde::Serialize;
use utoipa::ToSchema;

use crate::launcher::{ColdLauncher, Launcher};
use crate::rootfs::{self, RootfsOptions};
use crate::workspace::{Workspace, Workspaces};
use crate::{artifacts, outcome, posture, runtime};
use crate::{
    ExecuteError, ExecutionRequest, ExecutionResult, ExecutorConfig, Language, LimitPolicy, RuntimePaths,
    WorkspaceChoice,
};

/// What `GET /info` reports about this host and the sandbox in force.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HostInfo {
    pub version: String,
    pub platform: Platform,
    pub isolation: Isolation,
    pub languages: Vec<LanguageInfo>,
    pub limits: LimitPolicy,
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
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LanguageInfo {
    pub language: crate::Language,
    pub interpreter: String,
    /// The interpreter's own version string, or null when it is missing.
    pub version: Option<String>,
}

pub struct ExecutionService {
    config: ExecutorConfig,
    workspaces: Workspaces,
    launcher: Arc<dyn Launcher>,
    running: Mutex<HashSet<String>>,
    health: Result<(), String>,
    info: HostInfo,
}

impl ExecutionService {
    /// Opens the workspace root and runs one real sandboxed program to learn whether the
    /// sandbox works here; the answer drives `/health` and the layers of `/info`.
    pub async fn new(config: ExecutorConfig) -> Result<Arc<Self>, ExecuteError> {
        let owner =
            if sandbox::host::is_root() { (config.identity.host_uid, config.identity.host_gid) } else { current_ids() };
        let workspaces = Workspaces::open(&config.workspace_root, config.limits.workspace_bytes, owner)?;
        let launcher = Arc::new(ColdLauncher { init_exe: config.init_exe.clone() });
        let languages = interpreters(&config.runtimes).await;
        let mut service = ExecutionService {
            info: HostInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                platform: Platform {
                    os: std::env::consts::OS.into(),
                    arch: std::env::consts::ARCH.into(),
                    kernel: sandbox::host::kernel_release(),
                },
                isolation: Isolation { mechanism: "linux-namespaces".into(), layers: Vec::new() },
                languages,
                limits: config.limits.clone(),
            },
            config,
            workspaces,
            launcher,
            running: Mutex::new(HashSet::new()),
            health: Ok(()),
        };
        service.health = service.self_test().await;
        if let Err(reason) = &service.health {
            tracing::error!(%reason, "the sandbox does not work on this host");
        }
        service.info.isolation.layers = posture::layers(&service.health, service.workspaces.size_capped());
        Ok(Arc::new(service))
    }

    /// Runs `req` to its end. The run goes on even if the caller stops waiting for it.
    pub async fn execute(self: &Arc<Self>, req: ExecutionRequest) -> Result<ExecutionResult, ExecuteError> {
        let this = Arc::clone(self);
        tokio::spawn(async move { this.run(req).await })
            .await
            .map_err(|e| ExecuteError::Internal(format!("execution task failed: {e}")))?
    }

    pub fn active_executions(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// `Err(reason)` when the sandbox cannot work on this host.
    pub fn health(&self) -> Result<(), String> {
        self.health.clone()
    }

    pub fn info(&self) -> HostInfo {
        self.info.clone()
    }

    pub fn limits(&self) -> &LimitPolicy {
        &self.config.limits
    }

    /// Removes persistent workspaces (at shutdown).
    pub fn shutdown(&self) {
        self.workspaces.clear_persistent();
    }

    async fn run(&self, req: ExecutionRequest) -> Result<ExecutionResult, ExecuteError> {
        let _running = RunningGuard::claim(&self.running, &req.execution_id)?;
        let workspace = self.workspaces.prepare(&req.workspace, &req.execution_id)?;
        let result = self.run_in(&req, &workspace).await;
        self.workspaces.release(workspace);
        result
    }

    async fn run_in(&self, req: &ExecutionRequest, workspace: &Workspace) -> Result<ExecutionResult, ExecuteError> {
        self.workspaces.write_files(workspace, &req.files)?;
        let before = artifacts::snapshot(&workspace.path);
        let limits = &self.config.limits;
        let memory_mb = req.limits.memory_mb.unwrap_or(limits.default_memory_mb);
        let event = req.event.clone().unwrap_or_else(|| serde_json::json!({}));
        let context = serde_json::json!({
            "execution_id": req.execution_id,
            "timeout_ms": req.timeout_ms,
            "memory_limit_mb": memory_mb,
        });
        let launch =
            runtime::launch(req.language, &self.config.runtimes, &req.code, &event.to_string(), &context.to_string());
        let spec = SandboxSpec {
            argv: launch.argv,
            env: rootfs::environment(&req.env_vars),
            cwd: rootfs::WORKSPACE.into(),
            identity: self.config.identity,
            hostname: "sandbox".into(),
            mounts: rootfs::mounts(RootfsOptions {
                identity: self.config.identity,
                workspace_host: &workspace.path,
                tmp_bytes: limits.tmp_bytes,
                run_files: launch.files,
            }),
            limits: Limits {
                wall_time_ms: req.timeout_ms,
                data_bytes: Some(memory_mb * 1024 * 1024),
                file_size_bytes: limits.workspace_bytes,
                open_files: limits.open_files,
                processes: req.limits.max_processes.unwrap_or(limits.default_processes),
                channel_bytes: limits.max_return_value_bytes,
            },
            stdin: req.stdin.clone(),
            channel_fd: launch.has_channel.then_some(runtime::CHANNEL_FD),
        };
        let max_output = req.limits.max_output_bytes.unwrap_or(limits.default_output_bytes);
        let run = self
            .launcher
            .launch(&spec, max_output)
            .await
            .map_err(|e| ExecuteError::Sandbox { stage: "launch".into(), message: e.to_string() })?;
        let artifacts = artifacts::changed_since(&workspace.path, &before);
        outcome::build(&req.execution_id, run, artifacts)
    }

    async fn self_test(&self) -> Result<(), String> {
        let req = ExecutionRequest {
            execution_id: format!("self-test-{}", uuid::Uuid::new_v4().simple()),
            language: Language::Shell,
            code: "exit 0".into(),
            timeout_ms: 10_000,
            workspace: WorkspaceChoice::Fresh,
            event: None,
            stdin: String::new(),
            env_vars: Default::default(),
            files: Vec::new(),
            limits: Default::default(),
        };
        match self.run(req).await {
            Ok(result) if result.exit_code == 0 => Ok(()),
            Ok(result) => Err(format!("a sandboxed `exit 0` ended with {:?}: {}", result.status, result.stderr.trim())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Holds an execution id for the length of its run, so the same id cannot run twice at once.
struct RunningGuard<'a> {
    running: &'a Mutex<HashSet<String>>,
    id: String,
}

impl<'a> RunningGuard<'a> {
    fn claim(running: &'a Mutex<HashSet<String>>, id: &str) -> Result<Self, ExecuteError> {
        if !running.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string()) {
            return Err(ExecuteError::AlreadyRunning(id.to_string()));
        }
        Ok(RunningGuard { running, id: id.to_string() })
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}

fn current_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((65534, 65534))
}

/// Each language's interpreter and its version, asked of the interpreter itself.
async fn interpreters(runtimes: &RuntimePaths) -> Vec<LanguageInfo> {
    let mut found = Vec::new();
    for (language, path, flag) in [
        (Language::Python, &runtimes.python, "--version"),
        (Language::Javascript, &runtimes.node, "--version"),
        (Language::Shell, &runtimes.bash, "--version"),
    ] {
        let output = tokio::process::Command::new(path).arg(flag).env_clear().output().await;
        let version = output.ok().filter(|o| o.status.success()).and_then(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().map(|l| l.trim().to_string())
        });
        found.push(LanguageInfo { language, interpreter: path.display().to_string(), version });
    }
    found
}
