//! The wire between the daemon and the drivers in `runtimes/`: the descriptors a driver finds
//! at start, the lines it writes on a handed socket, the message that gives a pre-started
//! driver its run, and the paths inside the sandbox the drivers and the daemon agree on.
//! How each language's program is started is [`crate::runtime`]'s.

use crate::spec::rootfs;
use crate::templates::Environment;
use crate::{ExecutionRequest, ExecutorConfig, Language};

/// The descriptor on which a driver sends back the handler's return value or error.
pub const CHANNEL_FD: i32 = 3;
/// The descriptor on which a session's interpreter reads requests and answers them.
pub const SESSION_FD: i32 = 3;
/// The descriptor on which a pre-started driver (or a zygote) waits for its run (the channel
/// stays at [`CHANNEL_FD`]).
pub const WARM_FD: i32 = 4;

/// What a pre-started driver or a zygote writes on its socket once it has imported what it
/// preloads and waits for runs.
pub const READY: &[u8; 6] = b"ready\n";
/// What a pre-started driver answers once it has read its whole run: only then has it the run.
pub const TAKEN: &[u8; 6] = b"taken\n";

/// The read-only directory inside the sandbox holding a run's driver and code.
pub const SANDBOX_DIR: &str = "/sandbox";
/// Where a pre-started JavaScript driver says the code is: its name in stacks, as the cold
/// path's file (only CommonJS code is run warm).
pub const WARM_JS_CODE: &str = "/sandbox/user.cjs";
/// Where a zygote finds the shared library its forks call (bound read-only in the zygote's
/// sandbox only, never in a run's).
pub const ZYGOTE_LIB: &str = "/opt/sandbox/zygote/libsandbox_zygote.so";
/// Where a forked Python run finds its whole environment (a JSON object), since it is not
/// executed with it.
pub const FORKED_ENVIRON: &str = "/sandbox/environ.json";
/// Where a forked run that is not Python finds the command line its fork executes (a JSON
/// array): a shell run is forked like a Python one, then executes bash.
pub const FORKED_EXEC: &str = "/sandbox/exec.json";

/// The handler's event and context as the driver reads them (JSON text), on every path.
pub(crate) fn event_and_context(config: &ExecutorConfig, req: &ExecutionRequest) -> (String, String) {
    let memory_mb = req.limits.memory_mb.unwrap_or(config.limits.default_memory_mb);
    let event = req.event.clone().unwrap_or_else(|| serde_json::json!({}));
    let context = serde_json::json!({
        "execution_id": req.execution_id,
        "timeout_ms": req.timeout_ms,
        "memory_limit_mb": memory_mb,
    });
    (event.to_string(), context.to_string())
}

/// What a pre-started driver needs to run `req` as a cold driver runs its files: the code,
/// the event and context (as the cold path writes them) and the whole environment of a cold
/// run.
pub(crate) fn run_message(
    config: &ExecutorConfig,
    req: &ExecutionRequest,
    environment: Option<&Environment>,
) -> Vec<u8> {
    let (event, context) = event_and_context(config, req);
    let env: serde_json::Map<String, serde_json::Value> = rootfs::environment(config, environment, &req.env_vars)
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let code_path = match req.language {
        Language::Javascript => WARM_JS_CODE,
        _ => "",
    };
    let message = serde_json::json!({
        "code": req.code,
        "code_path": code_path,
        "event": event,
        "context": context,
        "env": env,
    });
    message.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RequestedLimits, WorkspaceChoice};

    #[test]
    fn a_run_message_carries_what_a_cold_driver_reads_from_its_files() {
        let config = crate::spec::tests::config();
        let req = ExecutionRequest {
            execution_id: "run-1".into(),
            language: Language::Javascript,
            code: "module.exports.handler = () => 1".into(),
            timeout_ms: 2000,
            workspace: WorkspaceChoice::Fresh,
            event: Some(serde_json::json!({"n": 1})),
            stdin: String::new(),
            env_vars: [("PATH".to_string(), "/mine".to_string())].into(),
            files: Vec::new(),
            limits: RequestedLimits { memory_mb: Some(256), ..Default::default() },
            template: None,
            tenant_id: "default".into(),
            scope: None,
            warm: true,
            home_alias: false,
            cancel: None,
            egress: None,
        };
        let node = Environment { language: Language::Javascript, dir: Some("/t/node".into()) };
        let message: serde_json::Value = serde_json::from_slice(&run_message(&config, &req, Some(&node))).unwrap();
        assert_eq!(message["code"], req.code);
        assert_eq!(message["code_path"], WARM_JS_CODE);
        assert_eq!(message["event"], r#"{"n":1}"#);
        let context: serde_json::Value = serde_json::from_str(message["context"].as_str().unwrap()).unwrap();
        assert_eq!(context, serde_json::json!({"execution_id": "run-1", "timeout_ms": 2000, "memory_limit_mb": 256}));
        // The caller's variables come over the template's, which come over the clean base.
        assert_eq!(message["env"]["PATH"], "/mine");
        assert_eq!(message["env"]["NODE_PATH"], "/opt/sandbox-env/node_modules");
        assert_eq!(message["env"]["HOME"], "/tmp");
    }
}
