//! Building a template's environment under `<templates_dir>/<name>/`: `env/` (the venv or the
//! node_modules tree), `built.json` (what was built, for which interpreter) and `build.log`.
//!
//! A build happens once per package list: it holds `<templates_dir>/<name>.lock`, so threads and
//! other daemons sharing the directory wait for it and then find it done. It is made in a
//! temporary directory renamed to `env` at the end, so a failed or killed build leaves nothing
//! that looks built.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::definition::Template;
use super::environment::Environment;
use super::install::{self, Cache, StepError};
use super::{fsutil, TemplateError};
use crate::config::{RuntimePaths, TemplateConfig};
use crate::Language;

/// Changes when the layout of a build changes, so older builds are redone.
const BUILD_FORMAT: &str = "sandbox-executor template build 1";
/// Bytes of the build log an error carries.
const LOG_TAIL_BYTES: u64 = 4000;

/// What `built.json` records.
#[derive(Debug, Serialize, Deserialize)]
struct BuildRecord {
    template: String,
    language: String,
    packages: Vec<String>,
    /// Of the build format, the language, the interpreter's version and the packages.
    hash: String,
    /// `Python 3.11.2`, `v20.11.1`: a venv does not survive a new interpreter.
    runtime_version: String,
    built_at: String,
    build_secs: f64,
}

pub struct Builder {
    dir: PathBuf,
    cache: PathBuf,
    python: PathBuf,
    npm: PathBuf,
    python_version: String,
    node_version: String,
}

impl Builder {
    pub fn new(config: &TemplateConfig, runtimes: &RuntimePaths) -> Builder {
        // npm is found next to node, as the distributions install it, else on PATH.
        let npm = runtimes.node.with_file_name("npm");
        Builder {
            dir: config.dir.clone(),
            cache: config.cache_dir.clone(),
            python: runtimes.python.clone(),
            npm: if npm.exists() { npm } else { PathBuf::from("npm") },
            python_version: version_of(&runtimes.python),
            node_version: version_of(&runtimes.node),
        }
    }

    /// Where `template` keeps its build.
    pub fn template_dir(&self, template: &Template) -> PathBuf {
        self.dir.join(&template.name)
    }

    /// Whether runs of `template` can start without building first.
    pub fn is_built(&self, template: &Template) -> bool {
        !template.needs_build() || self.is_current(template)
    }

    /// The environment of `template`, built first if it is not (blocking: minutes, at worst).
    pub fn ensure(&self, template: &Template) -> Result<Environment, TemplateError> {
        let environment = Environment { language: template.language, dir: None };
        if !template.needs_build() {
            return Ok(environment);
        }
        let env_dir = Some(self.template_dir(template).join("env"));
        if self.is_current(template) {
            return Ok(Environment { dir: env_dir, ..environment });
        }
        fsutil::create_reachable(&self.dir).map_err(|e| self.config_error(&self.dir, e))?;
        let lock_path = self.dir.join(format!("{}.lock", template.name));
        let lock = fsutil::lock_file(&lock_path).map_err(|e| self.config_error(&lock_path, e))?;
        // Whoever held the lock before may have built it.
        if !self.is_current(template) {
            self.build_locked(template)?;
        }
        drop(lock);
        Ok(Environment { dir: env_dir, ..environment })
    }

    fn build_locked(&self, template: &Template) -> Result<(), TemplateError> {
        let started = Instant::now();
        let dir = self.template_dir(template);
        fsutil::create_reachable(&dir).map_err(|e| self.config_error(&dir, e))?;
        fsutil::check_reachable(&dir).map_err(|e| TemplateError::Config(e.to_string()))?;
        // Only a build that died (its daemon killed) leaves these; the lock says none runs.
        fsutil::remove_matching(&dir, &["build-", "env.old-"]);
        let log_path = dir.join("build.log");
        let mut log = File::create(&log_path).map_err(|e| self.config_error(&log_path, e))?;
        let tmp = dir.join(format!("build-{}", uuid::Uuid::new_v4().simple()));
        tracing::info!(template = %template.name, packages = ?template.packages, "building the template's environment");
        let cache = Cache { root: &self.cache };
        let installed = std::fs::create_dir_all(&self.cache)
            .map_err(|source| StepError::Cache { path: self.cache.clone(), source })
            .and_then(|()| match template.language {
                Language::Python => install::python(&self.python, &cache, &tmp, &template.packages, &mut log),
                _ => install::node(&self.npm, &cache, &tmp, &template.packages, &mut log),
            })
            .and_then(|()| Ok(fsutil::open_to_others(&tmp)?))
            .and_then(|()| replace_env(&dir, &tmp));
        if let Err(reason) = installed {
            let _ = sandbox::workspace_fs::remove_tree(&tmp);
            tracing::warn!(template = %template.name, %reason, "the template's build failed");
            let (name, reason) = (template.name.clone(), reason.to_string());
            return Err(TemplateError::Build { name, reason, log_tail: log_tail(&log_path) });
        }
        let record = BuildRecord {
            template: template.name.clone(),
            language: template.language.name().to_owned(),
            packages: template.packages.clone(),
            hash: self.hash(template),
            runtime_version: self.runtime_version(template.language).to_owned(),
            built_at: fsutil::utc_now(),
            build_secs: started.elapsed().as_secs_f64(),
        };
        write_record(&dir, &record).map_err(|e| self.config_error(&dir.join("built.json"), e))?;
        tracing::info!(template = %template.name, secs = record.build_secs, "template built");
        Ok(())
    }

    fn is_current(&self, template: &Template) -> bool {
        let dir = self.template_dir(template);
        let record = std::fs::read(dir.join("built.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<BuildRecord>(&bytes).ok());
        record.is_some_and(|r| r.hash == self.hash(template)) && dir.join("env").is_dir()
    }

    fn hash(&self, template: &Template) -> String {
        let mut hasher = Sha256::new();
        for part in [BUILD_FORMAT, template.language.name(), self.runtime_version(template.language)] {
            hasher.update(part.as_bytes());
            hasher.update(b"\n");
        }
        for package in &template.packages {
            hasher.update(package.as_bytes());
            hasher.update(b"\n");
        }
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn runtime_version(&self, language: Language) -> &str {
        match language {
            Language::Python => &self.python_version,
            _ => &self.node_version,
        }
    }

    fn config_error(&self, path: &Path, e: std::io::Error) -> TemplateError {
        TemplateError::Config(format!("{}: {e}", path.display()))
    }
}

/// Puts the finished build at `env`; an older build is moved aside first and then removed.
fn replace_env(dir: &Path, built: &Path) -> Result<(), StepError> {
    let env = dir.join("env");
    let old = dir.join(format!("env.old-{}", uuid::Uuid::new_v4().simple()));
    let had_old = match std::fs::rename(&env, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(StepError::MoveAside(e)),
    };
    std::fs::rename(built, &env).map_err(StepError::PutInPlace)?;
    if had_old {
        let _ = sandbox::workspace_fs::remove_tree(&old);
    }
    Ok(())
}

fn write_record(dir: &Path, record: &BuildRecord) -> std::io::Result<()> {
    let tmp = dir.join("built.json.tmp");
    let json = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, dir.join("built.json"))
}

/// The end of the build log, from a line start, for error messages.
fn log_tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(path) else { return String::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).and_then(|_| file.read_to_end(&mut bytes)).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    match (start > 0, text.find('\n')) {
        (true, Some(i)) => text[i + 1..].to_owned(),
        _ => text.into_owned(),
    }
}

/// The interpreter's own version line, or `unknown` (then any interpreter change goes unseen).
fn version_of(program: &Path) -> String {
    let output = std::process::Command::new(program).arg("--version").output();
    output
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).lines().next().map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
