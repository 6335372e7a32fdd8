//! The tools' arguments: their JSON schemas (what `tools/list` shows a model) and what each
//! becomes in the executor's API.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A language the executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python 3 (the default).
    Python,
    /// JavaScript on Node.js.
    Javascript,
    /// A POSIX shell script (bash).
    Shell,
}

impl Language {
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::Shell => "shell",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCode {
    /// The program's language: `python`, `javascript` or `shell`. Default: `python`, or in a
    /// session the language of its template.
    pub language: Option<Language>,
    /// The source code to run. Output printed to stdout and stderr is returned; in a session the
    /// value of the last expression is returned too, as in a notebook.
    pub code: String,
    /// Seconds the code may run before it is stopped (default: the template's, 30 s for
    /// `default`). In a session, a cell that times out loses the session's variables.
    pub timeout: Option<f64>,
    /// Run in this session (from `create_session`): variables, imports and files persist between
    /// calls. Without it, the code runs in a fresh sandbox that is discarded afterwards.
    pub session_id: Option<String>,
    /// The environment of a fresh sandbox: `default` (Python standard library), `python-data`
    /// (numpy, pandas, matplotlib, seaborn, scipy, plotly), `node-basic` (Node.js), `minimal`, or
    /// one the operator defined. Not with `session_id`: a session keeps the template it was
    /// created with.
    pub template: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// The session's environment: `default`, `python-data` (numpy, pandas, matplotlib...),
    /// `node-basic` (Node.js), `minimal`, or one the operator defined. Default: `default`, or
    /// `node-basic` when `language` is `javascript`.
    pub template: Option<String>,
    /// Idle seconds after which the session and its files are discarded (default 300; the
    /// daemon caps it, 3600 by default).
    #[schemars(range(min = 1))]
    pub ttl: Option<u64>,
    /// The language the session is mostly for, used to pick the template when none is given.
    /// Every call of `run_code` may still name any language.
    pub language: Option<Language>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRef {
    /// The session's id, as `create_session` returned it.
    pub session_id: String,
}

/// How `upload_file`'s content is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// The content is the file's text, written as UTF-8 (the default).
    #[default]
    Text,
    /// The content is the file's bytes in base64 (for binary files).
    Base64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadFile {
    /// The session whose workspace receives the file.
    pub session_id: String,
    /// The file's path relative to the session's workspace (its working directory), e.g.
    /// `data/input.csv`. Folders are created; an existing file is replaced.
    pub path: String,
    /// The file's content: its text, or its bytes in base64 when `encoding` is `base64`.
    pub content: String,
    /// `text` (default) or `base64`.
    #[serde(default)]
    pub encoding: Encoding,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownloadFile {
    /// The session whose workspace holds the file.
    pub session_id: String,
    /// The file's path relative to the session's workspace, e.g. `output/result.csv`.
    pub path: String,
}

/// The template a new session gets from its arguments.
pub fn session_template(args: &CreateSession) -> Option<String> {
    match (&args.template, args.language) {
        (Some(template), _) => Some(template.clone()),
        (None, Some(Language::Javascript)) => Some("node-basic".to_owned()),
        (None, _) => None,
    }
}

/// The body of `POST /execute` or `POST /session/execute` for a `run_code` call.
pub fn run_body(args: &RunCode) -> Value {
    let mut body = Map::new();
    body.insert("code".into(), json!(args.code));
    if let Some(language) = args.language {
        body.insert("language".into(), json!(language.name()));
    }
    if let Some(timeout) = args.timeout {
        body.insert("timeout".into(), json!(timeout));
    }
    if let Some(session) = &args.session_id {
        body.insert("session_id".into(), json!(session));
    }
    if let Some(template) = &args.template {
        body.insert("template".into(), json!(template));
    }
    Value::Object(body)
}

/// The body of `POST /session/create`.
pub fn create_body(args: &CreateSession) -> Value {
    let mut body = Map::new();
    if let Some(template) = session_template(args) {
        body.insert("template".into(), json!(template));
    }
    if let Some(ttl) = args.ttl {
        body.insert("ttl".into(), json!(ttl));
    }
    Value::Object(body)
}

/// A workspace path the tools pass on: refused when it leaves the workspace (the daemon
/// refuses it too; refusing it here keeps an HTTP client from resolving `..` in the URL).
pub fn check_path(path: &str) -> Result<(), PathRefused> {
    if path.is_empty() {
        return Err(PathRefused::Empty);
    }
    if path.starts_with('/') || path.split('/').any(|segment| segment == ".." || segment == ".") {
        return Err(PathRefused::NotPlain(path.to_owned()));
    }
    Ok(())
}

/// Why a tool's `path` is refused; its text is the tool's error detail.
#[derive(Debug, thiserror::Error)]
pub enum PathRefused {
    #[error("`path` is empty: give the file's path relative to the workspace, e.g. data/input.csv")]
    Empty,
    #[error("`path` {0:?} is not a plain relative path: it must not start with / or contain . or .. segments")]
    NotPlain(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_picks_the_template_only_when_none_is_given() {
        let args = |template: Option<&str>, language| CreateSession {
            template: template.map(Into::into),
            ttl: None,
            language,
        };
        assert_eq!(session_template(&args(None, Some(Language::Javascript))).as_deref(), Some("node-basic"));
        assert_eq!(
            session_template(&args(Some("python-data"), Some(Language::Javascript))).as_deref(),
            Some("python-data")
        );
        assert_eq!(session_template(&args(None, Some(Language::Python))), None);
    }

    #[test]
    fn paths_leaving_the_workspace_are_refused() {
        assert!(check_path("data/in.csv").is_ok());
        for bad in ["", "/etc/shadow", "../x", "a/../../b", "./a"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
