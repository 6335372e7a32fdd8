//! A template's environment for every process of its sandboxes: a `python-data` session's
//! shell calls and its other language's interpreter, a one-shot shell run naming the
//! template (cold and forked by the template's zygote), and an E2B sandbox's `commands.run`
//! through the official SDK, all find the template's `python3` first on `PATH`, with pandas.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, Daemon};
use crate::e2b;

/// Shell that imports pandas with whatever `python3` is on `PATH`, then shows `PATH`.
const SHELL: &str = "python3 -c 'import pandas; print(pandas.__name__)' && echo \"$PATH\" && command -v python3";
/// What [`SHELL`] prints where the template's environment is in force.
const SEEN: &str = "pandas\n/opt/sandbox-env/bin:/usr/local/bin:/usr/bin:/bin\n/opt/sandbox-env/bin/python3\n";

async fn session(d: &Daemon) -> Value {
    let created = d.post("/session/create", &json!({"template": "python-data"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["session_id"].clone()
}

#[tokio::test]
async fn a_python_data_sessions_shell_calls_and_interpreters_see_the_templates_environment() {
    let Some(d) = common::sandboxed().await else { return };
    let id = session(&d).await;
    let call = json!({"session_id": id, "code": SHELL, "language": "shell", "timeout": 120});
    let r = d.post("/session/execute", &call).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(common::text(&r.body, "stdout"), SEEN, "{}", r.body);
    // The session's JavaScript interpreter too (its `python3` subprocesses are the venv's).
    let js = "require('child_process').execSync(\"python3 -c 'import pandas; print(pandas.__name__)'\").toString() + process.env.PATH";
    let call = json!({"session_id": id, "code": js, "language": "javascript", "timeout": 120});
    let r = d.post("/session/execute", &call).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["return_value"], "pandas\n/opt/sandbox-env/bin:/usr/local/bin:/usr/bin:/bin", "{}", r.body);
    // Another session's template (none) does not leak in.
    let plain = d.post("/session/create", &json!({})).await;
    let call = json!({"session_id": plain.body["session_id"], "code": "echo \"$PATH\"", "language": "shell"});
    let r = d.post("/session/execute", &call).await;
    assert_eq!(common::text(&r.body, "stdout"), "/usr/local/bin:/usr/bin:/bin\n", "{}", r.body);
}

/// Waits until the Python zygote of `template` is ready to fork.
async fn until_zygote_ready(d: &Daemon, template: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let info = d.get("/info").await.body;
        let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
        let pool = pools.iter().find(|p| p["language"] == "python" && p["template"] == template);
        if pool.and_then(|p| p["ready"].as_u64()).unwrap_or(0) > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no ready {template} zygote after 240 s: {info}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_one_shot_shell_run_naming_python_data_runs_in_its_environment_cold_and_forked() {
    let Some(d) = common::sandboxed().await else { return };
    let run = json!({"code": SHELL, "language": "shell", "template": "python-data", "timeout": 120});
    let first = d.execute(run.clone()).await;
    assert_eq!(common::text(&first, "stdout"), SEEN, "{first}");
    // A Python run of the template starts its zygote; the shell run is then forked by it.
    d.execute(json!({"code": "print(1)", "template": "python-data"})).await;
    until_zygote_ready(&d, "python-data").await;
    let forked = d.execute(run).await;
    assert_eq!(common::text(&forked, "stdout"), SEEN, "{forked}");
    if common::is_root() {
        // Forked for it, or built ahead by that zygote (whichever was ready).
        assert_eq!(crate::warm::path_of(&forked), "forked", "{forked}");
    }
    // A language other than the template's (and shell's) is still refused.
    let js = d.post("/execute", &json!({"code": "1", "language": "javascript", "template": "python-data"})).await;
    common::assert_error_body(&js, 400);
}

#[tokio::test]
async fn e2b_commands_run_in_a_code_interpreter_sandbox_sees_its_environment() {
    let Some(dir) = e2b::sdks() else { return };
    let Some(d) = common::sandboxed().await else { return };
    e2b::prepare_code_interpreter(&d).await;
    let script = format!(
        "import json\nfrom e2b_code_interpreter import Sandbox\n\
         sbx = Sandbox.create()\nr = sbx.commands.run({SHELL:?})\nsbx.kill()\n\
         print(json.dumps({{'stdout': r.stdout, 'exit': r.exit_code}}))\n"
    );
    let path = d.state.path().join("commands_env.py");
    std::fs::write(&path, script).unwrap();
    let out = e2b::run_script(&d, &dir.join("venv/bin/python"), &[&path], d.state.path()).await;
    assert_eq!(out, json!({"stdout": SEEN, "exit": 0}), "{out}");
}
