//! Templates without a registry: validation, the sandbox view, and builds through stand-in
//! package managers (a real pip or npm run is in the CLI's integration tests).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn spec(name: &str, language: &str, packages: &[&str]) -> TemplateSpec {
    TemplateSpec {
        name: name.into(),
        description: String::new(),
        language: language.into(),
        packages: packages.iter().map(|p| p.to_string()).collect(),
        limits: None,
        network: false,
        egress: Vec::new(),
    }
}

fn check(spec: TemplateSpec) -> Result<Template, TemplateError> {
    Template::from_spec(spec, Origin::Custom, &LimitPolicy::default())
}

fn field_of(result: Result<Template, TemplateError>) -> String {
    match result {
        Err(TemplateError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn names_languages_limits_and_network_are_checked() {
    for bad in ["", "Data", "-x", "a_b", "a.b", &"a".repeat(64)] {
        assert_eq!(field_of(check(spec(bad, "python", &[]))), "name", "{bad:?}");
    }
    assert!(check(spec(&"a".repeat(63), "python", &[])).is_ok());
    assert!(check(spec("9-lives", "py", &[])).is_ok());
    assert_eq!(field_of(check(spec("x", "shell", &[]))), "language");
    assert_eq!(field_of(check(spec("x", "cobol", &[]))), "language");
    assert_eq!(check(spec("x", "node", &[])).unwrap().language, Language::Javascript);
    assert_eq!(field_of(check(TemplateSpec { network: true, ..spec("x", "python", &[]) })), "network");
    let huge = TemplateLimitsSpec { memory_mb: Some(1 << 20), timeout_secs: None };
    assert_eq!(field_of(check(TemplateSpec { limits: Some(huge), ..spec("x", "python", &[]) })), "limits.memory_mb");
    let zero = TemplateLimitsSpec { memory_mb: None, timeout_secs: Some(0) };
    assert_eq!(field_of(check(TemplateSpec { limits: Some(zero), ..spec("x", "python", &[]) })), "limits.timeout_secs");
    let url = spec("x", "python", &["https://example.com/x.whl"]);
    assert_eq!(field_of(check(url)), "packages[0]");
}

#[test]
fn builtins_have_the_seed_limits() {
    let all = builtin::builtins();
    let limits: Vec<(&str, u64, u64, usize)> =
        all.iter().map(|t| (t.name.as_str(), t.limits.memory_mb, t.limits.timeout_secs, t.packages.len())).collect();
    assert_eq!(
        limits,
        [("default", 512, 30, 0), ("python-data", 1024, 60, 6), ("node-basic", 512, 30, 0), ("minimal", 256, 30, 0)]
    );
}

#[test]
fn the_sandbox_sees_a_venv_or_node_modules_at_the_mount_point() {
    let venv = Environment { language: Language::Python, dir: Some("/state/templates/t/env".into()) };
    assert_eq!(venv.python().unwrap(), Path::new("/opt/sandbox-env/bin/python3"));
    assert!(
        matches!(&venv.mounts()[..], [sandbox::Mount::Bind { target, writable: false, .. }] if target == MOUNT_POINT)
    );
    assert!(venv.vars().iter().any(|(k, v)| k == "PATH" && v.starts_with("/opt/sandbox-env/bin:")));

    let node = Environment { language: Language::Javascript, dir: Some("/s/t/env".into()) };
    assert_eq!(node.python(), None);
    assert_eq!(node.vars(), [("NODE_PATH".to_string(), "/opt/sandbox-env/node_modules".to_string())]);
    let system = Environment { language: Language::Python, dir: None };
    assert!(system.mounts().is_empty() && system.vars().is_empty() && system.python().is_none());
}

/// Templates over `dir`, with a stand-in `npm` (a shell script) next to a stand-in `node`.
fn with_fake_npm(dir: &Path, npm_script: &str) -> Templates {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, body) in [("node", "#!/bin/sh\necho v0.0.0-test\n"), ("npm", npm_script)] {
        std::fs::write(bin.join(name), body).unwrap();
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = TemplateConfig::under(dir);
    let runtimes = RuntimePaths { node: bin.join("node"), python: "/bin/false".into(), ..RuntimePaths::default() };
    Templates::open(&config, &runtimes, &LimitPolicy::default()).unwrap()
}

/// Writes node_modules/<package>/index.js under the --prefix it is given.
const NPM_OK: &str = "#!/bin/sh\nwhile [ \"$1\" != -- ]; do [ \"$1\" = --prefix ] && p=$2; shift; done; shift\n\
    for pkg; do mkdir -p \"$p/node_modules/$pkg\"; echo 'module.exports = 1' > \"$p/node_modules/$pkg/index.js\"; done\n\
    echo installed \"$@\"\n";

#[tokio::test]
async fn a_build_happens_once_per_package_list() {
    let dir = tempfile::tempdir().unwrap();
    let templates = with_fake_npm(dir.path(), NPM_OK);
    let template = templates.add(spec("js-one", "javascript", &["left-pad"])).unwrap();
    assert!(!template.built);
    let template = templates.get("js-one").unwrap();
    let env = templates.prepare(&template).await.unwrap();
    let env_dir = dir.path().join("templates/js-one/env");
    assert_eq!(env.dir.as_deref(), Some(env_dir.as_path()));
    assert!(env_dir.join("node_modules/left-pad/index.js").is_file());
    assert!(templates.is_built(&template));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("templates/js-one/built.json")).unwrap()).unwrap();
    assert_eq!(
        (record["runtime_version"].as_str(), record["packages"][0].as_str()),
        (Some("v0.0.0-test"), Some("left-pad"))
    );
    let log = std::fs::read_to_string(dir.path().join("templates/js-one/build.log")).unwrap();
    assert!(log.contains("installed left-pad"), "{log}");

    // Another package list is another build.
    let changed = Template { packages: vec!["is-odd".into()], ..template.clone() };
    assert!(!templates.is_built(&changed));
    templates.prepare(&changed).await.unwrap();
    assert!(env_dir.join("node_modules/is-odd").is_dir());
    assert!(!env_dir.join("node_modules/left-pad").exists(), "the old build is replaced");
}

#[tokio::test]
async fn a_failed_build_leaves_nothing_built_and_carries_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let templates = with_fake_npm(dir.path(), "#!/bin/sh\necho 'npm error 404 Not Found - no-such-pkg' >&2\nexit 1\n");
    templates.add(spec("broken", "javascript", &["no-such-pkg"])).unwrap();
    let template = templates.get("broken").unwrap();
    match templates.prepare(&template).await {
        Err(TemplateError::Build { name, log_tail, .. }) => {
            assert_eq!(name, "broken");
            assert!(log_tail.contains("404 Not Found - no-such-pkg"), "{log_tail}");
        }
        other => panic!("expected a build error, got {other:?}"),
    }
    assert!(!templates.is_built(&template));
    let left: Vec<_> =
        std::fs::read_dir(dir.path().join("templates/broken")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, ["build.log"], "only the log remains");

    // A python template whose interpreter cannot make a venv fails the same way.
    templates.add(spec("py-broken", "python", &["numpy"])).unwrap();
    let err = templates.prepare(&templates.get("py-broken").unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("creating the venv failed"), "{err}");
}

#[tokio::test]
async fn templates_without_packages_use_the_system_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let templates = with_fake_npm(dir.path(), "#!/bin/sh\nexit 1\n");
    for name in ["default", "minimal", "node-basic"] {
        let template = templates.get(name).unwrap();
        assert!(templates.is_built(&template));
        assert_eq!(templates.prepare(&template).await.unwrap().dir, None);
    }
    let listed = templates.list();
    let data = listed.iter().find(|t| t.name == "python-data").unwrap();
    assert!(data.builtin && !data.built && !data.network);
}
