//! The MCP server, through the official MCP Python SDK's client (package `mcp`, pinned in the
//! venv `scripts/install-test-tools.sh` makes): over Streamable HTTP at the daemon's `/mcp`, and
//! over stdio through `sandbox-executor mcp`. The client is `mcp/client.py`, driven by a plan
//! of steps; these tests check what it reports.

mod access;
mod commands;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, Daemon};

const TOOLS: [&str; 8] = [
    "create_session",
    "destroy_session",
    "download_file",
    "list_files",
    "read_process_output",
    "run_code",
    "run_command",
    "upload_file",
];

/// The venv's python with the MCP SDK, or None (skipped with the reason printed) off CI when it
/// is not installed.
pub(crate) fn python() -> Option<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("SANDBOX_TEST_TOOLS").unwrap_or_else(|_| "/var/cache/sandbox-executor/test-tools".into()),
    );
    let python = dir.join("bin/python");
    let has_sdk = std::fs::read_dir(dir.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|v| v.path().join("site-packages/mcp/client/streamable_http.py").exists());
    if python.exists() && has_sdk {
        return Some(python);
    }
    let reason = format!("the MCP Python SDK is not installed in {} (scripts/install-test-tools.sh)", dir.display());
    if common::sandbox_tests_required() {
        panic!("{reason}");
    }
    eprintln!("SKIP: {reason}");
    None
}

/// How the client connects.
pub(crate) fn over_http(d: &Daemon, headers: Value) -> Value {
    json!({"transport": "http", "url": format!("{}/mcp", d.base), "headers": headers})
}

pub(crate) fn over_stdio(d: &Daemon, extra: &[&str]) -> Value {
    let mut args = vec!["mcp".to_owned(), "--url".to_owned(), d.base.clone()];
    args.extend(extra.iter().map(|a| a.to_string()));
    // The client passes a small default environment: nothing of the tests' own leaks in.
    json!({"transport": "stdio", "command": common::BIN, "args": args, "env": {}})
}

/// Runs the client with `steps`; its report for each step (or `{"connect_error": ...}`).
pub(crate) async fn client(python: &Path, connect: Value, steps: Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/mcp/client.py");
    let plan = json!({"connect": connect, "steps": steps}).to_string();
    let output = tokio::process::Command::new(python).arg(script).arg(&plan).output().await.expect("run the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("the client printed no report ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr))
    })
}

pub(crate) fn call(tool: &str, args: Value) -> Value {
    json!({"op": "call", "tool": tool, "args": args})
}

pub(crate) fn texts(report: &Value) -> String {
    let content = report["content"].as_array().cloned().unwrap_or_default();
    content.iter().filter_map(|c| c["text"].as_str()).collect::<Vec<_>>().join("\n")
}

/// A report of a tool result with `is_error`, whose structured content is the API's error
/// `code`; its text.
pub(crate) fn refused(report: &Value, code: &str) -> String {
    assert_eq!(report["is_error"], true, "expected a refusal: {report}");
    assert_eq!(report["structured"]["error_code"], code, "{report}");
    let text = texts(report);
    assert!(!text.is_empty(), "a refusal says why: {report}");
    text
}

/// Every tool is listed, with an object schema that says what it takes.
fn check_tools(report: &Value) {
    let tools = report["tools"].as_array().expect("listed tools");
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, TOOLS, "{report}");
    for tool in tools {
        assert!(tool["description"].as_str().is_some_and(|d| d.len() > 40), "{tool}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    let run_code = tools.iter().find(|t| t["name"] == "run_code").unwrap();
    let schema = &run_code["inputSchema"];
    assert_eq!(schema["required"], json!(["code"]), "{schema}");
    for field in ["language", "code", "timeout", "session_id", "template"] {
        assert!(schema["properties"][field]["description"].is_string(), "run_code's {field}: {schema}");
    }
    let languages: Vec<&str> = schema["$defs"]["Language"]["oneOf"]
        .as_array()
        .map(|v| v.iter().filter_map(|l| l["const"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(languages, ["python", "javascript", "shell"], "{schema}");
    let upload = tools.iter().find(|t| t["name"] == "upload_file").unwrap();
    assert_eq!(upload["inputSchema"]["required"], json!(["session_id", "path", "content"]), "{upload}");
}

/// The steps every transport goes through; [`check_tour`] reads their reports.
fn tour() -> Value {
    json!([
        {"op": "list_tools"},
        call("run_code", json!({"language": "python", "code": "print('hello from mcp')"})),
        call("run_code", json!({"language": "javascript", "code": "console.log(6 * 7)"})),
        call("run_code", json!({"code": "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint('drawn')",
                                "template": "python-data", "timeout": 120})),
        {"op": "call", "tool": "create_session", "args": {"ttl": 120}, "save": {"s": "/session_id"}},
        call("run_code", json!({"session_id": "$s", "code": "x = 41"})),
        call("run_code", json!({"session_id": "$s", "code": "x + 1"})),
        call("upload_file", json!({"session_id": "$s", "path": "data/in.txt", "content": "héllo\n"})),
        call("upload_file", json!({"session_id": "$s", "path": "data/b.bin", "content": "AP8=", "encoding": "base64"})),
        call("run_code", json!({"session_id": "$s", "code": "print(open('data/in.txt').read().upper(), end='')"})),
        call("download_file", json!({"session_id": "$s", "path": "data/in.txt"})),
        call("download_file", json!({"session_id": "$s", "path": "data/b.bin"})),
        call("list_files", json!({"session_id": "$s"})),
        call("run_code", json!({"code": "raise ValueError('bad value')"})),
        call("destroy_session", json!({"session_id": "$s"})),
        call("run_code", json!({"session_id": "$s", "code": "x"})),
        {"op": "call", "tool": "create_session", "args": {"template": "python-data"}, "save": {"d": "/session_id"}},
        call("run_code", json!({"session_id": "$d", "code": "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 5])\nplt.show()\n6 * 7"})),
        call("destroy_session", json!({"session_id": "$d"})),
    ])
}

async fn check_tour(r: &Value) {
    let r = r.as_array().unwrap_or_else(|| panic!("the client failed: {r}"));
    check_tools(&r[0]);
    let hello = &r[1];
    assert_eq!((hello["is_error"].as_bool(), texts(hello).as_str()), (Some(false), "hello from mcp\n"), "{hello}");
    assert_eq!(hello["structured"]["status"], "success", "the whole result: {hello}");
    assert!(hello["structured"]["isolation"].as_array().is_some_and(|l| !l.is_empty()), "{hello}");
    assert_eq!(texts(&r[2]), "42\n", "{}", r[2]);
    let chart = &r[3];
    assert_eq!(chart["is_error"], false, "{chart}");
    let images: Vec<&Value> = chart["content"].as_array().unwrap().iter().filter(|c| c["type"] == "image").collect();
    assert_eq!(images.len(), 1, "one chart as image content: {chart}");
    assert_eq!(images[0]["mimeType"], "image/png", "{chart}");
    assert!(images[0]["data"].as_str().unwrap().starts_with("iVBORw0KGgo"), "a PNG: {chart}");
    let session = r[4]["structured"]["session_id"].as_str().unwrap_or_else(|| panic!("{}", r[4]));
    assert!(texts(&r[4]).contains(session), "{}", r[4]);
    assert_eq!(r[5]["is_error"], false, "{}", r[5]);
    assert_eq!((texts(&r[6]).as_str(), &r[6]["structured"]["display"]), ("Out: 42", &json!("42")), "{}", r[6]);
    assert_eq!(r[7]["structured"]["file"]["size"], 7, "{}", r[7]);
    assert_eq!(r[8]["structured"]["file"]["size"], 2, "{}", r[8]);
    assert_eq!(texts(&r[9]), "HÉLLO\n", "the upload reached the session's workspace: {}", r[9]);
    assert_eq!((texts(&r[10]).as_str(), &r[10]["structured"]["encoding"]), ("héllo\n", &json!("text")), "{}", r[10]);
    let binary = &r[11];
    assert_eq!(
        (&binary["structured"]["encoding"], &binary["structured"]["content"]),
        (&json!("base64"), &json!("AP8="))
    );
    assert!(binary["content"].as_array().unwrap().iter().any(|c| c["resource"]["blob"] == "AP8="), "{binary}");
    let listed: Vec<&str> =
        r[12]["structured"]["files"].as_array().unwrap().iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(listed, ["data/b.bin", "data/in.txt"], "{}", r[12]);
    let failed = &r[13];
    assert_eq!((&failed["is_error"], &failed["structured"]["status"]), (&json!(true), &json!("failed")), "{failed}");
    assert!(texts(failed).contains("ValueError: bad value"), "{failed}");
    assert_eq!(r[14]["is_error"], false, "{}", r[14]);
    assert!(refused(&r[15], "Executor.NotFound").contains(session), "{}", r[15]);
    // A figure a session cell shows: its image (once, though it is a displayed result and an
    // output file both), and the cell's value.
    let cell = &r[17];
    let images: Vec<&Value> = cell["content"].as_array().unwrap().iter().filter(|c| c["type"] == "image").collect();
    assert_eq!(images.len(), 1, "one chart as image content: {cell}");
    assert_eq!((images[0]["mimeType"].as_str(), texts(cell).as_str()), (Some("image/png"), "Out: 42"), "{cell}");
}

/// Builds python-data ahead of the tour (the first build takes minutes).
async fn python_data_built(d: &Daemon) {
    let body = json!({"code": "import matplotlib", "template": "python-data", "timeout": 120});
    let response = d.client().post(format!("{}/execute", d.base)).timeout(Duration::from_secs(1800)).json(&body);
    let status = response.send().await.expect("POST /execute").status();
    assert_eq!(status, 200, "python-data could not be built");
}

#[tokio::test]
async fn the_sdk_client_runs_code_charts_sessions_and_files_over_streamable_http() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    python_data_built(&d).await;
    check_tour(&client(&python, over_http(&d, json!({})), tour()).await).await;
}

#[tokio::test]
async fn the_sdk_client_runs_code_charts_sessions_and_files_over_the_stdio_subcommand() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    python_data_built(&d).await;
    check_tour(&client(&python, over_stdio(&d, &[]), tour()).await).await;
}

/// Arguments the tools cannot take, an unknown tool, sessions that do not exist: clear errors,
/// and the daemon serves on.
#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    let steps = json!([
        call("no_such_tool", json!({})),
        call("run_code", json!({"code": 5})),
        call("run_code", json!({"code": "1", "language": "cobol"})),
        call("run_code", json!({"code": "1", "surprise": true})),
        call("run_code", json!({})),
        call("run_code", json!({"code": "1", "session_id": "0123456789ab"})),
        call("run_code", json!({"code": "1", "session_id": "../../etc"})),
        call("run_code", json!({"code": "1", "session_id": "0123456789ab", "template": "default"})),
        call("run_code", json!({"code": "1", "template": "no-such-template"})),
        call("run_code", json!({"code": "1", "timeout": -3})),
        call("create_session", json!({"ttl": "long"})),
        call("destroy_session", json!({"session_id": "0123456789ab"})),
        call("upload_file", json!({"session_id": "0123456789ab", "path": "../x", "content": "x"})),
        call("upload_file", json!({"session_id": "0123456789ab", "path": "x", "content": "%%", "encoding": "base64"})),
        call("download_file", json!({"session_id": "0123456789ab", "path": "x"})),
        call("run_code", json!({"code": "print('still serving')"})),
    ]);
    let r = client(&python, over_http(&d, json!({})), steps).await;
    let r = r.as_array().unwrap_or_else(|| panic!("the client failed: {r}"));
    assert_eq!(r[0]["error"]["code"], -32602, "an unknown tool is a JSON-RPC error: {}", r[0]);
    assert!(r[0]["error"]["message"].as_str().unwrap().contains("tool not found"), "{}", r[0]);
    for (i, says) in [
        (1, "expected a string"),
        (2, "unknown variant"),
        (3, "unknown field"),
        (4, "missing field `code`"),
        (10, "invalid type"),
    ] {
        assert_eq!(r[i]["is_error"], true, "step {i}: {}", r[i]);
        assert!(texts(&r[i]).contains(says), "step {i} says {says:?}: {}", r[i]);
    }
    for i in [5, 6, 11, 14] {
        assert!(refused(&r[i], "Executor.NotFound").contains("not found or expired"), "step {i}: {}", r[i]);
    }
    for i in [7, 9, 12, 13] {
        refused(&r[i], "Executor.ValidationError");
    }
    assert!(refused(&r[8], "Executor.NotFound").contains("no-such-template"), "{}", r[8]);
    assert_eq!(texts(&r[15]), "still serving\n", "{}", r[15]);
}

/// Requests that are no MCP message get a JSON-RPC error without an id, with an HTTP status
/// that says why.
#[tokio::test]
async fn malformed_requests_get_jsonrpc_errors() {
    let d = Daemon::start().await;
    let url = format!("{}/mcp", d.base);
    let both = "application/json, text/event-stream";
    let cases = [
        (d.client().get(&url), 405, -32600),
        (d.client().post(&url).header("content-type", "application/json").body("{}"), 406, -32600),
        (d.client().post(&url).header("accept", both).header("content-type", "text/plain").body("{}"), 415, -32600),
        (
            d.client().post(&url).header("accept", both).header("content-type", "application/json").body("{bad"),
            400,
            -32700,
        ),
        (
            d.client().post(&url).header("accept", both).header("content-type", "application/json").body("[1, 2]"),
            400,
            -32600,
        ),
    ];
    for (i, (request, status, code)) in cases.into_iter().enumerate() {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "case {i}");
        let body: Value = response.json().await.unwrap_or_else(|e| panic!("case {i}: not JSON: {e}"));
        assert_eq!(
            (&body["jsonrpc"], &body["id"], &body["error"]["code"]),
            (&json!("2.0"), &Value::Null, &json!(code)),
            "case {i}: {body}"
        );
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "case {i}: {body}");
    }
    assert_eq!(d.get("/health").await.status, 200);
}

/// `download_file` of a file over its cap (a tool's result is one JSON message held whole in
/// memory): a clear refusal that points to the HTTP API, over both transports; a file within
/// it comes back whole.
#[tokio::test]
async fn download_file_refuses_a_file_over_its_cap_and_names_the_http_api() {
    let Some(python) = python() else { return };
    let Some(d) = common::sandboxed().await else { return };
    let write = "head -c 5000000 /dev/zero > big.bin && head -c 4194304 /dev/zero | tr '\\0' a > edge.txt";
    let steps = json!([
        {"op": "call", "tool": "create_session", "args": {}, "save": {"s": "/session_id"}},
        call("run_code", json!({"session_id": "$s", "language": "shell", "code": write})),
        call("download_file", json!({"session_id": "$s", "path": "big.bin"})),
        call("download_file", json!({"session_id": "$s", "path": "edge.txt"})),
    ]);
    for connect in [over_http(&d, json!({})), over_stdio(&d, &[])] {
        let r = client(&python, connect, steps.clone()).await;
        let r = r.as_array().unwrap_or_else(|| panic!("the client failed: {r}"));
        assert_eq!(r[1]["is_error"], false, "{}", r[1]);
        // Not the whole report when it is the file itself: 5 MB of it.
        assert_eq!(r[2]["is_error"], true, "the file came back: {}", r[2]["structured"]["size"]);
        let text = refused(&r[2], "Executor.PayloadTooLarge");
        assert!(text.contains("5000000 bytes") && text.contains("4194304"), "{text}");
        assert!(text.contains("GET /session/") && text.contains("/files/big.bin"), "{text}");
        assert_eq!(r[3]["is_error"], false, "a file of exactly the cap comes back: {}", r[3]);
        assert_eq!(r[3]["structured"]["size"], 4194304, "{}", r[3]["structured"]["path"]);
    }
}

/// Where each of the answer's fields begins in `text`, in the order they come.
fn field_order(text: &str) -> Vec<&'static str> {
    let fields = ["\"execution_id\"", "\"status\"", "\"stdout\"", "\"exit_code\"", "\"return_value\"", "\"metrics\""];
    let mut found: Vec<(usize, &str)> = fields.iter().filter_map(|f| text.find(f).map(|at| (at, *f))).collect();
    found.sort();
    found.into_iter().map(|(_, f)| f).collect()
}

/// `run_code`'s structured content is the API's answer to the letter, over both transports:
/// integers past 64 bits keep every digit, the handler's keys and the answer's fields keep
/// their order.
#[tokio::test]
async fn run_code_structured_content_is_the_exact_answer() {
    let Some(python) = python() else { return };
    let d = Daemon::start().await;
    if !common::sandbox_or_skip(&d).await {
        return;
    }
    let code = "def handler(event):\n    return {\"b\": 10**30, \"a\": 2**64 + 1, \"n\": [-(2**70)]}";
    let exact = r#""return_value":{"b":1000000000000000000000000000000,"a":18446744073709551617,"n":[-1180591620717411303424]}"#;
    let plain = d.client().post(format!("{}/execute", d.base)).json(&json!({"code": code, "language": "python"}));
    let plain = plain.send().await.unwrap().text().await.unwrap();
    assert!(plain.contains(exact), "the plain answer: {plain}");
    for connect in [over_http(&d, json!({})), over_stdio(&d, &[])] {
        let report = client(&python, connect, json!([call("run_code", json!({"code": code}))])).await;
        let text = report[0]["structured_text"].as_str().unwrap_or_else(|| panic!("{report}"));
        assert!(text.contains(exact), "the structured content: {text}");
        assert_eq!(field_order(text), field_order(&plain), "{text}\n{plain}");
    }
}
