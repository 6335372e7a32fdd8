//! The languages the sandbox runs, their names, and how a run of each is started.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Python,
    Javascript,
    Shell,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::Python, Language::Javascript, Language::Shell];

    /// Parses a language name or one of its aliases ([`Language::NAMES`]), in any case.
    pub fn parse(name: &str) -> Option<Language> {
        match name.to_ascii_lowercase().as_str() {
            "python" | "py" | "python3" => Some(Language::Python),
            "javascript" | "js" | "node" | "nodejs" => Some(Language::Javascript),
            "shell" | "bash" | "sh" => Some(Language::Shell),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::Shell => "shell",
        }
    }

    /// Every name [`Language::parse`] takes (in any case).
    pub const NAMES: [&'static str; 10] =
        ["python", "py", "python3", "javascript", "js", "node", "nodejs", "shell", "bash", "sh"];

    /// Accepted spellings, for error messages.
    pub const ACCEPTED: &'static str = "python (py), javascript (js, node), shell (bash, sh)";
}
