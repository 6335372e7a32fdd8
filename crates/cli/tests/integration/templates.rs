//! Templates through the real daemon and the real package registries: listing, building from a
//! clean state directory with the CLI, a second build reusing the package cache, a node
//! template, and the requests and definitions that are refused.
//!
//! Builds that need python-data share one templates directory and one package cache with the
//! rest of the suite (see `common`); a clean build gets its own templates directory.

use crate::common;
use std::process::Command;
use std::time::Instant;

use crate::common::{assert_error_body, Daemon, BIN};
use serde_json::{json, Value};

/// `sandbox-executor templates <args>` with templates in `templates_dir`; (success, stdout).
fn templates_cli(templates_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("templates")
        .args(args)
        .env("STATE_DIR", templates_dir.parent().unwrap())
        .env("SANDBOX_TEMPLATES_DIR", templates_dir)
        .env("SANDBOX_PACKAGE_CACHE_DIR", common::shared_cache_dir())
        .output()
        .expect("run the CLI");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("templates {args:?}:\n{stdout}{}", String::from_utf8_lossy(&output.stderr));
    (output.status.success(), stdout)
}

/// A daemon whose templates live in `templates_dir` (the package cache stays shared).
async fn daemon_with(templates_dir: &std::path::Path) -> Daemon {
    Daemon::start_with(&[("SANDBOX_TEMPLATES_DIR", templates_dir.to_str().unwrap())]).await
}

fn template<'a>(list: &'a Value, name: &str) -> &'a Value {
    let all = list["templates"].as_array().unwrap_or_else(|| panic!("no templates: {list}"));
    all.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name} is not listed: {list}"))
}

#[tokio::test]
async fn the_builtins_are_listed() {
    let state = common::fresh_dir("se-tpl-list-");
    let d = daemon_with(&state.path().join("templates")).await;
    let r = d.get("/templates").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "success");
    let expected = [
        ("default", "python", 512, 30, 0),
        ("python-data", "python", 1024, 60, 6),
        ("node-basic", "javascript", 512, 30, 0),
        ("minimal", "python", 256, 30, 0),
    ];
    for (name, language, memory, timeout, packages) in expected {
        let t = template(&r.body, name);
        assert_eq!(t["language"], language, "{t}");
        assert_eq!(t["limits"], json!({"memory_mb": memory, "timeout_secs": timeout}), "{t}");
        assert_eq!(t["packages"].as_array().unwrap().len(), packages, "{t}");
        assert_eq!((&t["network"], &t["builtin"]), (&json!(false), &json!(true)), "{t}");
        assert!(t["description"].as_str().is_some_and(|s| !s.is_empty()), "{t}");
        // Nothing is built in a fresh directory; templates without packages need nothing.
        assert_eq!(t["built"], packages == 0, "{t}");
    }
}

#[tokio::test]
async fn python_data_builds_from_a_clean_state_dir_and_runs_the_data_stack() {
    let state = common::fresh_dir("se-tpl-clean-");
    let templates = state.path().join("templates");
    let started = Instant::now();
    let (ok, out) = templates_cli(&templates, &["build", "python-data"]);
    eprintln!("TIMING: python-data built from a clean templates dir in {:.1} s", started.elapsed().as_secs_f64());
    assert!(ok && out.contains("python-data: built in"), "{out}");
    let record: Value =
        serde_json::from_slice(&std::fs::read(templates.join("python-data/built.json")).unwrap()).unwrap();
    assert!(record["runtime_version"].as_str().unwrap().starts_with("Python 3"), "{record}");
    let (ok, out) = templates_cli(&templates, &["build", "python-data"]);
    assert!(ok && out.contains("python-data: already built"), "{out}");
    let (ok, out) = templates_cli(&templates, &["list", "--json"]);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert!(ok && template(&listed, "python-data")["built"] == true, "{out}");

    let d = daemon_with(&templates).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let code = "import numpy as np, pandas as pd, plotly.graph_objects as go\n\
                df = pd.DataFrame({'x': np.arange(4), 'y': np.arange(4) ** 2})\n\
                print(int(df.y.sum()), np.__name__, len(go.Figure(go.Scatter(x=df.x, y=df.y)).to_json()) > 100)";
    let started = Instant::now();
    let r = d.execute(json!({"code": code, "template": "python-data"})).await;
    eprintln!("TIMING: a python-data run took {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!((r["status"].as_str(), r["stdout"].as_str()), (Some("success"), Some("14 numpy True\n")), "{r}");
    // The template's limits are the run's defaults.
    let handler = "def handler(event, context):\n    \
                   return [context.memory_limit_in_mb, context.get_remaining_time_in_millis() > 31000]";
    let context = d.execute(json!({"code": handler, "template": "python-data"})).await;
    // 1024 MB and 60 s, not the server's 512 MB and 30 s.
    assert_eq!(context["return_value"], json!([1024, true]), "{context}");
}

#[tokio::test]
async fn a_second_build_reuses_the_package_cache() {
    // python-data in the shared directory puts numpy's wheel in the shared cache (a no-op
    // when another test built it already).
    let (ok, out) = templates_cli(&common::shared_templates_dir(), &["build", "python-data"]);
    assert!(ok, "{out}");

    let state = common::fresh_dir("se-tpl-cache-");
    let templates = state.path().join("templates");
    let d = daemon_with(&templates).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let spec = json!({"name": "numpy-only", "description": "numpy alone", "language": "python", "packages": ["numpy"]});
    let r = d.post("/templates", &spec).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!((&r.body["template"]["built"], &r.body["template"]["builtin"]), (&json!(false), &json!(false)));

    let started = Instant::now();
    let r = d.execute(json!({"code": "import numpy\nprint(numpy.ones(3).sum())", "template": "numpy-only"})).await;
    eprintln!("TIMING: numpy-only built from the cache and ran in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(r["stdout"], "3.0\n", "{r}");
    let log = std::fs::read_to_string(templates.join("numpy-only/build.log")).unwrap();
    // pip's words for a wheel it took from the cache's wheelhouse instead of downloading.
    assert!(log.contains("File was already downloaded") && log.contains("numpy-"), "{log}");
    assert!(!log.contains("Downloading numpy"), "{log}");

    // Custom templates survive a restart, and stay built.
    drop(d);
    let d = daemon_with(&templates).await;
    let listed = d.get("/templates").await;
    let t = template(&listed.body, "numpy-only");
    assert_eq!((&t["built"], &t["builtin"], &t["packages"]), (&json!(true), &json!(false), &json!(["numpy"])), "{t}");
}

#[tokio::test]
async fn a_node_template_requires_its_package() {
    let state = common::fresh_dir("se-tpl-node-");
    let d = daemon_with(&state.path().join("templates")).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let spec = json!({"name": "node-isnum", "language": "javascript", "packages": ["is-number@7.0.0"],
                      "limits": {"memory_mb": 1024, "timeout_secs": 20}});
    let r = d.post("/templates", &spec).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // No language: the template's. Three requests at once wait for one build.
    let code = "const isNumber = require('is-number');\nconsole.log(isNumber(5), isNumber('x'))";
    let body = json!({"code": code, "template": "node-isnum"});
    let results = futures::future::join_all((0..3).map(|_| d.execute(body.clone()))).await;
    for r in results {
        assert_eq!((r["status"].as_str(), r["stdout"].as_str()), (Some("success"), Some("true false\n")), "{r}");
    }
    let log = std::fs::read_to_string(state.path().join("templates/node-isnum/build.log")).unwrap();
    assert_eq!(log.matches("npm install").count(), 1, "{log}");
    // ES modules find it too.
    let code = "import isNumber from 'is-number';\nconsole.log(isNumber('7'))";
    let r = d.execute(json!({"code": code, "language": "javascript", "template": "node-isnum"})).await;
    assert_eq!(r["stdout"], "true\n", "{r}");
    // The environment is read-only in the sandbox.
    let code = "try { require('fs').writeFileSync('/opt/sandbox-env/node_modules/x.js', ''); console.log('written') } \
                catch (e) { console.log(e.code) }";
    let r = d.execute(json!({"code": code, "template": "node-isnum"})).await;
    assert_eq!(r["stdout"], "EROFS\n", "{r}");
}

#[tokio::test]
async fn bad_templates_and_definitions_are_refused() {
    let state = common::fresh_dir("se-tpl-bad-");
    let d = daemon_with(&state.path().join("templates")).await;
    let r = d.post("/execute", &json!({"code": "print(1)", "template": "python-ml"})).await;
    assert_eq!(assert_error_body(&r, 404), "Executor.NotFound");
    assert!(r.body["error_detail"].as_str().unwrap().contains("known: default, python-data, node-basic, minimal"));
    let r = d
        .post("/execute", &json!({"code": "console.log(1)", "language": "javascript", "template": "python-data"}))
        .await;
    assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError");
    assert!(r.body["error_detail"].as_str().unwrap().contains("is for python"), "{}", r.body);

    let bad = [
        json!({"name": "Has Spaces", "language": "python"}),
        json!({"name": "idx", "language": "python", "packages": ["--index-url", "https://evil.example/simple"]}),
        json!({"name": "idx", "language": "python", "packages": ["numpy --extra-index-url=x"]}),
        json!({"name": "url", "language": "python", "packages": ["https://evil.example/numpy.whl"]}),
        json!({"name": "url", "language": "javascript", "packages": ["git+https://github.com/x/y"]}),
        json!({"name": "net", "language": "python", "network": true}),
    ];
    for spec in bad {
        let r = d.post("/templates", &spec).await;
        assert_eq!(assert_error_body(&r, 400), "Executor.ValidationError", "{spec}");
    }
    let r = d.post("/templates", &json!({"name": "minimal", "language": "python"})).await;
    assert_eq!(assert_error_body(&r, 409), "Executor.Conflict");
    assert_eq!(d.get("/templates").await.body["templates"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_build_that_fails_on_a_missing_package_is_a_422_with_the_build_log() {
    let state = common::fresh_dir("se-tpl-fail-");
    let templates = state.path().join("templates");
    let d = daemon_with(&templates).await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let spec =
        json!({"name": "missing-pkg", "language": "python", "packages": ["no-such-package-sandbox-executor-zz"]});
    assert_eq!(d.post("/templates", &spec).await.status, 201);
    let r = d.post("/execute", &json!({"code": "print(1)", "template": "missing-pkg"})).await;
    // The template's own package is at fault, not the daemon.
    assert_eq!(assert_error_body(&r, 422), "Executor.TemplatePackageError");
    let detail = r.body["error_detail"].as_str().unwrap();
    assert!(
        detail.contains("no-such-package-sandbox-executor-zz") && detail.contains("end of the build log"),
        "{detail}"
    );
    // Nothing half-built is left to be taken for a build.
    assert!(!templates.join("missing-pkg/env").exists());
    assert_eq!(template(&d.get("/templates").await.body, "missing-pkg")["built"], false);
}

#[test]
fn serve_refuses_an_unknown_nvidia_template() {
    let state = common::fresh_dir("se-tpl-serve-");
    let output = Command::new(BIN)
        .arg("serve")
        .env("STATE_DIR", state.path())
        .env("EXECUTOR_PORT", "0")
        .env("NVIDIA_TEMPLATE", "no-such-template")
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--nvidia-template: unknown template \"no-such-template\""), "{stderr}");
    // A daemon that refused to start leaves nothing mounted (no pooled sandbox was started).
    assert_eq!(common::mounts_below(state.path()), Vec::<String>::new());
}
