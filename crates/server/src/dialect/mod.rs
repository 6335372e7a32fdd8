//! The NVIDIA local sandbox's dialect: `{"generated_code", "timeout", "language"}` in,
//! `process_status`/`stdout`/`stderr` out (our result carries both vocabularies).
//!
//! Model output often arrives wrapped: in a markdown fence, or as the text of a Python dict
//! `{'generated_code': '...'}`. NVIDIA's client unwraps these and its server did not, so fenced
//! code failed there; we unwrap on the server, for any client.

mod answer;
mod python_literal;

pub use answer::shape_result;

use executor::{Language, ProcessStatus};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ErrorBody;

/// The request field that marks the dialect.
pub const CODE_FIELD: &str = "generated_code";

/// The code to run: `raw` without a surrounding dict literal or markdown fence, or `raw` as
/// given when it has neither (or they do not parse).
pub fn unwrap_generated_code(raw: &str) -> String {
    let code = dict_code(raw).unwrap_or_else(|| raw.to_owned());
    let code = match fenced_block(&code) {
        Some(body) => body.to_owned(),
        None => code,
    };
    // A dict inside a fence happens too.
    dict_code(&code).unwrap_or(code)
}

/// The `generated_code` entry of a JSON object or Python dict literal.
fn dict_code(text: &str) -> Option<String> {
    let text = text.trim();
    if !(text.starts_with('{') && text.ends_with('}')) {
        return None;
    }
    // JSON first: its escapes differ from Python's (`\/`, surrogate pairs).
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
        return map.get(CODE_FIELD)?.as_str().map(str::to_owned);
    }
    let entries = python_literal::parse_str_dict(text)?;
    entries.into_iter().find(|(key, _)| key == CODE_FIELD).map(|(_, code)| code)
}

/// The body of the first fenced block tagged with a language we run (or untagged); prose
/// around it is ignored. A block left open at the end runs to the end (truncated model output).
pub fn fenced_block(text: &str) -> Option<&str> {
    // (where the open block's body starts, whether it is code we run)
    let mut open: Option<(usize, bool)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_start = offset;
        offset += line.len();
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        match open {
            None => open = Some((offset, is_code_tag(info))),
            // Only a bare fence closes a block.
            Some(_) if !info.trim().is_empty() => {}
            Some((body_start, true)) => return Some(&text[body_start..line_start]),
            Some((_, false)) => open = None,
        }
    }
    match open {
        Some((body_start, true)) => Some(&text[body_start..]),
        _ => None,
    }
}

/// ```` ``` ````, ```` ```python ````, ```` ```py title ````...: the first word names the language.
fn is_code_tag(info: &str) -> bool {
    info.split_whitespace().next().is_none_or(|tag| Language::parse(tag).is_some())
}

/// Whether a parsed body speaks the dialect.
pub fn is_dialect(body: &Value) -> bool {
    body.get(CODE_FIELD).is_some()
}

/// Whether a body that is not valid JSON was probably meant as the dialect.
pub fn mentions_dialect(raw: &[u8]) -> bool {
    let needle = format!("\"{CODE_FIELD}\"");
    raw.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// What NVIDIA's client reads from every answer, errors included.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DialectFields {
    /// Always `error` on an error answer.
    pub process_status: ProcessStatus,
    /// Always empty on an error answer.
    pub stdout: String,
    /// Why the request was refused.
    pub stderr: String,
}

impl DialectFields {
    pub fn error(reason: impl Into<String>) -> Self {
        DialectFields { process_status: ProcessStatus::Error, stdout: String::new(), stderr: reason.into() }
    }
}

/// An error answer to a `generated_code` request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DialectErrorBody {
    #[serde(flatten)]
    pub error: ErrorBody,
    #[serde(flatten)]
    pub dialect: DialectFields,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
