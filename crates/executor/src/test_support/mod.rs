//! What tests of the executor and of the crates over it share: a launcher that answers
//! without a sandbox ([`FakeLauncher`]), an execution recorder in memory ([`MemoryRecorder`])
//! and a configuration under a directory of the test's ([`config_under`]). Built for the
//! crate's own tests and, with the `test-support` feature, for other crates' tests.

mod launcher;
mod recorder;

use std::path::Path;

pub use launcher::{workspace_of, FakeLauncher};
pub use recorder::MemoryRecorder;

use crate::{ExecutorConfig, LimitPolicy, RuntimePaths, TemplateConfig};

/// A configuration whose workspaces and templates are under `dir` and whose launcher
/// executable does not exist: a service made with it needs a launcher of the test's own (or
/// its self-test fails and it reports itself unhealthy).
pub fn config_under(dir: &Path) -> ExecutorConfig {
    ExecutorConfig {
        workspace_root: dir.join("workspaces"),
        init_exe: dir.join("no-such-launcher"),
        runtimes: RuntimePaths::default(),
        identity: sandbox::Identity { uid: 1000, gid: 1000, host_uid: 1000, host_gid: 1000 },
        limits: LimitPolicy::default(),
        templates: TemplateConfig::under(dir),
        required_layers: Vec::new(),
        confinement: Default::default(),
        cgroups: Default::default(),
        egress: Default::default(),
    }
}
