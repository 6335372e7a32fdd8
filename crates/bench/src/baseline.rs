//! Baselines: the bare interpreter started per run, plainly and under bubblewrap, timed as
//! wall time around `std::process::Command` in the same run as the daemon's figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::workloads::{DATA_SNIPPET, JS_HANDLER, NUMPY_PANDAS, PYTHON_DATA, PYTHON_HANDLER};

/// Wall times of the successful runs, the count of failed ones, and the first failure.
pub struct Timings {
    pub samples: Vec<Duration>,
    pub errors: usize,
    pub first_error: Option<String>,
}

/// The sandbox's base environment (crates/executor/src/spec/rootfs.rs).
const CLEAN_ENV: [(&str, &str); 10] = [
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("HOME", "/tmp"),
    ("TMPDIR", "/tmp"),
    ("LANG", "C.UTF-8"),
    ("USER", "sandbox"),
    ("LOGNAME", "sandbox"),
    ("HOSTNAME", "sandbox"),
    ("PYTHONUNBUFFERED", "1"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("MPLBACKEND", "Agg"),
];

/// How a baseline program is started.
#[derive(Clone)]
pub enum Launcher {
    Bare,
    /// The bubblewrap binary, and the template environments to make visible inside.
    Bwrap {
        bwrap: PathBuf,
        templates: PathBuf,
    },
}

impl Launcher {
    fn command(&self, argv: &[String], workdir: &Path) -> Command {
        match self {
            Launcher::Bare => {
                let mut command = Command::new(&argv[0]);
                command.args(&argv[1..]).current_dir(workdir);
                command
            }
            Launcher::Bwrap { bwrap, templates } => {
                let mut command = Command::new(bwrap);
                command.args(bwrap_args(templates, workdir)).args(argv);
                command
            }
        }
    }
}

/// A bubblewrap sandbox shaped like ours: the system read-only, fresh /tmp, /proc and /dev, the
/// working directory writable, and every namespace unshared.
fn bwrap_args(templates: &Path, workdir: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--symlink",
        "usr/sbin",
        "/sbin",
        "--ro-bind",
        "/etc",
        "/etc",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if templates.is_dir() {
        let t = templates.display().to_string();
        args.extend(["--ro-bind".to_owned(), t.clone(), t]);
    }
    args.extend(["--bind".to_owned(), workdir.display().to_string(), "/workspace".to_owned()]);
    args.extend(["--chdir", "/workspace", "--unshare-all", "--die-with-parent", "--"].map(String::from));
    args
}

/// Runs `argv` `warmup + runs` times one after another, timing the last `runs`.
pub fn measure(launcher: &Launcher, argv: &[String], warmup: usize, runs: usize) -> anyhow::Result<Timings> {
    let workdir = tempfile::Builder::new().prefix("sandbox-bench-baseline-").tempdir()?;
    let mut timings = Timings { samples: Vec::with_capacity(runs), errors: 0, first_error: None };
    for i in 0..warmup + runs {
        let mut command = launcher.command(argv, workdir.path());
        // A clean environment, as the sandbox gives its runs: inherited variables change
        // start-up (NODE_EXTRA_CA_CERTS alone costs node about 100 ms).
        command.env_clear().envs(CLEAN_ENV).stdin(Stdio::null());
        let start = Instant::now();
        let output = command.output().with_context(|| format!("starting {}", argv[0]))?;
        let took = start.elapsed();
        if i < warmup {
            continue;
        }
        if output.status.success() {
            timings.samples.push(took);
        } else {
            timings.errors += 1;
            timings.first_error.get_or_insert_with(|| {
                format!("{}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim())
            });
        }
    }
    Ok(timings)
}

/// The baseline programs, by name: each interpreter's start, and the programs of the shapes
/// that name one as `same_program`, and whether it is heavy (imports pandas: fewer runs). `templates` holds the template environments (the
/// python-data programs use its venv's interpreter).
pub fn programs(templates: &Path) -> Vec<(&'static str, Vec<String>, bool)> {
    let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let venv = templates.join(PYTHON_DATA).join("env/bin/python3").display().to_string();
    let handler = format!("{PYTHON_HANDLER}import json\nprint(json.dumps(handler({{'n': 1}}, None)))\n");
    let js = format!("{JS_HANDLER}console.log(JSON.stringify(module.exports.handler({{n: 1}}, {{}})));\n");
    vec![
        ("python3 start", argv(&["/usr/bin/python3", "-c", "print(1)"]), false),
        ("node start", argv(&["/usr/bin/node", "-e", "0"]), false),
        ("bash start", argv(&["/bin/bash", "-c", "echo hi"]), false),
        ("python-handler", argv(&["/usr/bin/python3", "-c", &handler]), false),
        ("js-handler", argv(&["/usr/bin/node", "-e", &js]), false),
        ("numpy-pandas", argv(&[&venv, "-c", NUMPY_PANDAS]), true),
        (PYTHON_DATA, argv(&[&venv, "-c", DATA_SNIPPET]), true),
    ]
}

/// Why bubblewrap cannot run a sandbox here (user namespaces refused, for one), or None when
/// it can.
pub fn bwrap_unusable(bwrap: &Path) -> Option<String> {
    let launcher = Launcher::Bwrap { bwrap: bwrap.to_owned(), templates: PathBuf::new() };
    match measure(&launcher, &["/bin/true".to_owned()], 0, 1) {
        Ok(t) if t.errors == 0 => None,
        Ok(t) => t.first_error,
        Err(e) => Some(format!("{e:#}")),
    }
}

/// `bwrap` on PATH, if installed.
pub fn find_bwrap() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join("bwrap")).find(|p| p.is_file())
}
