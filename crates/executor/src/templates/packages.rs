//! Package specs a template may name. They become arguments of pip or npm run by the daemon on
//! the host, so only names and version constraints pass: no options (a leading `-`), no URLs
//! (`:` is not allowed), no paths or archives (which both tools would install from disk).

use super::TemplateError;
use crate::Language;

/// Most packages of one template.
pub(crate) const MAX_PACKAGES: usize = 100;
/// Longest single package spec.
pub(crate) const MAX_SPEC_LEN: usize = 200;
/// File names both tools take as a local archive rather than a registry name.
const ARCHIVE_SUFFIXES: [&str; 9] = [".whl", ".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz", ".tar.xz", ".txz"];

pub fn check_packages(language: Language, packages: &[String]) -> Result<(), TemplateError> {
    if packages.len() > MAX_PACKAGES {
        return Err(TemplateError::invalid(
            "packages",
            format!("at most {MAX_PACKAGES} packages, got {}", packages.len()),
        ));
    }
    for (i, spec) in packages.iter().enumerate() {
        check_spec(language, spec)
            .map_err(|why| TemplateError::invalid(format!("packages[{i}]"), format!("{why}, got {spec:?}")))?;
    }
    Ok(())
}

/// Why a package spec is refused.
#[derive(Debug, thiserror::Error)]
enum SpecError {
    #[error("a package is 1 to {MAX_SPEC_LEN} characters")]
    Length,
    #[error(
        "{0:?} is not allowed: a package is a name and version constraints \
         (A-Z a-z 0-9 . _ - [ ] , < > = ! ~ @ / ^ * and spaces), without URLs"
    )]
    Character(char),
    #[error("options (words starting with -) are not allowed")]
    Option,
    #[error("a path (starting with .) is not allowed")]
    Path,
    #[error("an archive file name is not allowed, only registry packages")]
    Archive,
    #[error("'@' and '/' are not allowed in a pip requirement (no direct references)")]
    PipReference,
    #[error("a pip requirement starts with the package name")]
    PipName,
    #[error("'/' is only allowed once, after an @scope")]
    NpmSlash,
    #[error("a scoped package is @scope/name")]
    NpmScope,
    #[error("an npm package starts with its name or @scope")]
    NpmName,
}

fn check_spec(language: Language, spec: &str) -> Result<(), SpecError> {
    if spec.trim().is_empty() || spec.len() > MAX_SPEC_LEN {
        return Err(SpecError::Length);
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-[],<>=!~@/^* ".contains(c);
    if let Some(bad) = spec.chars().find(|c| !allowed(*c)) {
        return Err(SpecError::Character(bad));
    }
    // Each word is checked: pip and npm would read `-x` anywhere as an option.
    if spec.split_whitespace().any(|word| word.starts_with('-')) {
        return Err(SpecError::Option);
    }
    if spec.trim_start().starts_with('.') {
        return Err(SpecError::Path);
    }
    let lower = spec.trim_end().to_ascii_lowercase();
    if ARCHIVE_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix)) {
        return Err(SpecError::Archive);
    }
    match language {
        Language::Python => check_pip(spec),
        _ => check_npm(spec),
    }
}

/// pip: `name`, `name[extra]==1.*`, `name>=1,<2`. Never `@` (a direct reference) or `/`.
fn check_pip(spec: &str) -> Result<(), SpecError> {
    if spec.contains('@') || spec.contains('/') {
        return Err(SpecError::PipReference);
    }
    if !spec.trim_start().starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(SpecError::PipName);
    }
    Ok(())
}

/// npm: `name`, `name@1.2.3`, `name@^1`, `@scope/name@1`. A `/` only after a scope, or npm
/// would take `user/repo` as a GitHub repository.
fn check_npm(spec: &str) -> Result<(), SpecError> {
    let slashes = spec.matches('/').count();
    let scoped = spec.starts_with('@');
    if slashes > 1 || (slashes == 1 && !scoped) {
        return Err(SpecError::NpmSlash);
    }
    if scoped {
        let (scope, rest) = spec.split_once('/').ok_or(SpecError::NpmScope)?;
        if scope.len() < 2 || rest.is_empty() || rest.starts_with('@') {
            return Err(SpecError::NpmScope);
        }
    } else if !spec.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(SpecError::NpmName);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(language: Language, spec: &str) -> bool {
        check_packages(language, &[spec.to_string()]).is_ok()
    }

    #[test]
    fn pip_requirements() {
        for good in ["numpy", "pandas==2.2.*", "scipy>=1.10,<2", "requests[socks]~=2.31", "a_b.c-d != 1.0"] {
            assert!(ok(Language::Python, good), "{good}");
        }
        let bad = [
            "--index-url",
            "numpy --index-url x",
            "-r",
            "https://evil.example/pkg.whl",
            "pkg @ file:///tmp/x",
            "./local",
            "../up",
            "/abs/path",
            "dir/pkg",
            "pkg.whl",
            "pkg-1.0.tar.gz",
            "",
            " ",
            "numpy;python_version<'3'",
            "a\nb",
        ];
        for spec in bad {
            assert!(!ok(Language::Python, spec), "{spec:?} passed");
        }
    }

    #[test]
    fn npm_specs() {
        for good in ["is-number", "is-number@7.0.0", "lodash@^4.17", "@types/node@20", "left-pad@>=1 <2"] {
            assert!(ok(Language::Javascript, good), "{good}");
        }
        let bad = ["user/repo", "@scope/a/b", "@/x", "@scope/", "..", "x.tgz", "--registry", "git+ssh://x", "file:x"];
        for spec in bad {
            assert!(!ok(Language::Javascript, spec), "{spec:?} passed");
        }
    }

    #[test]
    fn the_error_names_the_package() {
        let err = check_packages(Language::Python, &["numpy".into(), "--pre".into()]).unwrap_err();
        assert!(err.to_string().starts_with("packages[1]: options"), "{err}");
        let many: Vec<String> = (0..=MAX_PACKAGES).map(|i| format!("p{i}")).collect();
        assert!(check_packages(Language::Python, &many).is_err());
    }
}
