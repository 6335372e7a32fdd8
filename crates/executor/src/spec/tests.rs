use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sandbox::cgroup::{CgroupConfig, Manager};
use sandbox::{Mount, SandboxSpec};

use super::*;
use crate::{ConfinementLayers, ExecutorConfig, Language, TemplateConfig};

/// A configuration with both confinement layers, for tests of what is built from it.
pub(crate) fn config() -> ExecutorConfig {
    ExecutorConfig {
        workspace_root: "/w".into(),
        init_exe: "/init".into(),
        runtimes: Default::default(),
        identity: sandbox::Identity { uid: 1000, gid: 1000, host_uid: 2000, host_gid: 2000 },
        limits: Default::default(),
        templates: TemplateConfig::under(Path::new("/s")),
        required_layers: Vec::new(),
        confinement: ConfinementLayers { seccomp: true, landlock: true },
        cgroups: CgroupConfig::default(),
        egress: Default::default(),
    }
}

fn run_spec(config: &ExecutorConfig, cgroups: &Manager) -> SandboxSpec {
    let launch = runtime::launch(Language::Python, &config.runtimes, "print(1)", "{}", "{}");
    let vars = BTreeMap::from([("FOO".to_string(), "bar".to_string())]);
    let parts = SpecParts {
        launch,
        environment: None,
        workspace: Path::new("/w/runs/x"),
        env_vars: &vars,
        limits: &RequestedLimits::default(),
        wall_time_ms: 1000,
        stdin: String::new(),
    };
    sandbox_spec(config, cgroups, parts)
}

#[test]
fn a_run_is_confined_to_its_own_mounts() {
    let config = config();
    let spec = run_spec(&config, &Manager::without(&config.cgroups, "test"));
    let rules = spec.confinement.landlock.as_ref().unwrap();
    assert!(spec.confinement.seccomp);
    assert!(rules.read_write.iter().any(|t| t == rootfs::WORKSPACE));
    assert_eq!(spec.cwd, rootfs::WORKSPACE);
    assert_eq!(spec.channel_fd, Some(driver::CHANNEL_FD));
    assert!(spec.env.contains(&("FOO".into(), "bar".into())));
    // Without the cgroup's memory and pids controllers, the rlimits are the limits.
    assert_eq!(spec.limits.data_bytes, Some(512 * 1024 * 1024));
    assert_eq!((spec.limits.processes, spec.limits.pids), (128, None));
}

#[test]
fn a_zygote_is_the_cold_spec_unconfined_with_its_library() {
    let config = config();
    let cgroups = Manager::without(&config.cgroups, "test");
    let workspace = Path::new("/w/runs/z");
    let launch = || runtime::zygote_launch(&config.runtimes, &[]);
    let library = Path::new("/host/libz.so");
    let spec = zygote(&config, &cgroups, ZygoteParts { launch: launch(), environment: None, workspace, library });
    let limits = RequestedLimits { memory_mb: Some(4096), max_processes: Some(256), ..Default::default() };
    let parts = SpecParts {
        launch: launch(),
        environment: None,
        workspace,
        env_vars: &BTreeMap::new(),
        limits: &limits,
        wall_time_ms: 24 * 3600 * 1000,
        stdin: String::new(),
    };
    let mut cold = sandbox_spec(&config, &cgroups, parts);
    assert!(cold.confinement.landlock.is_some());
    cold.confinement = Default::default();
    cold.limits.processes = UNLIMITED_PROCESSES;
    cold.mounts.push(Mount::Bind {
        source: "/host/libz.so".into(),
        target: driver::ZYGOTE_LIB.into(),
        writable: false,
        optional: false,
    });
    assert_eq!(serde_json::to_value(&spec).unwrap(), serde_json::to_value(&cold).unwrap());
}

#[test]
fn a_fork_binds_from_the_zygote_and_is_handed_its_workspace() {
    let config = config();
    let cold = run_spec(&config, &Manager::without(&config.cgroups, "test"));
    let spec = forked(cold.clone(), false);
    assert_eq!(spec.mounts.len(), cold.mounts.len() + 1);
    for mount in &spec.mounts {
        if let Mount::Bind { source, target, .. } = mount {
            assert_eq!(source, target);
        }
    }
    assert!(spec.mounts.contains(&Mount::Handed { target: rootfs::WORKSPACE.into() }));
    let Some(Mount::File { target, contents, .. }) = spec.mounts.last() else { panic!("no environ file") };
    assert_eq!(target, driver::FORKED_ENVIRON);
    assert_eq!(serde_json::from_str::<serde_json::Value>(contents).unwrap()["FOO"], "bar");
    let rules = spec.confinement.landlock.unwrap();
    assert_eq!(rules.read_exec.last().map(String::as_str), Some(driver::FORKED_ENVIRON));
    assert_eq!((spec.env, spec.limits, spec.argv), (cold.env, cold.limits, cold.argv));
}

#[test]
fn a_pre_started_clock_has_room_for_the_start_the_wait_and_the_longest_run() {
    let policy = LimitPolicy::default();
    let wall = pre_started_wall_time_ms(&policy, Duration::from_secs(60), Duration::from_secs(30));
    assert_eq!(wall, 90_000 + 3_600_000);
}

#[test]
fn a_fork_that_executes_its_program_reads_the_command_line_from_a_file() {
    let config = config();
    let cold = run_spec(&config, &Manager::without(&config.cgroups, "test"));
    let spec = forked(cold.clone(), true);
    let Some(Mount::File { target, contents, .. }) = spec.mounts.last() else { panic!("no command line file") };
    assert_eq!(target, driver::FORKED_EXEC);
    assert_eq!(serde_json::from_str::<Vec<String>>(contents).unwrap(), cold.argv);
    let rules = spec.confinement.landlock.unwrap();
    assert!(rules.read_exec.iter().any(|p| p == driver::FORKED_EXEC), "the fork may read it");
}

#[test]
fn every_sandbox_gets_the_ca_bundle_and_its_variables_and_the_template_environment() {
    let mut config = config();
    let bare = run_spec(&config, &Manager::without(&config.cgroups, "test"));
    assert!(!bare.env.iter().any(|(k, _)| k == "SSL_CERT_FILE"), "no bundle, no variables");
    let egress = crate::egress::EgressConfig { ca_bundle: Some("/state/ca.crt".into()), ..Default::default() };
    config.egress = std::sync::Arc::new(egress);
    let spec = run_spec(&config, &Manager::without(&config.cgroups, "test"));
    let bundle = Mount::Bind {
        source: "/state/ca.crt".into(),
        target: crate::egress::SANDBOX_CA_BUNDLE.into(),
        writable: false,
        optional: false,
    };
    assert!(spec.mounts.contains(&bundle), "{:?}", spec.mounts);
    for name in ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "NODE_EXTRA_CA_CERTS"] {
        assert!(spec.env.contains(&(name.into(), crate::egress::SANDBOX_CA_BUNDLE.into())), "{name}: {:?}", spec.env);
    }
    // A pre-started driver's run message carries the same environment as a cold run's.
    let data = crate::templates::Environment { language: Language::Python, dir: Some("/t/venv".into()) };
    let env = rootfs::environment(&config, Some(&data), &BTreeMap::new());
    assert!(env.contains(&("PIP_CERT".into(), crate::egress::SANDBOX_CA_BUNDLE.into())));
    assert!(env.iter().any(|(k, v)| k == "PATH" && v.starts_with("/opt/sandbox-env/bin:")), "{env:?}");
}
