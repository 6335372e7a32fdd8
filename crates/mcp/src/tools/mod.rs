//! The MCP server: the executor's tools over a [`Backend`], the same for the `/mcp` route and
//! the stdio subcommand.

mod content;
pub mod params;
pub mod processes;

use std::sync::Arc;

use base64::Engine;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Extensions, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use serde_json::Value;

use crate::backend::{Answer, ApiCall, Backend, Failure, MAX_DOWNLOAD_BYTES};
use params::{CreateSession, DownloadFile, Encoding, RunCode, SessionRef, UploadFile};

const INSTRUCTIONS: &str = "Runs code in isolated, disposable Linux sandboxes (no network). \
    `run_code` alone runs a program in a fresh sandbox and returns its output; for state that \
    lives between calls (variables, imports, files), `create_session` first and pass its \
    `session_id` to `run_code`, `upload_file`, `download_file` and `list_files`, then \
    `destroy_session` when done. Charts drawn with matplotlib come back as images. \
    `run_command` runs a shell command in a session's sandbox (to its end, or in the background \
    with `read_process_output` to read it later).";

/// The executor's tools, calling `backend`.
#[derive(Clone)]
pub struct SandboxTools {
    backend: Arc<dyn Backend>,
    tool_router: ToolRouter<SandboxTools>,
    /// Where results' exact text goes when the backend does not tell (stdio).
    splices: Option<crate::Splices>,
}

impl SandboxTools {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        SandboxTools { backend, tool_router: Self::tool_router() + Self::process_router(), splices: None }
    }

    /// The same tools, noting results' exact text in `splices` for the transport.
    pub fn with_splices(mut self, splices: crate::Splices) -> Self {
        self.splices = Some(splices);
        self
    }

    async fn call(&self, call: ApiCall, request: &Extensions) -> Result<Answer, CallToolResult> {
        self.backend.call(call, request).await.map_err(refusal)
    }

    async fn json(&self, call: ApiCall, request: &Extensions) -> Result<Value, CallToolResult> {
        match self.call(call, request).await? {
            Answer::Json { value, .. } => Ok(value),
            Answer::File { .. } => Err(failed("the executor answered a file where JSON was expected".into(), None)),
        }
    }
}

/// A call the executor refused (bad arguments, an unknown or expired session, another tenant's
/// session, a file over a limit, a full queue) or could not answer, as the MCP specification
/// has tools report their errors: a result with `is_error`, whose text a model reads (and can
/// correct its call by), and whose structured content is the API's error body. Only what is
/// not a call of a tool (an unknown tool, a malformed request) is a JSON-RPC error.
fn refusal(failure: Failure) -> CallToolResult {
    let message = failure.message();
    match failure {
        Failure::Api { body, .. } => failed(message, Some(body)),
        Failure::Unreachable(_) | Failure::FileTooLarge { .. } => failed(message, None),
    }
}

fn failed(message: String, body: Option<Value>) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.structured_content = body;
    result
}

/// Arguments the tool refuses before calling the executor; the executor's own validation
/// error body has the same fields.
fn bad_argument(message: impl Into<String>) -> CallToolResult {
    let message = message.into();
    let body = serde_json::json!({
        "error_code": "Executor.ValidationError",
        "description": "The tool's arguments are invalid.",
        "error_detail": message,
        "solution": "Correct the arguments as the tool's input schema describes.",
    });
    failed(format!("The tool's arguments are invalid: {message}"), Some(body))
}

/// A file over what `download_file` returns: the HTTP API streams it.
fn too_large(args: &DownloadFile, size: Option<u64>) -> CallToolResult {
    let size = size.map_or_else(|| "more than".to_owned(), |size| format!("{size} bytes,"));
    let detail = format!("{} is {size} over the {MAX_DOWNLOAD_BYTES} bytes download_file returns", args.path);
    let solution = format!(
        "Download it with the executor's HTTP API, which streams files of any size: GET /session/{}/files/{}; \
         or have the session's code read or summarise it.",
        args.session_id, args.path
    );
    let body = serde_json::json!({
        "error_code": "Executor.PayloadTooLarge",
        "description": "The file is too large for download_file (a tool's result is one JSON message).",
        "error_detail": detail,
        "solution": solution,
    });
    failed(format!("The file is too large for download_file: {detail}. {solution}"), Some(body))
}

/// A tool's answer either way: what it shows on success, or the refusal.
fn either(outcome: Result<CallToolResult, CallToolResult>) -> Result<CallToolResult, ErrorData> {
    Ok(outcome.unwrap_or_else(|refused| refused))
}

#[tool_router]
impl SandboxTools {
    #[tool(
        description = "Run Python, JavaScript or shell code in an isolated sandbox and return its \
        stdout, stderr, errors (with traceback) and any matplotlib charts as images. Without \
        session_id each call is a fresh sandbox (nothing persists); with session_id the code runs \
        in that session, keeping variables, imports and files between calls, and the value of the \
        last expression is returned. The sandbox has no network access.",
        annotations(title = "Run code", open_world_hint = false)
    )]
    async fn run_code(
        &self,
        Parameters(args): Parameters<RunCode>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        either(self.run(args, &request).await)
    }

    #[tool(
        description = "Create a session: a sandboxed workspace whose interpreters keep their state \
        (variables, imports) and whose files persist between run_code calls, like a notebook \
        kernel. Returns its session_id. It expires after ttl idle seconds; destroy it when done.",
        annotations(title = "Create a session", open_world_hint = false)
    )]
    async fn create_session(
        &self,
        Parameters(args): Parameters<CreateSession>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        either(self.json(ApiCall::CreateSession(params::create_body(&args)), &request).await.map(|session| {
            let id = session.get("session_id").and_then(Value::as_str).unwrap_or("?");
            let template = session.get("template").and_then(Value::as_str).unwrap_or("default");
            content::json_result(format!("Created session {id} (template {template})."), session)
        }))
    }

    #[tool(
        description = "Destroy a session: stop its interpreters and delete its workspace and files.",
        annotations(
            title = "Destroy a session",
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn destroy_session(
        &self,
        Parameters(args): Parameters<SessionRef>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let body = serde_json::json!({"session_id": args.session_id});
        either(
            self.json(ApiCall::DestroySession(body), &request)
                .await
                .map(|answer| content::json_result(format!("Destroyed session {}.", args.session_id), answer)),
        )
    }

    #[tool(
        description = "Write a file into a session's workspace (the working directory of its code), \
        e.g. data to analyse. Give the content as text, or as base64 with encoding \"base64\" for \
        binary files. An existing file at that path is replaced.",
        annotations(title = "Upload a file", open_world_hint = false)
    )]
    async fn upload_file(
        &self,
        Parameters(args): Parameters<UploadFile>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        either(self.upload(args, &request).await)
    }

    #[tool(
        description = "Read a file from a session's workspace, e.g. a result the code wrote. Text \
        files come back as text, images (PNG, JPEG, GIF, WebP) as images, other binary files as \
        base64. Files over 4 MiB are refused: summarise them with run_code instead.",
        annotations(title = "Download a file", read_only_hint = true, open_world_hint = false)
    )]
    async fn download_file(
        &self,
        Parameters(args): Parameters<DownloadFile>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        either(self.download(args, &request).await)
    }

    #[tool(
        description = "List the files of a session's workspace (every regular file at any depth, \
        with its size and MIME type).",
        annotations(title = "List files", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_files(
        &self,
        Parameters(args): Parameters<SessionRef>,
        request: Extensions,
    ) -> Result<CallToolResult, ErrorData> {
        let call = ApiCall::ListFiles { session_id: args.session_id };
        either(self.json(call, &request).await.map(|answer| content::json_result(file_listing(&answer), answer)))
    }
}

/// What the tools do, past their arguments' parsing.
impl SandboxTools {
    async fn run(&self, args: RunCode, request: &Extensions) -> Result<CallToolResult, CallToolResult> {
        if args.session_id.is_some() && args.template.is_some() {
            return Err(bad_argument(
                "`template` and `session_id` do not go together: a session keeps the template it was created \
                 with; leave out `template`, or leave out `session_id` to run in a fresh sandbox",
            ));
        }
        let body = params::run_body(&args);
        let call = if args.session_id.is_some() { ApiCall::SessionExecute(body) } else { ApiCall::Execute(body) };
        let (value, text) = match self.call(call, request).await? {
            Answer::Json { value, text } => (value, text),
            Answer::File { .. } => {
                return Err(failed("the executor answered a file where JSON was expected".into(), None))
            }
        };
        if let Some(splices) = self.backend.splices(request).or_else(|| self.splices.clone()) {
            splices.note(&value, &text);
        }
        Ok(content::run_result(value))
    }

    async fn upload(&self, args: UploadFile, request: &Extensions) -> Result<CallToolResult, CallToolResult> {
        params::check_path(&args.path).map_err(|e| bad_argument(e.to_string()))?;
        let bytes = match args.encoding {
            Encoding::Text => args.content.into_bytes(),
            Encoding::Base64 => decode_base64(&args.content)?,
        };
        let call = ApiCall::PutFile { session_id: args.session_id, path: args.path.clone(), bytes };
        let answer = self.json(call, request).await?;
        let size = answer.pointer("/file/size").and_then(Value::as_u64).unwrap_or(0);
        Ok(content::json_result(format!("Wrote {} ({size} bytes).", args.path), answer))
    }

    async fn download(&self, args: DownloadFile, request: &Extensions) -> Result<CallToolResult, CallToolResult> {
        params::check_path(&args.path).map_err(|e| bad_argument(e.to_string()))?;
        let call = ApiCall::GetFile { session_id: args.session_id.clone(), path: args.path.clone() };
        let answer = self.backend.call(call, request).await.map_err(|failure| match failure {
            Failure::FileTooLarge { size } => too_large(&args, size),
            failure => refusal(failure),
        })?;
        Ok(match answer {
            Answer::File { bytes, mime_type } => content::file_result(&args.session_id, &args.path, bytes, &mime_type),
            Answer::Json { value, .. } => content::json_result(value.to_string(), value),
        })
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, CallToolResult> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(compact)
        .map_err(|e| bad_argument(format!("`content` is not valid base64 ({e}); with encoding \"base64\" send the file's bytes in standard base64, or use encoding \"text\"")))
}

/// One line per file: its path, size and type.
fn file_listing(answer: &Value) -> String {
    let files = answer.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
    if files.is_empty() {
        return "The workspace has no files.".to_owned();
    }
    files
        .iter()
        .map(|f| {
            let field = |name: &str| f.get(name).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            format!(
                "{} ({} bytes, {})",
                field("path").unwrap_or_default(),
                field("size").unwrap_or_default(),
                field("mime_type").unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SandboxTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("sandbox-executor", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
