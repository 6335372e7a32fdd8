//! `POST /execute`'s body, and how it becomes a [`RequestDraft`] for validation.

use std::collections::BTreeMap;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use executor::validate::RequestDraft;
use executor::{ExecuteError, Language, RequestedLimits, Template};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::dialect;
use crate::state::AppOptions;

/// The runtime executor's fields, the NVIDIA dialect's `generated_code`, and ours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub struct ExecuteRequest {
    /// The program, or a module defining `handler(event)`. Exactly one of `code` and
    /// `generated_code` is required.
    pub code: Option<String>,
    /// NVIDIA dialect: the program, possibly in a markdown fence or a
    /// `{'generated_code': '...'}` dict literal. Requires `timeout`; runs in the tenant's shared
    /// persistent workspace unless `session_id` is given.
    pub generated_code: Option<String>,
    /// `python` (default), `javascript` or `shell`, or an alias: py, js, node, bash, sh.
    pub language: Option<String>,
    /// Seconds, fractions allowed (rounded to milliseconds), within the server's range (1 to
    /// 3600 by default); default 30. With `generated_code`, any positive number up to the
    /// maximum (NVIDIA's client sends timeouts such as 0.05).
    pub timeout: Option<f64>,
    /// 1 to 128 characters of A-Z a-z 0-9 . _ -; generated when absent. Unique across tenants:
    /// another tenant's id is refused (409); the tenant's own finished one is reused.
    pub execution_id: Option<String>,
    /// Runs in the persistent workspace of this name (same alphabet as `execution_id`), the
    /// tenant's own: another tenant naming the same id gets another workspace.
    pub session_id: Option<String>,
    /// The handler's event (any JSON). Default: `stdin` parsed as JSON, else `{}`.
    pub event: Option<Value>,
    /// Fed to the program's standard input.
    pub stdin: Option<String>,
    /// Added to the sandbox's clean environment.
    pub env_vars: Option<BTreeMap<String, String>>,
    /// Files written into the workspace before the run, by relative path.
    pub files: Option<BTreeMap<String, FileContent>>,
    #[serde(default, deserialize_with = "executor::json_shape::optional_object")]
    pub limits: Option<LimitsRequest>,
    /// Who the run is for (or the `X-Tenant-ID` header; default `default`): 1 to 128
    /// characters of A-Z a-z 0-9 . _ -, logged with the run.
    pub tenant_id: Option<String>,
    /// Free text logged with the run (for example `user:123`), at most 256 characters.
    pub scope: Option<String>,
    /// The environment to run in (`GET /templates` lists them): its language is the default
    /// and must match `language`, and its limits are the defaults. Without one, the system
    /// interpreter runs; `generated_code` requests get the server's NVIDIA template
    /// (`python-data` by default).
    pub template: Option<String>,
    /// Answer at once with 202 and the execution's id instead of waiting for the result,
    /// which is then read at `GET /executions/{id}`. Default false.
    #[serde(rename = "async", default)]
    #[schema(default = false)]
    pub run_async: bool,
    /// Whether the run may use a pre-started sandbox (`GET /info` lists the warm pools);
    /// false always starts a fresh one. Both are isolated alike. Default true.
    #[schema(default = true)]
    pub warm: Option<bool>,
    /// Destinations the run may reach through its egress proxy: host names (`pypi.org`),
    /// `*.suffix` wildcards (names under the suffix, not the suffix itself), each with an
    /// optional `:port` (without one, 80 and 443); at most 64, no address literals. Absent or
    /// empty: no network at all. Within what the server allows (`GET /info`, `egress`).
    #[schema(example = json!(["pypi.org", "*.pythonhosted.org"]))]
    pub egress: Option<Vec<String>>,
}

/// A file's content: UTF-8 text, or an object naming its encoding.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    untagged,
    expecting = "a string (UTF-8 content) or {\"content\": string, \"encoding\": \"utf-8\" | \"base64\"}"
)]
pub enum FileContent {
    Text(String),
    Encoded(#[serde(deserialize_with = "executor::json_shape::required_object")] EncodedFile),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncodedFile {
    pub content: String,
    #[serde(default)]
    pub encoding: FileEncoding,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub enum FileEncoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(rename = "base64")]
    Base64,
}

/// Each at least 1 and at most the server's cap (see `GET /info`); absent: the default.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "executor::json_shape::whole_number")]
    pub memory_mb: Option<u64>,
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "executor::json_shape::whole_number")]
    pub max_output_bytes: Option<u64>,
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "executor::json_shape::whole_number")]
    pub max_processes: Option<u64>,
}

/// Standard alphabet, padding optional: callers' encoders differ on padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl ExecuteRequest {
    pub fn is_dialect(&self) -> bool {
        self.generated_code.is_some()
    }

    /// The draft to validate: picks the code and the template (`lookup` finds one by name),
    /// applies the dialect's rules, decodes files.
    pub fn into_draft(
        self,
        options: &AppOptions,
        lookup: impl Fn(&str) -> Result<Template, ExecuteError>,
    ) -> Result<RequestDraft, ExecuteError> {
        let dialect = self.is_dialect();
        let template = match self.template.as_deref() {
            Some(name) => Some(lookup(name)?),
            None if dialect => nvidia_template(options, self.language.as_deref(), lookup)?,
            None => None,
        };
        let code = match (self.code, self.generated_code) {
            (Some(code), None) => code,
            (None, Some(generated)) => dialect::unwrap_generated_code(&generated),
            (None, None) => return Err(ExecuteError::invalid("code", "either code or generated_code is required")),
            (Some(_), Some(_)) => {
                return Err(ExecuteError::invalid("code", "send either code or generated_code, not both"))
            }
        };
        // NVIDIA's sandbox refuses a request without a timeout; its callers rely on that.
        if dialect && self.timeout.is_none() {
            return Err(ExecuteError::invalid("timeout", "required with generated_code"));
        }
        let limits = self.limits.map_or_else(RequestedLimits::default, |l| RequestedLimits {
            memory_mb: l.memory_mb,
            max_output_bytes: l.max_output_bytes,
            max_processes: l.max_processes,
        });
        Ok(RequestDraft {
            execution_id: self.execution_id,
            language: self.language,
            code,
            timeout_secs: self.timeout,
            session_id: self.session_id,
            shared_workspace: dialect.then(|| options.nvidia_workspace.clone()),
            event: self.event,
            stdin: self.stdin,
            env_vars: self.env_vars.unwrap_or_default(),
            files: decode_files(self.files.unwrap_or_default())?,
            limits,
            template,
            tenant_id: self.tenant_id,
            scope: self.scope,
            warm: self.warm,
            any_positive_timeout: dialect,
            egress: self.egress.unwrap_or_default(),
        })
    }
}

/// NVIDIA's callers expect numpy, pandas and plotly: their requests run in the configured
/// template, unless they ask for another language than the template's.
fn nvidia_template(
    options: &AppOptions,
    language: Option<&str>,
    lookup: impl Fn(&str) -> Result<Template, ExecuteError>,
) -> Result<Option<Template>, ExecuteError> {
    let Some(name) = options.nvidia_template.as_deref().filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let template = lookup(name)?;
    let asked = language.and_then(Language::parse);
    Ok(asked.is_none_or(|l| l == template.language).then_some(template))
}

fn decode_files(files: BTreeMap<String, FileContent>) -> Result<Vec<(String, Vec<u8>)>, ExecuteError> {
    files
        .into_iter()
        .map(|(path, content)| {
            let bytes = match content {
                FileContent::Text(text)
                | FileContent::Encoded(EncodedFile { content: text, encoding: FileEncoding::Utf8 }) => {
                    text.into_bytes()
                }
                FileContent::Encoded(EncodedFile { content, encoding: FileEncoding::Base64 }) => {
                    // Line breaks are common in encoder output (MIME style); they carry nothing.
                    let compact: String = content.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                    BASE64.decode(compact).map_err(|err| {
                        ExecuteError::invalid(
                            format!("files[{path:?}]"),
                            format!("the content is not valid base64: {err}"),
                        )
                    })?
                }
            };
            Ok((path, bytes))
        })
        .collect()
}

#[cfg(test)]
mod properties;
