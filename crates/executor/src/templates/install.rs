//! The package managers' part of a build: a python venv filled by pip, or a node_modules tree
//! filled by npm, made in a temporary directory. Every command's output goes to the build log.
//!
//! Neither tool runs code of the packages on the host: pip takes wheels only (building an
//! sdist would run its setup.py as the daemon's user) and npm skips install scripts.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longest a single pip or npm command may take before the build is given up.
const STEP_TIME_LIMIT: Duration = Duration::from_secs(20 * 60);

/// Why a build's step failed: the reason its error gives, beside the build log's end.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot create the package cache {}: {source}", path.display())]
    Cache { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("build log: {0}")]
    Log(std::io::Error),
    #[error("{what}: cannot start {program}: {source}")]
    Start { what: &'static str, program: String, source: std::io::Error },
    #[error("{what} failed ({status})")]
    Failed { what: &'static str, status: ExitStatus },
    #[error("{what} took longer than {} s", STEP_TIME_LIMIT.as_secs())]
    TooLong { what: &'static str },
    #[error("{what}: {source}")]
    Wait { what: &'static str, source: std::io::Error },
    #[error("npm installed nothing (no node_modules)")]
    NothingInstalled,
    #[error("making the environment readable: {0}")]
    Readable(#[from] sandbox::workspace_fs::WorkspaceFsError),
    #[error("cannot move the previous build aside: {0}")]
    MoveAside(std::io::Error),
    #[error("cannot put the build in place: {0}")]
    PutInPlace(std::io::Error),
}

/// Where the shared package cache keeps what each tool downloaded.
pub struct Cache<'a> {
    pub root: &'a Path,
}

impl Cache<'_> {
    /// pip's own HTTP and wheel-build cache.
    fn pip(&self) -> std::path::PathBuf {
        self.root.join("pip")
    }

    /// Every wheel any template needed, so a later build takes them from disk. pip's HTTP
    /// cache alone is not enough: it keeps nothing when a proxy strips caching headers.
    fn wheels(&self) -> std::path::PathBuf {
        self.root.join("pip-wheels")
    }

    fn npm(&self) -> std::path::PathBuf {
        self.root.join("npm")
    }
}

/// A venv at `target` with `packages`: the wheels are first collected into the shared
/// wheelhouse (from the registry, or found there already), then installed from it alone.
pub fn python(
    python: &Path,
    cache: &Cache<'_>,
    target: &Path,
    packages: &[String],
    log: &mut File,
) -> Result<(), StepError> {
    let mut venv = Command::new(python);
    venv.args(["-m", "venv"]).arg(target);
    run(venv, log, "creating the venv")?;
    let pip = |subcommand: &str| {
        let mut cmd = Command::new(target.join("bin/python"));
        // Run inside the new venv: nothing in the daemon's own directory can pass for a package.
        cmd.current_dir(target);
        cmd.args(["-m", "pip", subcommand, "--disable-pip-version-check", "--no-input", "--cache-dir"])
            .arg(cache.pip())
            .arg("--find-links")
            .arg(cache.wheels());
        cmd
    };
    let wheels = cache.wheels();
    std::fs::create_dir_all(&wheels).map_err(|source| StepError::Create { path: wheels.clone(), source })?;
    // Two pips writing one wheel file at once could leave a torn wheel for a third.
    let lock_path = cache.root.join("pip-wheels.lock");
    let lock = super::fsutil::lock_file(&lock_path).map_err(|source| StepError::Lock { path: lock_path, source })?;
    let mut collect = pip("wheel");
    collect.args(["--only-binary", ":all:", "--wheel-dir"]).arg(&wheels).arg("--").args(packages);
    let collected = run(collect, log, "collecting wheels");
    drop(lock);
    collected?;
    let mut install = pip("install");
    install.args(["--no-index", "--only-binary", ":all:", "--"]).args(packages);
    run(install, log, "installing packages")
}

/// A node_modules tree under `target` with `packages`.
pub fn node(
    npm: &Path,
    cache: &Cache<'_>,
    target: &Path,
    packages: &[String],
    log: &mut File,
) -> Result<(), StepError> {
    std::fs::create_dir_all(target).map_err(|source| StepError::Create { path: target.into(), source })?;
    let mut install = Command::new(npm);
    install
        .current_dir(target)
        .args(["install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-update-notifier", "--cache"])
        .arg(cache.npm())
        .arg("--prefix")
        .arg(target)
        .arg("--")
        .args(packages);
    run(install, log, "installing packages")?;
    if !target.join("node_modules").is_dir() {
        return Err(StepError::NothingInstalled);
    }
    Ok(())
}

/// Runs `cmd` with its output in `log`, killing it past [`STEP_TIME_LIMIT`].
fn run(mut cmd: Command, log: &mut File, what: &'static str) -> Result<(), StepError> {
    let shown = format!("{} {}", cmd.get_program().to_string_lossy(), shell_words(&cmd));
    let _ = writeln!(log, "$ {shown}");
    let out = log.try_clone().map_err(StepError::Log)?;
    let err = log.try_clone().map_err(StepError::Log)?;
    let mut child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().map_err(|source| StepError::Start {
        what,
        program: cmd.get_program().to_string_lossy().into(),
        source,
    })?;
    let deadline = Instant::now() + STEP_TIME_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(StepError::Failed { what, status }),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writeln!(log, "killed after {} s", STEP_TIME_LIMIT.as_secs());
                return Err(StepError::TooLong { what });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(source) => return Err(StepError::Wait { what, source }),
        }
    }
}

fn shell_words(cmd: &Command) -> String {
    cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}
