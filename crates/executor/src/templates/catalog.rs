//! Every template this daemon knows: the built-ins, the operator's `templates.toml`, and
//! those created through the API, which are kept in `<templates_dir>/custom.toml` so they
//! survive a restart.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::builtin::builtins;
use super::definition::{Origin, Template, TemplateSpec};
use super::{file, TemplateError};
use crate::LimitPolicy;

pub struct Catalog {
    templates: RwLock<Vec<Template>>,
    custom_file: PathBuf,
    /// Serialises the read-modify-write of `custom.toml` across daemons sharing the directory.
    custom_lock: PathBuf,
}

impl Catalog {
    /// Loads the built-ins, `operator_file` (when given; it must exist and be valid) and the
    /// custom templates of `dir`.
    pub fn load(dir: &Path, operator_file: Option<&Path>, policy: &LimitPolicy) -> Result<Catalog, TemplateError> {
        let mut templates = builtins();
        if let Some(path) = operator_file {
            for spec in file::read_specs(path, false)? {
                let name = spec.name.clone();
                let template = Template::from_spec(spec, Origin::File, policy)
                    .map_err(|e| TemplateError::Config(format!("{}: template {name:?}: {e}", path.display())))?;
                if templates.iter().any(|t| t.name == template.name) {
                    return Err(TemplateError::Config(format!(
                        "{}: template {name:?} is defined twice or redefines a built-in",
                        path.display()
                    )));
                }
                templates.push(template);
            }
        }
        let custom_file = dir.join("custom.toml");
        for spec in file::read_specs(&custom_file, true)? {
            let name = spec.name.clone();
            // A custom template the current limits no longer allow is left out, not fatal:
            // the operator may have lowered a cap since it was created.
            match Template::from_spec(spec, Origin::Custom, policy) {
                Ok(t) if templates.iter().all(|known| known.name != t.name) => templates.push(t),
                Ok(_) => tracing::warn!(template = %name, "a custom template has the name of another; ignored"),
                Err(e) => tracing::warn!(template = %name, error = %e, "a custom template is no longer valid; ignored"),
            }
        }
        Ok(Catalog { templates: RwLock::new(templates), custom_file, custom_lock: dir.join("custom.lock") })
    }

    pub fn get(&self, name: &str) -> Result<Template, TemplateError> {
        let templates = self.templates.read().unwrap_or_else(|p| p.into_inner());
        templates.iter().find(|t| t.name == name).cloned().ok_or_else(|| TemplateError::Unknown {
            name: name.to_owned(),
            known: templates.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    pub fn all(&self) -> Vec<Template> {
        self.templates.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Validates and adds a template, persisting it before it becomes visible.
    pub fn add(&self, spec: TemplateSpec, policy: &LimitPolicy) -> Result<Template, TemplateError> {
        let template = Template::from_spec(spec, Origin::Custom, policy)?;
        let mut templates = self.templates.write().unwrap_or_else(|p| p.into_inner());
        if templates.iter().any(|t| t.name == template.name) {
            return Err(TemplateError::Exists(template.name));
        }
        self.persist(&template)?;
        templates.push(template.clone());
        Ok(template)
    }

    /// Appends to `custom.toml` under its lock, re-reading it first so that what another
    /// daemon on the same directory added is kept.
    fn persist(&self, template: &Template) -> Result<(), TemplateError> {
        if let Some(dir) = self.custom_file.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| TemplateError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.custom_lock)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|e| TemplateError::Config(format!("cannot lock {}: {e}", self.custom_lock.display())))?;
        let mut specs = file::read_specs(&self.custom_file, true)?;
        if specs.iter().any(|s| s.name == template.name) {
            return Err(TemplateError::Exists(template.name.clone()));
        }
        specs.push(template.to_spec());
        let written = file::write_specs(&self.custom_file, &specs);
        drop(lock);
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, packages: &[&str]) -> TemplateSpec {
        TemplateSpec {
            name: name.into(),
            description: String::new(),
            language: "python".into(),
            packages: packages.iter().map(|p| p.to_string()).collect(),
            limits: None,
            network: false,
            egress: Vec::new(),
        }
    }

    #[test]
    fn custom_templates_persist_and_builtins_cannot_be_redefined() {
        let dir = tempfile::tempdir().unwrap();
        let policy = LimitPolicy::default();
        let catalog = Catalog::load(dir.path(), None, &policy).unwrap();
        assert!(matches!(catalog.add(spec("python-data", &[]), &policy), Err(TemplateError::Exists(_))));
        let added = catalog.add(spec("np", &["numpy"]), &policy).unwrap();
        assert_eq!((added.limits.memory_mb, added.limits.timeout_secs), (512, 30));
        assert!(matches!(catalog.add(spec("np", &[]), &policy), Err(TemplateError::Exists(_))));

        let reloaded = Catalog::load(dir.path(), None, &policy).unwrap();
        let np = reloaded.get("np").unwrap();
        assert_eq!((np.origin, np.packages.as_slice()), (Origin::Custom, ["numpy".to_string()].as_slice()));
        let err = reloaded.get("nope").unwrap_err().to_string();
        assert!(err.contains("known: default, python-data, node-basic, minimal, np"), "{err}");
    }

    #[test]
    fn the_operator_file_adds_templates_and_must_be_valid() {
        let dir = tempfile::tempdir().unwrap();
        let policy = LimitPolicy::default();
        let path = dir.path().join("templates.toml");
        std::fs::write(&path, "[[template]]\nname = \"ml\"\nlanguage = \"python\"\npackages = [\"scikit-learn\"]\n")
            .unwrap();
        let catalog = Catalog::load(dir.path(), Some(&path), &policy).unwrap();
        assert_eq!(catalog.get("ml").unwrap().origin, Origin::File);

        std::fs::write(&path, "[[template]]\nname = \"minimal\"\nlanguage = \"python\"\n").unwrap();
        let err = Catalog::load(dir.path(), Some(&path), &policy).err().unwrap().to_string();
        assert!(err.contains("redefines a built-in"), "{err}");
        std::fs::write(&path, "[[template]]\nname = \"x\"\nlanguage = \"python\"\npackages = [\"-e .\"]\n").unwrap();
        let err = Catalog::load(dir.path(), Some(&path), &policy).err().unwrap().to_string();
        assert!(err.contains("packages[0]"), "{err}");
        assert!(Catalog::load(dir.path(), Some(&dir.path().join("missing.toml")), &policy).is_err());
    }
}
