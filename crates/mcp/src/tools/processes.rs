//! `run_command` and `read_process_output`: shell commands in a session's sandbox, run to their
//! end or left running in the background, their output read later.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::{tool, tool_router, ErrorData};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{bad_argument, content, either, SandboxTools};
use crate::backend::ApiCall;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCommand {
    /// The session (from `create_session`) whose sandbox runs the command. Its processes share
    /// the sandbox: a server started in the background answers later commands on 127.0.0.1.
    pub session_id: String,
    /// A Bash command line, e.g. `ls -la` or `python3 -m http.server 8000`.
    pub command: String,
    /// Leave it running and return its pid at once (read its output with
    /// `read_process_output`); default false: wait for its end and return its output and exit
    /// code.
    #[serde(default)]
    pub background: bool,
    /// Seconds a foreground command may run before it is killed (default: the daemon's default
    /// timeout, 30 s). Not for background commands.
    pub timeout: Option<f64>,
    /// The working directory, an absolute path (default: the workspace).
    pub cwd: Option<String>,
    /// Environment variables added for this command.
    pub env: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadProcessOutput {
    /// The session the process runs in.
    pub session_id: String,
    /// The process's pid, as `run_command` returned it.
    pub pid: i64,
    /// The offset to read from: 0 (the default) for everything kept, or the `next` of the
    /// previous read for only what is new.
    #[schemars(range(min = 0))]
    pub from: Option<u64>,
}

#[tool_router(router = process_router, vis = "pub(super)")]
impl SandboxTools {
    #[tool(
        description = "Run a shell (Bash) command in a session's sandbox. In the foreground (the \
        default) it waits for the command's end and returns its stdout, stderr and exit code; with \
        background true it returns the process's pid at once and the command keeps running (a \
        server, a long job): read its output later with read_process_output. Processes of a \
        session share its sandbox, its /tmp, its files and its 127.0.0.1.",
        annotations(title = "Run a command", open_world_hint = false)
    )]
    async fn run_command(
        &self,
        Parameters(args): Parameters<RunCommand>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        either(self.command(args, &request).await)
    }

    #[tool(
        description = "Read a process's output (stdout and stderr as it wrote them) and, once it \
        ended, its exit code. Pass `from` the `next` of the previous read to get only new output. \
        Output stays readable after the process ended (its last 1 MiB).",
        annotations(title = "Read a process's output", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_process_output(
        &self,
        Parameters(args): Parameters<ReadProcessOutput>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let call = ApiCall::ProcessOutput { session_id: args.session_id, pid: args.pid, from: args.from.unwrap_or(0) };
        either(self.json(call, &request).await.map(|answer| content::json_result(output_text(&answer), answer)))
    }
}

impl SandboxTools {
    async fn command(&self, args: RunCommand, request: &Extensions) -> Result<CallToolResult, CallToolResult> {
        if args.background && args.timeout.is_some() {
            return Err(bad_argument(
                "`timeout` is for foreground commands: a background command runs until it ends or is stopped",
            ));
        }
        let mut body = json!({"command": args.command, "wait": !args.background});
        if let Some(timeout) = args.timeout {
            body["timeout"] = json!(timeout);
        }
        if let Some(cwd) = args.cwd {
            body["cwd"] = json!(cwd);
        }
        if let Some(env) = args.env {
            body["env"] = Value::Object(env);
        }
        let answer = self.json(ApiCall::StartProcess { session_id: args.session_id, body }, request).await?;
        let pid = answer.get("pid").and_then(Value::as_i64).unwrap_or(0);
        if args.background {
            let text = format!("Started process {pid} in the background; read its output with read_process_output.");
            return Ok(content::json_result(text, answer));
        }
        Ok(ran(answer))
    }
}

/// A foreground command's result: `is_error` unless it exited 0.
fn ran(answer: Value) -> CallToolResult {
    let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    let mut blocks = Vec::new();
    let (stdout, stderr) = (field("stdout"), field("stderr"));
    if !stdout.is_empty() {
        blocks.push(stdout);
    }
    if !stderr.is_empty() {
        blocks.push(format!("stderr:\n{stderr}"));
    }
    let code = answer.get("exit_code").and_then(Value::as_i64);
    if answer.get("timed_out").and_then(Value::as_bool) == Some(true) {
        blocks.push("(killed: it ran past its timeout)".to_owned());
    }
    blocks.push(match code {
        Some(code) => format!("exit code {code}"),
        None => "(the sandbox ended before the command did)".to_owned(),
    });
    let mut result = content::json_result(blocks.join("\n"), answer);
    result.is_error = Some(code != Some(0));
    result
}

/// A read's output as text, and where the process is.
fn output_text(answer: &Value) -> String {
    let chunks = answer.get("chunks").and_then(Value::as_array).cloned().unwrap_or_default();
    let text: String = chunks.iter().filter_map(|c| c.get("text").and_then(Value::as_str)).collect();
    let next = answer.get("next").and_then(Value::as_u64).unwrap_or(0);
    let mut lines = vec![if text.is_empty() { "(no new output)".to_owned() } else { text }];
    if let Some(dropped) = answer.get("dropped").and_then(Value::as_u64).filter(|d| *d > 0) {
        lines.push(format!("({dropped} earlier bytes are no longer kept)"));
    }
    lines.push(
        match (answer.get("running").and_then(Value::as_bool), answer.get("exit_code").and_then(Value::as_i64)) {
            (Some(true), _) => format!("(still running; read from {next} for what comes next)"),
            (_, Some(code)) => format!("(ended with exit code {code})"),
            _ => "(ended: the sandbox ended before it did)".to_owned(),
        },
    );
    lines.join("\n")
}
