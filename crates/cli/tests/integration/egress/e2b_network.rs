//! An E2B sandbox's network options, through the official Python SDK (sync and async): each
//! becomes the sandbox's egress policy, in force for its commands and cells, within the
//! operator's cap; what cannot be expressed or is outside the cap is refused at create.

use serde_json::json;

use crate::e2b::{prepare_code_interpreter, run_program, script, sdks};

use super::origin::Origin;

#[tokio::test]
async fn e2b_network_options_are_the_sandboxes_egress_policy() {
    let Some(dir) = sdks() else { return };
    let origin = Origin::start().await;
    let port = origin.port;
    let cap = format!("origin.test:{port},other.test:{port}");
    let Some(daemon) = super::daemon(&[("EGRESS_ALLOW", cap.as_str())]).await else { return };
    prepare_code_interpreter(&daemon).await;
    let port_arg = port.to_string();
    let args = [script("network.py").into_os_string(), port_arg.into()];
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let stdout = run_program(&daemon, &dir.join("venv/bin/python"), &args, daemon.state.path()).await;
    let out: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    let hello = "200 hello from origin";
    // allow_internet_access=False: no door; the name does not even resolve.
    assert!(out["closed_command"].as_str().unwrap().starts_with("failed"), "{out}");
    let closed = json!({"allow_out": [], "deny_out": ["0.0.0.0/0"], "allow_public_traffic": false});
    assert_eq!(out["closed_info"], json!([false, closed]), "{out}");
    let allowed =
        json!({"allow_out": [format!("origin.test:{port}")], "deny_out": ["0.0.0.0/0"], "allow_public_traffic": true});
    assert_eq!(out["allowed_info"], allowed, "{out}");
    // denyOut everything, allowOut one name: that name only, for commands and cells.
    assert_eq!(out["allowed_command"], hello, "{out}");
    let refused = out["refused_command"].as_str().unwrap();
    assert!(refused.starts_with("403") && refused.contains("not in the run's egress allowlist"), "{out}");
    assert_eq!(out["allowed_cell"], hello, "{out}");
    // A denied range holds for every allowed name that resolves into it.
    let denied = out["denied_range"].as_str().unwrap();
    assert!(denied.starts_with("403") && denied.contains("denied range 127.0.0.0/8"), "{out}");
    // Refused at create, with E2B's 400 naming why.
    for (key, why) in [
        ("address_allowed", "host names only"),
        ("domain_denied", "domain names are not supported for deny rules"),
        ("outside_cap", "outside what this server allows"),
    ] {
        let message = out[key].as_str().unwrap_or_default();
        assert!(message.contains(why), "{key}: {out}");
    }
    assert_eq!(out["async"][0], hello, "{out}");
    assert!(out["async"][1].as_str().unwrap().starts_with("403"), "{out}");
    assert_eq!(origin.hits(), 3, "only the allowed requests reach the server: {out}");
}
