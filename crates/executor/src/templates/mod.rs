//! Environment templates: named environments (a language, packages, default limits) that runs
//! ask for with `template`. A template with packages has its environment built once (a python
//! venv or a node_modules tree) and bound read-only into each of its runs; one without
//! packages uses the system interpreter.

mod build;
mod builtin;
mod catalog;
mod definition;
mod environment;
mod file;
mod fsutil;
mod install;
mod packages;

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

pub use builtin::PYTHON_DATA_PACKAGES;
pub(crate) use definition::MAX_DESCRIPTION_CHARS;
pub use definition::{Origin, Template, TemplateLimits, TemplateLimitsSpec, TemplateSpec};
pub use environment::{Environment, MOUNT_POINT};
pub(crate) use packages::{MAX_PACKAGES, MAX_SPEC_LEN};

use crate::config::{RuntimePaths, TemplateConfig};
use crate::{ExecuteError, Language, LimitPolicy};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template definition is not acceptable (the caller can fix it).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("unknown template {name:?}; known: {known}")]
    Unknown { name: String, known: String },
    #[error("a template named {0:?} already exists")]
    Exists(String),
    /// pip or npm failed; `log_tail` is the end of their output.
    #[error("template {name:?} could not be built: {reason}")]
    Build { name: String, reason: String, log_tail: String },
    /// A template file or directory is unusable.
    #[error("{0}")]
    Config(String),
}

impl TemplateError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        TemplateError::Invalid { field: field.into(), message: message.into() }
    }
}

impl From<TemplateError> for ExecuteError {
    fn from(err: TemplateError) -> Self {
        match err {
            TemplateError::Invalid { field, message } => ExecuteError::Invalid { field, message },
            unknown @ TemplateError::Unknown { .. } => ExecuteError::UnknownTemplate(unknown.to_string()),
            exists @ TemplateError::Exists(_) => ExecuteError::invalid("name", exists.to_string()),
            TemplateError::Build { name, reason, log_tail } => {
                ExecuteError::TemplateBuild { template: name, message: reason, log_tail }
            }
            TemplateError::Config(message) => ExecuteError::Internal(message),
        }
    }
}

/// A template as `GET /templates` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TemplateInfo {
    pub name: String,
    pub description: String,
    pub language: Language,
    pub packages: Vec<String>,
    pub limits: TemplateLimits,
    /// Whether its runs have network by default (an `egress` policy).
    pub network: bool,
    /// Destinations its runs and sessions may reach when they name none themselves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<String>,
    /// Whether runs can start at once; an unbuilt template is built by its first run.
    pub built: bool,
    /// Built into the daemon (it cannot be redefined).
    pub builtin: bool,
}

/// The templates of this daemon and their builds.
pub struct Templates {
    catalog: catalog::Catalog,
    builder: Arc<build::Builder>,
    policy: LimitPolicy,
}

impl Templates {
    /// Loads the catalog; a broken operator file is an error, so a daemon never starts with
    /// templates other than those configured.
    pub fn open(config: &TemplateConfig, runtimes: &RuntimePaths, policy: &LimitPolicy) -> Result<Self, TemplateError> {
        Ok(Templates {
            catalog: catalog::Catalog::load(&config.dir, config.file.as_deref(), policy)?,
            builder: Arc::new(build::Builder::new(config, runtimes)),
            policy: policy.clone(),
        })
    }

    pub fn get(&self, name: &str) -> Result<Template, TemplateError> {
        self.catalog.get(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.catalog.all().into_iter().map(|t| t.name).collect()
    }

    pub fn all(&self) -> Vec<Template> {
        self.catalog.all()
    }

    pub fn list(&self) -> Vec<TemplateInfo> {
        self.catalog.all().iter().map(|t| self.info(t)).collect()
    }

    pub fn info(&self, template: &Template) -> TemplateInfo {
        TemplateInfo {
            name: template.name.clone(),
            description: template.description.clone(),
            language: template.language,
            packages: template.packages.clone(),
            limits: template.limits,
            network: template.egress.is_some(),
            egress: template.egress.as_ref().map(crate::EgressPolicy::describe).unwrap_or_default(),
            built: self.builder.is_built(template),
            builtin: template.origin == Origin::Builtin,
        }
    }

    /// Validates, persists and adds a template; it is built by its first run.
    pub fn add(&self, spec: TemplateSpec) -> Result<TemplateInfo, TemplateError> {
        let template = self.catalog.add(spec, &self.policy)?;
        Ok(self.info(&template))
    }

    pub fn is_built(&self, template: &Template) -> bool {
        self.builder.is_built(template)
    }

    /// Where `template`'s build lives (`env/`, `built.json`, `build.log`).
    pub fn build_dir(&self, template: &Template) -> std::path::PathBuf {
        self.builder.template_dir(template)
    }

    /// The environment of `template`, building it first when needed. Callers asking for the
    /// same template meanwhile wait for the one build.
    pub async fn prepare(&self, template: &Template) -> Result<Environment, TemplateError> {
        if !template.needs_build() {
            return Ok(Environment { language: template.language, dir: None });
        }
        let builder = Arc::clone(&self.builder);
        let template = template.clone();
        tokio::task::spawn_blocking(move || builder.ensure(&template))
            .await
            .map_err(|e| TemplateError::Config(format!("the build task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests;
