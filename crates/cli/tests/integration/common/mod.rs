//! Test harness: starts the real `sandbox-executor serve` on a free loopback port with its own
//! workspace root, and talks to it over HTTP.

pub mod control_plane;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_sandbox-executor");

/// The zygote library the daemon finds beside its binary: built by `cargo build` (and by the
/// test script), not by `cargo test`, so a missing or older one is built here.
pub fn ensure_zygote_library() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let bin = std::path::Path::new(BIN);
        let library = bin.with_file_name("libsandbox_zygote.so");
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&library).is_some_and(|lib| modified(bin).is_some_and(|bin| lib >= bin)) {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "sandbox-zygote"]);
        if bin.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p sandbox-zygote");
        assert!(status.success(), "cargo build -p sandbox-zygote failed");
    });
}

pub struct Daemon {
    child: Child,
    pub port: u16,
    pub base: String,
    pub state: tempfile::TempDir,
    client: reqwest::Client,
}

pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Daemon {
    pub async fn start() -> Daemon {
        Daemon::start_with(&[]).await
    }

    /// Starts a daemon with extra environment variables and waits until it answers.
    pub async fn start_with(env: &[(&str, &str)]) -> Daemon {
        let state = tempfile::Builder::new().prefix("se-test-").tempdir_in(test_root()).expect("temp dir");
        // The sandbox's unprivileged user must be able to traverse to its workspace.
        std::fs::set_permissions(state.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Daemon::start_in(state, env).await
    }

    /// Starts a daemon on an existing state directory (as after a restart).
    pub async fn start_in(state: tempfile::TempDir, env: &[(&str, &str)]) -> Daemon {
        Daemon::launch(state, env, false).await
    }

    /// Starts a daemon that logs at info level into `daemon.log` of its state directory.
    pub async fn start_logged(env: &[(&str, &str)]) -> Daemon {
        let state = tempfile::Builder::new().prefix("se-test-").tempdir_in(test_root()).expect("temp dir");
        std::fs::set_permissions(state.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Daemon::launch(state, env, true).await
    }

    /// Starts a daemon as an unprivileged user: `nobody` when the tests run as root (its state,
    /// templates and package cache then are its own), else the tests' own user. It logs at
    /// info level into `daemon.log` of its state directory.
    pub async fn start_unprivileged(env: &[(&str, &str)]) -> Daemon {
        let Some((uid, gid)) = is_root().then(nobody) else { return Daemon::start_logged(env).await };
        let state = tempfile::Builder::new().prefix("se-test-").tempdir_in(test_root()).expect("temp dir");
        std::fs::set_permissions(state.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(state.path(), Some(uid), Some(gid)).unwrap();
        let (templates, cache) = (state.path().join("templates"), state.path().join("cache"));
        let mut env: Vec<(&str, &str)> = env.to_vec();
        let (templates_text, cache_text) = (templates.display().to_string(), cache.display().to_string());
        let home = state.path().display().to_string();
        env.extend([
            ("SANDBOX_TEMPLATES_DIR", templates_text.as_str()),
            ("SANDBOX_PACKAGE_CACHE_DIR", cache_text.as_str()),
            ("HOME", home.as_str()),
        ]);
        Daemon::spawn(state, &env, true, Some((uid, gid))).await
    }

    async fn launch(state: tempfile::TempDir, env: &[(&str, &str)], logged: bool) -> Daemon {
        Daemon::spawn(state, env, logged, None).await
    }

    /// Starts a daemon whose limit of open descriptors is `soft` and `hard` when it starts
    /// (set by `prlimit`, as a service manager's `LimitNOFILE` would); it logs at info level
    /// into `daemon.log` of its state directory.
    pub async fn start_with_nofile(env: &[(&str, &str)], soft: u64, hard: u64) -> Daemon {
        let state = tempfile::Builder::new().prefix("se-test-").tempdir_in(test_root()).expect("temp dir");
        std::fs::set_permissions(state.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let nofile = format!("--nofile={soft}:{hard}");
        Daemon::spawn_as(Command::new("prlimit").args([nofile.as_str(), BIN]), state, env, true, None).await
    }

    /// `user`: the uid and gid the daemon runs as (supplementary groups dropped), when not ours.
    async fn spawn(state: tempfile::TempDir, env: &[(&str, &str)], logged: bool, user: Option<(u32, u32)>) -> Daemon {
        Daemon::spawn_as(&mut Command::new(BIN), state, env, logged, user).await
    }

    /// [`Daemon::spawn`] with `command`, which runs the daemon's binary (itself, or through
    /// a wrapper that execs it).
    async fn spawn_as(
        command: &mut Command,
        state: tempfile::TempDir,
        env: &[(&str, &str)],
        logged: bool,
        user: Option<(u32, u32)>,
    ) -> Daemon {
        ensure_zygote_library();
        // A test that needs to know the port before the start (peers name each other by it)
        // gives it.
        let given = env.iter().find(|(k, _)| *k == "EXECUTOR_PORT").map(|(_, v)| v.parse().expect("a port"));
        let port = given.unwrap_or_else(free_port);
        if let Some((uid, gid)) = user {
            // Started by root, std also clears the supplementary groups.
            std::os::unix::process::CommandExt::uid(command, uid);
            std::os::unix::process::CommandExt::gid(command, gid);
        }
        command
            .arg("serve")
            .env("EXECUTOR_HOST", "127.0.0.1")
            .env("EXECUTOR_PORT", port.to_string())
            .env("STATE_DIR", state.path())
            .env("WORKSPACE_PATH", state.path().join("workspaces"))
            .env("LOG_LEVEL", if logged { "info" } else { "warn" })
            // Every daemon shares one templates directory and one package cache, so that
            // python-data (the NVIDIA dialect's template) is built once for the whole suite;
            // the build lock makes the others wait for it. A test may name its own.
            .env("SANDBOX_TEMPLATES_DIR", shared_templates_dir())
            .env("SANDBOX_PACKAGE_CACHE_DIR", shared_cache_dir())
            .stdout(Stdio::null())
            .stderr(if logged {
                Stdio::from(std::fs::File::create(state.path().join("daemon.log")).unwrap())
            } else {
                Stdio::inherit()
            });
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start the daemon");
        let daemon = Daemon {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            state,
            // Long enough for a request that waits for a template build on a loaded machine.
            client: reqwest::Client::builder().timeout(Duration::from_secs(300)).build().unwrap(),
        };
        daemon.wait_ready().await;
        daemon
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.client.get(format!("{}/health", self.base)).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the daemon did not answer on {} within 20 s", self.base);
    }

    pub async fn get(&self, path: &str) -> Response {
        into_response(self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        into_response(self.client.post(format!("{}{path}", self.base)).json(body).send().await.expect("POST")).await
    }

    /// Posts raw bytes with the given content type.
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Response {
        let mut request = self.client.post(format!("{}{path}", self.base)).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        into_response(request.send().await.expect("POST")).await
    }

    /// POST /execute, asserting a 200, returning the result.
    pub async fn execute(&self, body: Value) -> Value {
        let response = self.post("/execute", &body).await;
        assert_eq!(response.status, 200, "POST /execute {body} answered {}: {}", response.status, response.body);
        response.body
    }

    /// Whether `GET /info` lists the isolation layer `name` as active.
    pub async fn layer_active(&self, name: &str) -> bool {
        let info = self.get("/info").await;
        let layers = info.body["isolation"]["layers"].as_array().cloned().unwrap_or_default();
        layers.iter().any(|l| l["name"] == name && l["active"] == true)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the daemon with SIGKILL, as a crash or the OOM killer would, and hands back its
    /// state directory for a restart.
    pub fn kill_hard(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let placeholder = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.state, placeholder)
    }

    /// What the daemon logged (started with [`Daemon::start_logged`]).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("daemon.log")).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
    }

    /// How the daemon ended, if it has.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the daemon to exit, at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Mount points under this daemon's state directory.
    pub fn mounts_under_state(&self) -> Vec<String> {
        mounts_under(self.state.path())
    }
}

impl Drop for Daemon {
    /// Stops the daemon the way an operator would (SIGTERM), so it removes its workspace
    /// mounts; SIGKILL only if it does not stop in time.
    fn drop(&mut self) {
        // A daemon already reaped (killed hard, or seen exiting) is not signalled: its pid may
        // by now be another process's, another test's daemon say. One not yet reaped keeps
        // its pid, as a zombie at worst, until it is.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // A daemon that stopped in order leaves no workspace mounted behind it.
                let left = mounts_below(self.state.path());
                if !left.is_empty() && !std::thread::panicking() {
                    panic!("the daemon stopped but left mounted: {left:?}");
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mount points at or below `dir`.
pub fn mounts_below(dir: &std::path::Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .filter(|target| *target == prefix || target.starts_with(&format!("{prefix}/")))
        .map(str::to_string)
        .collect()
}

async fn into_response(response: reqwest::Response) -> Response {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Response { status, headers, body }
}

/// The uid and gid of `nobody` (65534 where /etc/passwd does not say).
pub fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            (fields.first() == Some(&"nobody"))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
        })
        .flatten()
        .unwrap_or((65534, 65534))
}

/// Whether the tests (and so the daemons they start) run as root.
pub fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

/// Pids of the processes below `ancestor` whose command line contains `pattern`.
pub fn descendants_matching(ancestor: u32, pattern: &str) -> Vec<u32> {
    let procs = host_processes();
    let below = |mut pid: u32| {
        for _ in 0..64 {
            match procs.iter().find(|p| p.0 == pid) {
                Some(&(_, parent, _)) if parent == ancestor => return true,
                Some(&(_, parent, _)) if parent > 1 => pid = parent,
                _ => return false,
            }
        }
        false
    };
    procs.iter().filter(|p| p.2.contains(pattern) && below(p.0)).map(|p| p.0).collect()
}

pub fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&prefix))
        .collect()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().unwrap().port()
}

/// Test state lives outside /tmp so that nothing in a sandbox's own /tmp can be confused
/// with it, and under a path the sandbox's user can traverse.
fn test_root() -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// The templates directory every daemon uses unless a test names its own.
pub fn shared_templates_dir() -> std::path::PathBuf {
    reachable_dir(test_root().join("shared-templates"))
}

/// The package cache every daemon and build of the suite uses.
pub fn shared_cache_dir() -> std::path::PathBuf {
    reachable_dir(test_root().join("shared-cache"))
}

/// A fresh, empty directory the sandbox's user can traverse (a clean state for builds).
pub fn fresh_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(test_root()).expect("temp dir");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

/// Created if missing, and traversable by the sandbox's unprivileged user (its templates
/// are bound from below it).
fn reachable_dir(dir: std::path::PathBuf) -> std::path::PathBuf {
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

/// Asserts the seed's error body and returns its error code.
pub fn assert_error_body(response: &Response, status: u16) -> String {
    assert_eq!(response.status, status, "unexpected status, body: {}", response.body);
    for field in ["error_code", "description", "error_detail", "solution", "request_id"] {
        assert!(response.body.get(field).is_some_and(|v| v.is_string()), "error body lacks {field}: {}", response.body);
    }
    response.body["error_code"].as_str().unwrap().to_string()
}

/// Skips a test (with the reason printed) when this host cannot build sandboxes; fails it
/// instead where sandbox tests are required (`CI=true` or `SANDBOX_TESTS_REQUIRED=1`), so a
/// CI run that cannot sandbox never passes by skipping everything.
pub async fn sandbox_or_skip(daemon: &Daemon) -> bool {
    let health = daemon.get("/health").await;
    if health.status != 200 {
        let reason = format!("the sandbox does not work on this host: {}", health.body);
        if sandbox_tests_required() {
            panic!("{reason} (sandbox tests are required here: CI=true or SANDBOX_TESTS_REQUIRED=1)");
        }
        eprintln!("SKIP: {reason}");
        return false;
    }
    true
}

/// Whether a test that cannot sandbox must fail rather than skip.
pub fn sandbox_tests_required() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    var("CI").eq_ignore_ascii_case("true") || var("SANDBOX_TESTS_REQUIRED") == "1"
}

/// A daemon, or None (the test is skipped, with the reason printed) when this host cannot
/// build sandboxes.
pub async fn sandboxed() -> Option<Daemon> {
    let d = Daemon::start().await;
    sandbox_or_skip(&d).await.then_some(d)
}

/// A string field of a result, or a panic that shows the whole result.
pub fn text<'a>(r: &'a Value, field: &str) -> &'a str {
    r[field].as_str().unwrap_or_else(|| panic!("{field} is not a string: {r}"))
}

/// The SHA-256 of `bytes`, in hex, as the daemon reports artifacts.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// The daemon's child (a sandbox's launcher) that `pid` runs under, if any.
pub fn sandbox_of(daemon: u32, pid: u32) -> Option<u32> {
    let procs = host_processes();
    let mut at = pid;
    for _ in 0..64 {
        let parent = procs.iter().find(|p| p.0 == at)?.1;
        if parent == daemon {
            return Some(at);
        }
        at = parent;
    }
    None
}

/// Processes (pid, parent, command line) of the host.
fn host_processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut procs = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The parent is the second field after the command name, which ends at the last ')'.
        let Some(ppid) = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        procs.push((pid, ppid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    procs
}

/// The processes of the daemon's pre-started sandboxes that wait for a run (or are starting):
/// trees under a direct child of the daemon made of nothing but the sandbox's launcher and
/// init (`sandbox-init`) and at most one driver still waiting (`driver.py --warm`,
/// `driver.js --warm`) or a zygote between forks (`driver.py --zygote`), with the sandboxes
/// the zygote built ahead of their runs. A run happens inside its driver (or a fork below the
/// zygote), and its sandbox is gone when its result is back: a tree with anything else in it
/// is not waiting.
pub fn waiting_sandboxes(daemon: u32) -> std::collections::BTreeSet<u32> {
    let procs = host_processes();
    let children = |pid: u32| procs.iter().filter(move |p| p.1 == pid);
    let is_init = |p: &(u32, u32, String)| p.2.starts_with("sandbox-init ");
    let is_waiting = |p: &(u32, u32, String)| {
        [" /sandbox/driver.py --warm", " /sandbox/driver.js --warm", " /sandbox/driver.py --zygote"]
            .iter()
            .any(|mode| p.2.contains(mode))
    };
    let mut waiting = std::collections::BTreeSet::new();
    for launcher in children(daemon).filter(|p| is_init(p)) {
        // The launcher, its pid 1 and that one's children; a zygote's forks are below.
        let init: Vec<_> = children(launcher.0).collect();
        let programs: Vec<_> = init.iter().flat_map(|p| children(p.0)).collect();
        let tree: Vec<_> = std::iter::once(launcher).chain(init).chain(programs).collect();
        let drivers = tree.iter().filter(|p| is_waiting(p)).count();
        if tree.len() <= 3 && drivers <= 1 && tree.iter().all(|p| is_init(p) || is_waiting(p)) {
            waiting.extend(tree.iter().map(|p| p.0));
            for zygote in tree.iter().filter(|p| p.2.contains(" --zygote")) {
                waiting.extend(built_ahead(&procs, zygote));
            }
        }
    }
    waiting
}

/// The sandboxes `zygote` built ahead of their runs, waiting: a fork of it (the launcher)
/// with one child (pid 1) with one child (the program), all still the zygote's image.
fn built_ahead(procs: &[(u32, u32, String)], zygote: &(u32, u32, String)) -> Vec<u32> {
    let children = |pid: u32| procs.iter().filter(move |p| p.1 == pid).collect::<Vec<_>>();
    let mut found = Vec::new();
    for launcher in children(zygote.0) {
        let init = children(launcher.0);
        let program = init.first().map(|p| children(p.0)).unwrap_or_default();
        let tree = [vec![launcher], init.clone(), program.clone()].concat();
        if init.len() == 1 && program.len() == 1 && tree.iter().all(|p| p.2 == zygote.2) {
            found.extend(tree.iter().map(|p| p.0));
        }
    }
    found
}

/// The daemon's Python zygotes: processes running the zygote driver whose parent does not
/// (the zygote's forks, a run's launcher or a sandbox built ahead, have its command line).
pub fn zygotes(daemon: u32) -> Vec<u32> {
    const ZYGOTE: &str = " /sandbox/driver.py --zygote ";
    let forks = descendants_matching(daemon, ZYGOTE);
    let procs = host_processes();
    let parent = |pid: u32| procs.iter().find(|p| p.0 == pid).map(|p| p.1);
    forks.iter().copied().filter(|&pid| parent(pid).is_none_or(|ppid| !forks.contains(&ppid))).collect()
}

/// The cgroups (their directory names) of [`waiting_sandboxes`].
pub fn waiting_sandbox_cgroups(daemon: u32) -> std::collections::BTreeSet<String> {
    waiting_sandboxes(daemon)
        .into_iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok())
        .flat_map(|text| text.lines().filter_map(|l| l.rsplit('/').next().map(str::to_string)).collect::<Vec<_>>())
        .filter(|name| !name.is_empty())
        .collect()
}
