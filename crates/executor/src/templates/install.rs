//! The package managers' part of a build: a python venv filled by pip, or a node_modules tree
//! filled by npm, made in a temporary directory. Every command's output goes to the build log.
//!
//! Neither tool runs code of the packages on the host: pip takes wheels only (building an
//! sdist would run its setup.py as the daemon's user) and npm skips install scripts.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a single pip or npm command may take before the build is given up.
const STEP_TIME_LIMIT: Duration = Duration::from_secs(20 * 60);

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
) -> Result<(), String> {
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
    std::fs::create_dir_all(&wheels).map_err(|e| format!("cannot create {}: {e}", wheels.display()))?;
    // Two pips writing one wheel file at once could leave a torn wheel for a third.
    let lock_path = cache.root.join("pip-wheels.lock");
    let lock = super::fsutil::lock_file(&lock_path).map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
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
pub fn node(npm: &Path, cache: &Cache<'_>, target: &Path, packages: &[String], log: &mut File) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("cannot create {}: {e}", target.display()))?;
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
        return Err("npm installed nothing (no node_modules)".into());
    }
    Ok(())
}

/// Runs `cmd` with its output in `log`, killing it past [`STEP_TIME_LIMIT`].
fn run(mut cmd: Command, log: &mut File, what: &str) -> Result<(), String> {
    let shown = format!("{} {}", cmd.get_program().to_string_lossy(), shell_words(&cmd));
    let _ = writeln!(log, "$ {shown}");
    let out = log.try_clone().map_err(|e| format!("build log: {e}"))?;
    let err = log.try_clone().map_err(|e| format!("build log: {e}"))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{what}: cannot start {}: {e}", cmd.get_program().to_string_lossy()))?;
    let deadline = Instant::now() + STEP_TIME_LIMIT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{what} failed ({status})")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writeln!(log, "killed after {} s", STEP_TIME_LIMIT.as_secs());
                return Err(format!("{what} took longer than {} s", STEP_TIME_LIMIT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

fn shell_words(cmd: &Command) -> String {
    cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ")
}
