//! What a template means for a request: its language when the request names none, and its
//! limits as the defaults (the request's own values win; the server's caps bound both).

use crate::{ExecuteError, Language, LimitPolicy, RequestedLimits, Template};

/// The request's language, which must be the template's (or shell, which runs in any
/// template's environment); without one, the template's, and without either, Python.
pub(super) fn language(requested: Option<Language>, template: Option<&Template>) -> Result<Language, ExecuteError> {
    match (requested, template) {
        (Some(asked), Some(t)) if asked != t.language && asked != Language::Shell => Err(ExecuteError::invalid(
            "template",
            format!(
                "template {:?} is for {}, but the request's language is {}; leave language out, \
                 or name a {} template",
                t.name,
                t.language.name(),
                asked.name(),
                asked.name()
            ),
        )),
        (Some(asked), _) => Ok(asked),
        (None, Some(t)) => Ok(t.language),
        (None, None) => Ok(Language::Python),
    }
}

/// The timeout of a request that names none.
pub(super) fn default_timeout_secs(template: Option<&Template>, policy: &LimitPolicy) -> f64 {
    match template {
        Some(t) => (t.limits.timeout_secs as f64).clamp(policy.min_timeout_secs, policy.max_timeout_secs),
        None => policy.default_timeout_secs,
    }
}

/// The request's limits with the template's memory for an unset one.
pub(super) fn with_defaults(
    asked: RequestedLimits,
    template: Option<&Template>,
    policy: &LimitPolicy,
) -> RequestedLimits {
    let memory = template.map(|t| t.limits.memory_mb.clamp(1, policy.max_memory_mb));
    RequestedLimits { memory_mb: asked.memory_mb.or(memory), ..asked }
}
