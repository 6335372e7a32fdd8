//! Template files in TOML: the operator's `templates.toml` and the daemon's own `custom.toml`
//! (templates created through the API). Both hold an array of `[[template]]` tables:
//!
//! ```toml
//! [[template]]
//! name = "python-ml"
//! description = "scikit-learn on top of numpy"
//! language = "python"
//! packages = ["numpy", "scikit-learn"]
//! limits = { memory_mb = 2048, timeout_secs = 120 }
//! ```

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::definition::TemplateSpec;
use super::TemplateError;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    #[serde(default)]
    template: Vec<TemplateSpec>,
}

const CUSTOM_HEADER: &str = "# Templates created through POST /templates. Written by sandbox-executor; \
     edit with the daemon stopped.\n\n";

/// The specs in `path`; a missing file holds none when `missing_ok`.
pub fn read_specs(path: &Path, missing_ok: bool) -> Result<Vec<TemplateSpec>, TemplateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TemplateError::Config(format!("cannot read {}: {e}", path.display()))),
    };
    let file: TemplateFile =
        toml::from_str(&text).map_err(|e| TemplateError::Config(format!("{} is not valid: {e}", path.display())))?;
    Ok(file.template)
}

/// Replaces `path` with `specs`, atomically: readers see the old file or the new one.
pub fn write_specs(path: &Path, specs: &[TemplateSpec]) -> Result<(), TemplateError> {
    let fail = |e: &dyn std::fmt::Display| TemplateError::Config(format!("cannot write {}: {e}", path.display()));
    let file = TemplateFile { template: specs.to_vec() };
    let text = toml::to_string(&file).map_err(|e| fail(&e))?;
    let tmp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    let written = (|| {
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(CUSTOM_HEADER.as_bytes())?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(&e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::definition::TemplateLimitsSpec;

    #[test]
    fn specs_round_trip_through_toml() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("custom.toml");
        assert!(read_specs(&path, true).unwrap().is_empty());
        assert!(read_specs(&path, false).is_err());
        let spec = TemplateSpec {
            name: "np".into(),
            description: "numpy only".into(),
            language: "python".into(),
            packages: vec!["numpy".into()],
            limits: Some(TemplateLimitsSpec { memory_mb: Some(700), timeout_secs: None }),
            network: false,
            egress: Vec::new(),
        };
        write_specs(&path, &[spec]).unwrap();
        let back = read_specs(&path, false).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].packages, ["numpy"]);
        assert_eq!(back[0].limits.as_ref().and_then(|l| l.memory_mb), Some(700));
    }

    #[test]
    fn the_operator_file_format_parses_and_typos_are_named() {
        let text = "[[template]]\nname = \"ml\"\nlanguage = \"py\"\npackages = [\"scikit-learn\"]\n\
                    limits = { memory_mb = 2048, timeout_secs = 120 }\n";
        let file: TemplateFile = toml::from_str(text).unwrap();
        assert_eq!(file.template[0].name, "ml");
        let typo = "[[template]]\nname = \"ml\"\nlanguage = \"py\"\npackage = [\"x\"]\n";
        let err = toml::from_str::<TemplateFile>(typo).unwrap_err().to_string();
        assert!(err.contains("unknown field `package`"), "{err}");
    }
}
