//! How a built template appears inside the sandbox: its environment bound read-only at
//! [`MOUNT_POINT`], and the interpreter and variables that make the run use it.

use std::path::PathBuf;

use sandbox::Mount;

use crate::Language;

/// Where a template's environment is inside every sandbox.
pub const MOUNT_POINT: &str = "/opt/sandbox-env";

/// A template ready for runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub language: Language,
    /// The built environment on the host (a venv, or a directory holding `node_modules`);
    /// `None`: the system interpreter as it is.
    pub dir: Option<PathBuf>,
}

impl Environment {
    /// The binds that show the environment to the run.
    pub(crate) fn mounts(&self) -> Vec<Mount> {
        let Some(dir) = &self.dir else { return Vec::new() };
        let bind = |source: PathBuf, target: String| Mount::Bind {
            source: source.display().to_string(),
            target,
            writable: false,
            optional: false,
        };
        match self.language {
            // A venv works from anywhere: python finds `pyvenv.cfg` next to `bin/` and takes
            // its site-packages from there.
            Language::Python => vec![bind(dir.clone(), MOUNT_POINT.into())],
            _ => {
                let modules = format!("{MOUNT_POINT}/node_modules");
                vec![
                    bind(dir.join("node_modules"), modules.clone()),
                    // ES modules ignore NODE_PATH; they look in node_modules of every
                    // directory above the importing file, up to this one at the root.
                    Mount::Symlink { link_target: modules, target: "/node_modules".into() },
                ]
            }
        }
    }

    /// Variables the run's environment starts with (the caller's own come on top).
    pub(crate) fn vars(&self) -> Vec<(String, String)> {
        if self.dir.is_none() {
            return Vec::new();
        }
        let var = |k: &str, v: String| (k.to_owned(), v);
        match self.language {
            Language::Python => vec![
                var("VIRTUAL_ENV", MOUNT_POINT.into()),
                // So that `python3` and the packages' own commands in subprocesses are the venv's.
                var("PATH", format!("{MOUNT_POINT}/bin:/usr/local/bin:/usr/bin:/bin")),
            ],
            _ => vec![var("NODE_PATH", format!("{MOUNT_POINT}/node_modules"))],
        }
    }

    /// The python interpreter of the venv inside the sandbox, when there is one.
    pub(crate) fn python(&self) -> Option<PathBuf> {
        (self.language == Language::Python && self.dir.is_some())
            .then(|| PathBuf::from(MOUNT_POINT).join("bin/python3"))
    }
}
