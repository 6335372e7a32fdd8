//! What every sandbox of the service is made with: the configuration, the cgroups, the
//! launcher, the workspaces and templates, the layers in force, and the token that kills them
//! all. One-shot runs, pooled sandboxes, zygotes and session interpreters all take it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::admission::Admission;
use crate::launcher::{ColdLauncher, Launcher};
use crate::templates::Templates;
use crate::workspace::Workspaces;
use crate::{ExecuteError, ExecutorConfig};

pub(crate) struct Sandboxes {
    pub config: ExecutorConfig,
    pub cgroups: Arc<sandbox::cgroup::Manager>,
    pub launcher: Arc<dyn Launcher>,
    pub workspaces: Workspaces,
    pub templates: Templates,
    /// Names of the layers in force, recorded on every result.
    pub active_layers: Vec<String>,
    /// Every sandbox's token descends from it: cancelling it kills them all.
    pub cancel: CancellationToken,
    /// The executions taken on, for [`Sandboxes::busy`].
    admission: Arc<Admission>,
    max_running: usize,
}

impl Sandboxes {
    /// Opens the workspace root, the cgroups and the templates; `launcher` defaults to the
    /// cold launcher of the configuration's `init_exe`.
    pub fn open(
        config: ExecutorConfig,
        launcher: Option<Arc<dyn Launcher>>,
        admission: Arc<Admission>,
        max_running: usize,
    ) -> Result<Sandboxes, ExecuteError> {
        let owner =
            if sandbox::host::is_root() { (config.identity.host_uid, config.identity.host_gid) } else { current_ids() };
        let workspaces = Workspaces::open(&config.workspace_root, config.limits.workspace_bytes, owner)?;
        let cgroups = Arc::new(sandbox::cgroup::Manager::open(&config.cgroups));
        for state in cgroups.states().iter().filter(|s| !s.active) {
            tracing::warn!(controller = %state.name, reason = %state.detail, "cgroup controller not in force");
        }
        let launcher = launcher.unwrap_or_else(|| {
            Arc::new(ColdLauncher { init_exe: config.init_exe.clone(), cgroups: Some(cgroups.clone()) })
        });
        let templates = Templates::open(&config.templates, &config.runtimes, &config.limits)
            .map_err(|e| ExecuteError::Internal(format!("templates: {e}")))?;
        Ok(Sandboxes {
            config,
            cgroups,
            launcher,
            workspaces,
            templates,
            active_layers: Vec::new(),
            cancel: CancellationToken::new(),
            admission,
            max_running,
        })
    }

    /// Every place to run is taken: background work (refilling pools) waits.
    pub fn busy(&self) -> bool {
        self.admission.active() >= self.max_running
    }
}

fn current_ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((65534, 65534))
}
