//! A session's network: the egress door of each interpreter it starts, and the layer its
//! runtime packages go to. `pip install` installs into `.packages/python` of the session's
//! workspace (on every Python's path in the session), `npm install` into the workspace's
//! `node_modules`: never into the shared template, and gone with the session.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;

use sandbox::SandboxSpec;
use tokio_util::sync::CancellationToken;

use crate::egress::Door;
use crate::sandboxes::Sandboxes;
use crate::{EgressPolicy, ExecuteError, InputFile};

/// The session's Python packages, inside the sandbox.
pub const PYTHON_PACKAGES: &str = "/workspace/.packages/python";
use crate::artifacts::PACKAGES_DIR;

/// The variables that send a session's installs to its layer and put the layer on the path.
pub(crate) fn package_vars(policy: Option<&EgressPolicy>) -> BTreeMap<String, String> {
    let Some(_) = policy else { return BTreeMap::new() };
    [
        ("PIP_TARGET", PYTHON_PACKAGES),
        ("PYTHONPATH", PYTHON_PACKAGES),
        ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
        ("PIP_NO_WARN_SCRIPT_LOCATION", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Made in the workspace when a session with a policy is created: the layer's directory
/// must exist before an interpreter starts, or Python never looks into it again.
pub(crate) fn layer_files() -> Vec<InputFile> {
    let note = "Packages installed at run time in this session (pip install); gone with the session.\n";
    vec![InputFile { path: format!("{PACKAGES_DIR}/python/README.txt"), content: note.as_bytes().to_vec() }]
}

/// Opens the egress door of an interpreter whose session has a policy: `spec` gets it, and
/// the socket for the launcher comes back with it. Passing a limit cancels `kill`.
pub(crate) fn open_door(
    sandboxes: &Sandboxes,
    policy: Option<&EgressPolicy>,
    id: &str,
    spec: &mut SandboxSpec,
    kill: &CancellationToken,
) -> Result<Option<(Door, OwnedFd)>, ExecuteError> {
    let Some(policy) = policy else { return Ok(None) };
    let opened = Door::open(policy, sandboxes.config.egress.clone(), id, kill.clone())
        .map_err(|e| ExecuteError::io("egress door", &e))?;
    crate::spec::with_egress_door(spec);
    Ok(Some(opened))
}
