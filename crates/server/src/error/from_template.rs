//! How template refusals and build failures reach the caller.

use executor::TemplateError;

use super::{ApiError, ErrorCode};

impl From<TemplateError> for ApiError {
    fn from(err: TemplateError) -> Self {
        let detail = err.to_string();
        match err {
            TemplateError::Invalid { field, .. } => ApiError::validation(detail, solution_for_field(&field)),
            // The same 404 as /execute gives, naming the known templates.
            unknown @ TemplateError::Unknown { .. } => ApiError::from(executor::ExecuteError::from(unknown)),
            TemplateError::Exists(name) => ApiError::new(
                ErrorCode::Conflict,
                "A template with this name already exists.",
                detail,
                format!(
                    "Choose another name than {name:?}: built-in templates and existing ones cannot be \
                     redefined. GET /templates lists the names in use."
                ),
            ),
            TemplateError::Build { name, log_tail, .. } => build_failed(&name, detail, &log_tail),
            TemplateError::Config(_) => ApiError::internal(detail),
        }
    }
}

/// A 500 carrying the end of pip's or npm's output, which names the package at fault.
pub(super) fn build_failed(template: &str, detail: String, log_tail: &str) -> ApiError {
    let detail =
        if log_tail.is_empty() { detail } else { format!("{detail}\n--- end of the build log ---\n{log_tail}") };
    ApiError::new(
        if names_bad_packages(log_tail) { ErrorCode::TemplatePackages } else { ErrorCode::TemplateBuild },
        "The template's environment could not be built, so the code did not run.",
        detail,
        format!(
            "Check the packages of template {template:?} (a misspelled name, a version that does not exist, \
             or a package without a wheel for this platform) and that the package registry is reachable \
             from the daemon; sending the request again retries the build."
        ),
    )
}

/// What pip and npm print when the registry has no such package or version, or the spec is
/// not one they can read: the template is at fault. Anything else (an unreachable registry, a
/// full disk) is the daemon's.
const BAD_PACKAGE_MESSAGES: [&str; 9] = [
    "No matching distribution found",
    "Could not find a version that satisfies",
    "Invalid requirement",
    "code E404",
    "code ETARGET",
    "code EINVALIDTAGNAME",
    "code EINVALIDPACKAGENAME",
    "code EUNSUPPORTEDPROTOCOL",
    "code EINVALIDTYPE",
];

fn names_bad_packages(log_tail: &str) -> bool {
    BAD_PACKAGE_MESSAGES.iter().any(|m| log_tail.contains(m))
}

fn solution_for_field(field: &str) -> String {
    let hint = match field {
        "name" => "Use 1 to 63 characters of a-z 0-9 -, starting with a letter or digit.",
        "language" => "Send `language` as python or javascript.",
        "network" => "Leave `network` out or send false: sandboxes have no network.",
        "description" => "Send a description of at most 500 characters.",
        _ if field.starts_with("packages") => {
            "Name registry packages with optional version constraints, such as `numpy==2.*` or \
             `is-number@7.0.0`: no options, URLs, paths or archive files."
        }
        _ if field.starts_with("limits.") => {
            "Send a value between 1 and the cap in error_detail, or leave it out for the server's default."
        }
        _ => "Correct the field named in error_detail and send the request again.",
    };
    hint.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_errors_have_their_codes() {
        let cases = [
            (TemplateError::invalid("packages[0]", "bad"), ErrorCode::Validation),
            (TemplateError::Exists("x".into()), ErrorCode::Conflict),
            (TemplateError::Unknown { name: "x".into(), known: "default".into() }, ErrorCode::NotFound),
            (TemplateError::Config("disk".into()), ErrorCode::Internal),
        ];
        for (err, code) in cases {
            assert_eq!(ApiError::from(err).code(), code);
        }
        let build =
            TemplateError::Build { name: "t".into(), reason: "pip failed".into(), log_tail: "No matching".into() };
        let api = ApiError::from(build);
        assert_eq!(api.code(), ErrorCode::TemplateBuild);
        for log_tail in [
            "ERROR: No matching distribution found for no-such-package",
            "npm error code E404\nnpm error 404 Not Found - GET https://registry/no-such-package",
            "npm ERR! code ETARGET",
        ] {
            let build = TemplateError::Build { name: "t".into(), reason: "failed".into(), log_tail: log_tail.into() };
            assert_eq!(ApiError::from(build).code(), ErrorCode::TemplatePackages, "{log_tail}");
        }
        assert!(api.detail().ends_with("--- end of the build log ---\nNo matching"), "{}", api.detail());
    }
}
