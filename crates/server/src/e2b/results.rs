//! A cell's displayed values as E2B result lines: the value of its final expression (the
//! main result) with its text form, quotes of a string's repr stripped as the reference
//! server does.

use executor::SessionResult;
use serde_json::{json, Map, Value};

/// The `result` lines of a cell: its MIME bundles, or its display text when the interpreter
/// gave none.
pub fn of(result: &SessionResult) -> Vec<Value> {
    if !result.results.is_empty() {
        return result.results.iter().map(|r| line(&r.data, r.is_main_result)).collect();
    }
    match &result.display {
        Some(text) => vec![line(&mime_bundle_of_text(text), true)],
        None => Vec::new(),
    }
}

fn mime_bundle_of_text(text: &str) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("text/plain".into(), json!(text));
    data
}

/// A result line from a MIME bundle: each known type under E2B's field name, the others
/// under `extra`.
pub fn line(data: &Map<String, Value>, is_main_result: bool) -> Value {
    let mut line = Map::new();
    line.insert("type".into(), json!("result"));
    let mut extra = Map::new();
    for (mime, value) in data {
        let field = match mime.as_str() {
            "text/plain" => "text",
            "text/html" => "html",
            "text/markdown" => "markdown",
            "image/svg+xml" => "svg",
            "image/png" => "png",
            "image/jpeg" => "jpeg",
            "application/pdf" => "pdf",
            "text/latex" => "latex",
            "application/json" => "json",
            "application/javascript" => "javascript",
            "e2b/data" => "data",
            "e2b/chart" => "chart",
            _ => {
                extra.insert(mime.clone(), value.clone());
                continue;
            }
        };
        let value = match (field, value) {
            ("text", Value::String(s)) => json!(unquoted(s)),
            _ => value.clone(),
        };
        line.insert(field.into(), value);
    }
    if !extra.is_empty() {
        line.insert("extra".into(), Value::Object(extra));
    }
    line.insert("is_main_result".into(), json!(is_main_result));
    Value::Object(line)
}

/// A string's repr without its quotes (`'abc'` is shown as `abc`).
fn unquoted(text: &str) -> &str {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(a @ (b'\'' | b'"')), Some(b)) if text.len() >= 2 && a == b => &text[1..text.len() - 1],
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_become_e2b_fields() {
        let mut data = Map::new();
        data.insert("text/plain".into(), json!("'abc'"));
        data.insert("image/png".into(), json!("iVBOR"));
        data.insert("application/x-thing".into(), json!(1));
        let line = line(&data, false);
        assert_eq!(line["text"], "abc");
        assert_eq!(line["png"], "iVBOR");
        assert_eq!(line["extra"]["application/x-thing"], 1);
        assert_eq!(line["is_main_result"], false);
        assert_eq!(unquoted("42"), "42");
        assert_eq!(unquoted("'"), "'");
    }
}
