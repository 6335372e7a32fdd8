//! What a template is: a language, the packages its environment holds, and the default limits
//! of the runs that use it. A [`TemplateSpec`] is what a caller or a file sends; a [`Template`]
//! is one that passed validation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::packages::check_packages;
use super::TemplateError;
use crate::{Language, LimitPolicy};

/// Longest template description.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest template name: `[a-z0-9][a-z0-9-]{0,62}`.
const MAX_NAME_LEN: usize = 63;

/// A template as sent to `POST /templates` or written in `templates.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// 1 to 63 characters of a-z 0-9 and -, starting with a letter or digit.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `python` or `javascript` (aliases: py, js, node).
    pub language: String,
    /// pip requirements (python) or npm package specs (javascript), such as `numpy==2.1.*`
    /// or `is-number@7.0.0`. Names and versions only: no options, URLs or paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// Default limits of runs using the template; absent values take the server's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::json_shape::optional_object")]
    pub limits: Option<TemplateLimitsSpec>,
    /// Must be false (or absent): network is given by destination, in `egress`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub network: bool,
    /// Destinations the template's runs and sessions may reach through the egress proxy
    /// when they name none themselves (the syntax of `POST /execute`'s `egress`); absent or
    /// empty: no network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateLimitsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::json_shape::whole_number")]
    #[schema(minimum = 1)]
    pub memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::json_shape::whole_number")]
    #[schema(minimum = 1)]
    pub timeout_secs: Option<u64>,
}

/// Default limits of the runs using a template; a request's own values win, within the
/// server's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct TemplateLimits {
    pub memory_mb: u64,
    pub timeout_secs: u64,
}

/// Where a template was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    /// The operator's `templates.toml`.
    File,
    /// Created through `POST /templates` (kept in `custom.toml`).
    Custom,
}

/// A validated template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub language: Language,
    pub packages: Vec<String>,
    pub limits: TemplateLimits,
    pub origin: Origin,
    /// Where its runs and sessions may connect when they name no policy themselves.
    pub egress: Option<crate::EgressPolicy>,
}

impl Template {
    /// Validates `spec`; limits it leaves out take `policy`'s defaults, and any it sets must
    /// be within `policy`'s caps.
    pub fn from_spec(spec: TemplateSpec, origin: Origin, policy: &LimitPolicy) -> Result<Template, TemplateError> {
        check_name(&spec.name)?;
        if spec.description.chars().count() > MAX_DESCRIPTION_CHARS || spec.description.contains('\0') {
            return Err(TemplateError::invalid(
                "description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters, without NUL"),
            ));
        }
        let language = parse_language(&spec.language)?;
        if spec.network {
            return Err(TemplateError::invalid(
                "network",
                "must be false: a template gives network by destination, in egress (see docs/egress.md)",
            ));
        }
        check_packages(language, &spec.packages)?;
        let egress = crate::EgressPolicy::parse(&spec.egress)
            .map_err(|why| TemplateError::invalid("egress", why.to_string()))?;
        let asked = spec.limits.unwrap_or_default();
        // Timeouts are whole seconds here; the server's default may not be.
        let default_timeout = policy.default_timeout_secs.round().max(1.0) as u64;
        let limits = TemplateLimits {
            memory_mb: within("limits.memory_mb", asked.memory_mb, policy.default_memory_mb, policy.max_memory_mb)?,
            timeout_secs: within(
                "limits.timeout_secs",
                asked.timeout_secs,
                default_timeout,
                policy.max_timeout_secs.floor() as u64,
            )?,
        };
        Ok(Template {
            name: spec.name,
            description: spec.description,
            language,
            packages: spec.packages,
            limits,
            origin,
            egress,
        })
    }

    /// The spec this template was made from (what `custom.toml` stores).
    pub fn to_spec(&self) -> TemplateSpec {
        TemplateSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            language: self.language.name().to_owned(),
            packages: self.packages.clone(),
            limits: Some(TemplateLimitsSpec {
                memory_mb: Some(self.limits.memory_mb),
                timeout_secs: Some(self.limits.timeout_secs),
            }),
            network: false,
            egress: self.egress.as_ref().map(crate::EgressPolicy::describe).unwrap_or_default(),
        }
    }

    /// Whether runs need a built environment (a python venv or a node_modules tree); without
    /// packages they use the system interpreter as it is.
    pub fn needs_build(&self) -> bool {
        !self.packages.is_empty()
    }
}

/// `[a-z0-9][a-z0-9-]{0,62}`: names become directory and lock file names.
pub fn check_name(name: &str) -> Result<(), TemplateError> {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !first_ok || !rest_ok || name.len() > MAX_NAME_LEN {
        return Err(TemplateError::invalid(
            "name",
            format!(
                "must be 1 to {MAX_NAME_LEN} characters of a-z 0-9 -, starting with a letter or digit, got {name:?}"
            ),
        ));
    }
    Ok(())
}

fn parse_language(name: &str) -> Result<Language, TemplateError> {
    match Language::parse(name) {
        Some(language @ (Language::Python | Language::Javascript)) => Ok(language),
        Some(Language::Shell) => Err(TemplateError::invalid(
            "language",
            "templates are for python or javascript; shell runs need no environment",
        )),
        None => Err(TemplateError::invalid(
            "language",
            format!("unknown language {name:?}; a template is python (py) or javascript (js, node)"),
        )),
    }
}

fn within(field: &str, asked: Option<u64>, default: u64, cap: u64) -> Result<u64, TemplateError> {
    match asked {
        None => Ok(default.min(cap)),
        Some(value) if (1..=cap).contains(&value) => Ok(value),
        Some(value) => Err(TemplateError::invalid(field, format!("must be between 1 and {cap}, got {value}"))),
    }
}
