//! The executor's answers as MCP content: text a model reads (output, the last expression's
//! value, errors), images for charts, and the whole answer as structured content.

use base64::Engine;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::{json, Value};

/// Image types MCP clients show inline.
const INLINE_IMAGES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

fn text_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

/// A run's result (`POST /execute` or `POST /session/execute`): `is_error` unless its status is
/// `success`.
pub fn run_result(result: Value) -> CallToolResult {
    let status = text_of(&result, "status").to_owned();
    let mut content: Vec<ContentBlock> = run_text(&result, &status).into_iter().map(ContentBlock::text).collect();
    content.extend(images(&result));
    let mut answer =
        if status == "success" { CallToolResult::success(content) } else { CallToolResult::error(content) };
    answer.structured_content = Some(result);
    answer
}

/// The text blocks of a run: stdout as it is, then the last expression's value, stderr, the
/// error and, for a run that did not succeed, how it ended.
fn run_text(result: &Value, status: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let stdout = text_of(result, "stdout");
    if !stdout.is_empty() {
        blocks.push(stdout.to_owned());
    }
    if let Some(display) = result.get("display").and_then(Value::as_str) {
        blocks.push(format!("Out: {display}"));
    }
    let stderr = text_of(result, "stderr");
    if !stderr.is_empty() {
        blocks.push(format!("stderr:\n{stderr}"));
    }
    if let Some(error) = result.get("error").filter(|e| e.is_object()) {
        // A script's traceback is its stderr already: then the error's name and message suffice.
        let traceback = text_of(error, "traceback");
        let head = format!("Error: {}: {}", text_of(error, "type"), text_of(error, "message"));
        let shown = traceback.is_empty() || stderr.contains(traceback.trim());
        blocks.push(if shown { head } else { format!("{head}\n{traceback}") });
    }
    let truncated: Vec<&str> = ["stdout", "stderr"]
        .into_iter()
        .filter(|s| result.pointer(&format!("/truncated/{s}")).and_then(Value::as_bool) == Some(true))
        .collect();
    if !truncated.is_empty() {
        blocks.push(format!("({} cut at the output limit)", truncated.join(" and ")));
    }
    if status != "success" {
        blocks.push(ending(result, status));
    }
    if blocks.is_empty() {
        blocks.push("(the code ran and printed nothing)".to_owned());
    }
    blocks
}

fn ending(result: &Value, status: &str) -> String {
    let mut line = format!("status: {status}");
    if let Some(code) = result.get("exit_code").and_then(Value::as_i64) {
        line.push_str(&format!(", exit code {code}"));
    }
    if let Some(reason) = result.get("termination_reason").and_then(Value::as_str) {
        line.push_str(&format!(", reason: {reason}"));
    }
    if let Some(note) = result.get("note").and_then(Value::as_str) {
        line.push_str(&format!("\n{note}"));
    }
    line
}

/// Charts and other images: the rich results (MIME bundles) a session cell displayed, and the
/// run's artifacts that came back with content (once each: a figure may be both).
fn images(result: &Value) -> Vec<ContentBlock> {
    let mut found: Vec<(&str, &str)> = Vec::new();
    for rich in result.get("results").and_then(Value::as_array).into_iter().flatten() {
        let Some(data) = rich.get("data").and_then(Value::as_object) else { continue };
        if let Some(image) =
            INLINE_IMAGES.iter().find_map(|kind| data.get(*kind).and_then(Value::as_str).map(|d| (*kind, d)))
        {
            found.push(image);
        }
    }
    for artifact in result.get("artifacts").and_then(Value::as_array).into_iter().flatten() {
        let kind = text_of(artifact, "type");
        if let (true, Some(data)) = (INLINE_IMAGES.contains(&kind), artifact.get("content").and_then(Value::as_str)) {
            if !found.iter().any(|(_, seen)| *seen == data) {
                found.push((kind, data));
            }
        }
    }
    found.into_iter().map(|(kind, data)| ContentBlock::image(data, kind)).collect()
}

/// A JSON answer shown as it is: pretty text, and the same as structured content.
pub fn json_result(summary: String, answer: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(summary)]);
    result.structured_content = Some(answer);
    result
}

/// A downloaded file: an image inline, text as text, anything else as an embedded binary
/// resource. The structured content describes it (and holds its content).
pub fn file_result(session_id: &str, path: &str, bytes: Vec<u8>, mime_type: &str) -> CallToolResult {
    let size = bytes.len();
    let essence = mime_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let uri = format!("session://{session_id}/{path}");
    let describe = |encoding: &str, content: &str| {
        json!({"session_id": session_id, "path": path, "size": size, "mime_type": essence,
               "encoding": encoding, "content": content})
    };
    let (content, structured) = if INLINE_IMAGES.contains(&essence.as_str()) {
        let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let header = ContentBlock::text(format!("{path}: {size} bytes, {essence}"));
        (vec![header, ContentBlock::image(data.clone(), essence.clone())], describe("base64", &data))
    } else {
        match String::from_utf8(bytes) {
            Ok(text) => (vec![ContentBlock::text(text.clone())], describe("text", &text)),
            Err(err) => {
                let data = base64::engine::general_purpose::STANDARD.encode(err.as_bytes());
                let header = ContentBlock::text(format!("{path}: {size} bytes, {essence}, binary (base64 below)"));
                let blob = ResourceContents::blob(data.clone(), uri).with_mime_type(essence.clone());
                (vec![header, ContentBlock::resource(blob)], describe("base64", &data))
            }
        }
    };
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_is_an_error_with_its_traceback() {
        let result = run_result(json!({
            "status": "failed", "stdout": "", "stderr": "boom\n", "exit_code": 1,
            "error": {"type": "ValueError", "message": "bad", "traceback": "Traceback..."},
            "truncated": {"stdout": false, "stderr": false}, "artifacts": [],
        }));
        assert_eq!(result.is_error, Some(true));
        let text: Vec<&str> = result.content.iter().filter_map(|c| c.as_text()).map(|t| t.text.as_str()).collect();
        assert_eq!(text, ["stderr:\nboom\n", "Error: ValueError: bad\nTraceback...", "status: failed, exit code 1"]);
    }

    #[test]
    fn charts_come_back_as_images() {
        let result = run_result(json!({
            "status": "success", "stdout": "done\n",
            "artifacts": [{"type": "image/png", "content": "iVBORw0K"}, {"type": "text/csv", "content": "YQ=="},
                          {"type": "image/png", "path": "big.png"}],
            "results": [{"is_main_result": true, "data": {"text/plain": "<Figure>", "image/png": "AAAA"}}],
        }));
        assert_eq!(result.is_error, Some(false));
        let images: Vec<&str> = result.content.iter().filter_map(|c| c.as_image()).map(|i| i.data.as_str()).collect();
        assert_eq!(images, ["AAAA", "iVBORw0K"]);
        assert_eq!(result.content[0].as_text().map(|t| t.text.as_str()), Some("done\n"));
    }

    #[test]
    fn files_are_text_images_or_binary_resources() {
        let text = file_result("s", "a.txt", b"hi\n".to_vec(), "text/plain");
        assert_eq!(text.content[0].as_text().map(|t| t.text.as_str()), Some("hi\n"));
        let image = file_result("s", "p.png", vec![0x89, b'P'], "image/png");
        assert!(image.content[1].as_image().is_some());
        let binary = file_result("s", "b.bin", vec![0xff, 0xfe], "application/octet-stream");
        assert!(matches!(binary.content[1], ContentBlock::Resource(_)));
        assert_eq!(binary.structured_content.unwrap()["content"], "//4=");
    }
}
