//! The official SDKs, unmodified, through the whole workflow: create, code (state kept,
//! figures, tables, errors), files, commands, other tenants, kill.

use serde_json::Value;

use super::{prepare_code_interpreter, run_program, run_script, script, sdks, tenant_of, KEY};
use crate::common;

/// What both SDKs must have seen.
fn check_common(out: &Value) {
    assert_eq!(out["x_plus_1"], "42", "{out}");
    // A PNG's base64 starts with the PNG signature's.
    assert_eq!(out["plot_png"], serde_json::json!(["iVBORw0K"]), "{out}");
    assert_eq!(out["frame_html"], serde_json::json!([true]), "{out}");
    assert_eq!(out["error"]["name"], "ZeroDivisionError", "{out}");
    assert_eq!(out["error"]["value"], "division by zero", "{out}");
    let traceback = out["error"]["traceback"].as_str().unwrap_or_default();
    assert!(traceback.contains("ZeroDivisionError") && traceback.contains("f()"), "{out}");
    assert_eq!(out["js"], "42", "{out}");
    assert_eq!(out["read"], "written by files", "{out}");
    assert_eq!(out["echo"], "hi\n", "{out}");
    assert_eq!(out["exit"]["code"], 3, "{out}");
    assert_eq!(out["exit"]["stderr"], "oops\n", "{out}");
    assert_eq!(out["listed_by_owner"], true, "{out}");
    assert_eq!(out["listed_by_other"], false, "{out}");
    assert!(out["other_connect"].is_string(), "another key connected to the sandbox: {out}");
    assert_eq!(out["other_kill"], false, "another key killed the sandbox: {out}");
    assert_eq!(out["kill"], true, "{out}");
    assert_eq!(out["running_after_kill"], false, "{out}");
    assert!(out["run_code_after_kill"].is_string(), "run_code worked after kill: {out}");
    assert!(out["command_after_kill"].is_string(), "a command ran after kill: {out}");
}

#[tokio::test]
async fn e2b_python_sdk_runs_the_whole_workflow() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    prepare_code_interpreter(&daemon).await;
    let out = run_script(&daemon, &dir.join("venv/bin/python"), &[&script("workflow.py")], daemon.state.path()).await;
    check_common(&out);
    assert_eq!(out["string"], "abc", "{out}");
    assert_eq!(out["stdout"], "printed\n", "{out}");
    assert_eq!(out["read_by_command"], "written by files", "{out}");
    assert_eq!(out["read_by_code"], "written by files", "{out}");
    // A context of its own has variables of its own; the default context keeps its own.
    assert_eq!(out["context_x"], "own", "{out}");
    assert_eq!(out["default_x_after_context"], "41", "{out}");
    assert_eq!(out["contexts_listed"], true, "{out}");
    assert_eq!(out["context_after_restart"], "NameError", "{out}");
    assert_eq!(out["context_removed"], false, "{out}");
    assert!(out["removed_context_run"].is_string(), "{out}");
    assert_eq!(out["streamed_command"], "1\n2\n", "{out}");
    assert_eq!(out["streamed_cell"], "1\n2\n", "{out}");
    // A background command is listed, killed, and ends killed; it is gone then.
    assert_eq!(out["listed_running"], true, "{out}");
    assert_eq!(out["killed"], true, "{out}");
    assert_eq!(out["killed_wait"]["stdout"], "", "{out}");
    assert_ne!(out["killed_wait"]["code"], 0, "{out}");
    assert_eq!(out["kill_again"], false, "{out}");
    assert_eq!(out["binary"], true, "{out}");
    assert_eq!(out["made_again"], false, "{out}");
    assert_eq!(out["listed"], serde_json::json!([["e", "dir"], ["f.txt", "file"]]), "{out}");
    assert_eq!(out["exists_after_move"], serde_json::json!([false, true]), "{out}");
    assert_eq!(out["exists_after_remove"], false, "{out}");
    assert!(out["list_outside"].is_string(), "a directory outside the home was listed: {out}");
    assert_eq!(out["pwd_home"], "/home/user\n/home/user\n", "{out}");
    assert!(out["other_info"].is_string(), "another key saw the sandbox: {out}");
    assert_eq!(out["running_for_owner"], true, "{out}");
    assert_eq!(out["timeout_moved"], true, "{out}");
    assert_eq!(out["async"], serde_json::json!(["42", "async\n"]), "{out}");
    assert_eq!(out["base_echo"], "42\n", "{out}");
    assert_eq!(out["base_kill"], true, "{out}");
    assert!(out["read_after_kill"].is_string(), "a file was read after kill: {out}");
    // Both sandboxes were killed: nothing of them is left among the key's tenant's sessions.
    let sessions = daemon.client().get(format!("{}/sessions", daemon.base)).header("x-tenant-id", tenant_of(KEY));
    let sessions: Value = sessions.send().await.unwrap().json().await.unwrap();
    assert_eq!(sessions["sessions"], serde_json::json!([]), "{sessions}");
}

#[tokio::test]
async fn e2b_javascript_sdk_runs_the_whole_workflow() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    prepare_code_interpreter(&daemon).await;
    // The script imports the SDKs from a node_modules beside it.
    let work = daemon.state.path().join("node-script");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(dir.join("node/node_modules"), work.join("node_modules")).unwrap();
    std::fs::copy(script("workflow.mjs"), work.join("workflow.mjs")).unwrap();
    let out = run_script(&daemon, std::path::Path::new("node"), &[&work.join("workflow.mjs")], &work).await;
    check_common(&out);
}

/// The Python block of the README's E2B section.
fn readme_script() -> String {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let section = readme.split("\n## Use it from the E2B SDKs\n").nth(1).expect("the README has the E2B section");
    let block = section.split("```python\n").nth(1).expect("the section has a Python block");
    block.split("\n```").next().unwrap().to_string()
}

#[tokio::test]
async fn e2b_readme_script_runs_as_printed() {
    let Some(dir) = sdks() else { return };
    let Some(daemon) = common::sandboxed().await else { return };
    prepare_code_interpreter(&daemon).await;
    let code = readme_script();
    let args = [std::ffi::OsStr::new("-c"), std::ffi::OsStr::new(&code)];
    let stdout = run_program(&daemon, &dir.join("venv/bin/python"), &args, daemon.state.path()).await;
    assert_eq!(stdout, "42\nhi\n\n");
}
