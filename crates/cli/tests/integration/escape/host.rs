//! The host side of the escape suite: planted canaries, a listener and a sleeper for the code
//! to aim at, and the checks that the host came through a case unharmed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::common::{self, Daemon};

/// A random hex string (the kernel's, so no extra dependency).
pub fn random() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap().trim().replace('-', "")
}

/// Whom the daemon runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    /// The tests' own user (root where the suite normally runs).
    Root,
    /// `nobody` when the tests run as root: unprivileged user namespaces, no cgroups of its own.
    Unprivileged,
}

/// The daemon's sandboxes that wait for a run, by kind (see `common::waiting_sandboxes`).
pub struct Waiting {
    zygotes: BTreeSet<u32>,
    prestarted: BTreeSet<u32>,
    /// The programs of the sandboxes zygotes built ahead, each waiting for its claim.
    prebuilt: BTreeSet<u32>,
}

/// Everything the cases aim at, and the baseline the host is compared against.
pub struct Host {
    pub daemon: Daemon,
    /// The host uid the sandbox runs as, when it is one only sandboxes of this daemon use.
    pub sandbox_uid: Option<u32>,
    /// Secrets: files planted in host directories, and one in the daemon's environment.
    pub canaries: Vec<(PathBuf, String)>,
    pub env_canary: String,
    sleeper: Child,
    listen_port: u16,
    host_addresses: Vec<String>,
    connections: Arc<AtomicUsize>,
    shadow_line: Option<String>,
    hostname: String,
    clock: (SystemTime, Instant),
    state_baseline: BTreeSet<String>,
    pub rss_baseline_kb: u64,
    /// Whether its zygotes build sandboxes ahead of their runs.
    builds_ahead: bool,
}

/// The launch paths of a daemon of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warmth {
    /// Every run cold.
    Cold,
    /// Its defaults: JavaScript in pre-started sandboxes, Python in sandboxes its zygotes
    /// build ahead of their runs (or fork for them when none is ready).
    Prebuilt,
    /// As `Prebuilt`, but zygotes build nothing ahead: every Python run gets a fork of its own.
    Forked,
}

impl Warmth {
    fn settings(self) -> Option<(&'static str, &'static str)> {
        match self {
            Warmth::Cold => Some(("SANDBOX_WARM_POOL", "0")),
            Warmth::Forked => Some(("SANDBOX_WARM_PREBUILT", "0")),
            Warmth::Prebuilt => None,
        }
    }
}

impl Host {
    /// Starts a daemon whose sandboxes run as a host uid of their own (when root), so that a
    /// process of that uid can only be a leftover of this suite, plants the canaries, and
    /// starts the listener and the sleeper.
    /// `warmth`: which launch paths the daemon has (see [`Warmth`]).
    /// `daemon`: whether it runs as root (when the tests do) or as an unprivileged user.
    pub async fn start(warmth: Warmth, daemon: As) -> Option<Host> {
        let env_canary = format!("se-canary-{}", random());
        let root = common::is_root() && daemon == As::Root;
        let uid = root.then(|| 200_000 + std::process::id() % 50_000);
        let uid_text = uid.map(|u| u.to_string()).unwrap_or_default();
        // The cases check what each attack actually meets, whatever layers the daemon was told
        // to require; so the suite runs, and says exactly what gets through, where a layer is
        // missing (an unprivileged daemon has no cgroups of its own here, say).
        let mut env = vec![
            ("ESCAPE_CANARY", env_canary.as_str()),
            ("SANDBOX_REQUIRE", "namespaces"),
            // Waiting sandboxes are compared before and after each case: none is replaced for age.
            ("SANDBOX_WARM_MAX_IDLE_SECS", "86400"),
        ];
        env.extend(warmth.settings());
        if uid.is_some() {
            env.extend([("SANDBOX_HOST_UID", uid_text.as_str()), ("SANDBOX_HOST_GID", uid_text.as_str())]);
        }
        let daemon = match daemon {
            As::Root => Daemon::start_with(&env).await,
            As::Unprivileged => Daemon::start_unprivileged(&env).await,
        };
        if !common::sandbox_or_skip(&daemon).await {
            return None;
        }
        let mut canary_paths = vec![daemon.state.path().join("planted-secret.txt")];
        if common::is_root() {
            canary_paths.push(PathBuf::from(format!("/root/.se-escape-canary-{}", daemon.port)));
        }
        canary_paths.push(PathBuf::from(format!("/tmp/se-escape-canary-{}", daemon.port)));
        let canaries: Vec<(PathBuf, String)> =
            canary_paths.into_iter().map(|p| (p, format!("se-canary-{}", random()))).collect();
        for (path, secret) in &canaries {
            std::fs::write(path, secret).unwrap();
        }
        let (listen_port, connections) = listen();
        let sleeper = Command::new("sleep").arg("3600").spawn().expect("start the host sleeper");
        let shadow_line = std::fs::read_to_string("/etc/shadow")
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
            .filter(|l| l.len() > 8);
        let state_baseline = state_entries(daemon.state.path());
        let mut host = Host {
            daemon,
            sandbox_uid: uid,
            canaries,
            env_canary,
            sleeper,
            listen_port,
            host_addresses: host_addresses(),
            connections,
            shadow_line,
            hostname: hostname(),
            clock: (SystemTime::now(), Instant::now()),
            state_baseline,
            rss_baseline_kb: 0,
            builds_ahead: root && warmth == Warmth::Prebuilt,
        };
        host.rss_baseline_kb = rss_kb(host.daemon.pid());
        Some(host)
    }

    /// Waits (at most 30 s) until every warm pool has a sandbox ready, so that each case that
    /// can run warm does.
    pub async fn until_pools_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let info = self.daemon.get("/info").await.body;
            let pools = info["warm"]["pools"].as_array().cloned().unwrap_or_default();
            let ready = |p: &Value| p["ready"].as_u64().unwrap_or(0) > 0;
            // A root daemon's zygotes build sandboxes ahead (an unprivileged one's cannot).
            let built =
                |p: &Value| !(self.builds_ahead && p["kind"] == "fork") || p["prebuilt"].as_u64().unwrap_or(0) > 0;
            if pools.iter().all(|p| ready(p) && built(p)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The values the runner fills into the cases' programs (`TOKEN` and `MARKER` fresh).
    pub fn values(&self) -> BTreeMap<&'static str, String> {
        let paths: Vec<String> = self.canaries.iter().map(|(p, _)| p.display().to_string()).collect();
        BTreeMap::from([
            ("DAEMON_PID", self.daemon.pid().to_string()),
            ("DAEMON_PORT", self.daemon.port.to_string()),
            ("SLEEPER_PID", self.sleeper.id().to_string()),
            ("LISTEN_PORT", self.listen_port.to_string()),
            ("HOST_ADDRS", self.host_addresses.join(" ")),
            ("STATE_DIR", self.daemon.state.path().display().to_string()),
            ("CANARY_PATHS", paths.join(" ")),
            ("MARKER", format!("se-escape-marker-{}", random())),
            ("TOKEN", format!("se-token-{}", random())),
        ])
    }

    /// Secrets of the host found in a result (its whole JSON, artifacts' contents decoded).
    pub fn leaks(&self, result: &serde_json::Value, foreign_tokens: &[String]) -> Vec<String> {
        let text = visible_text(result);
        let mut secrets: Vec<(&str, &str)> =
            self.canaries.iter().map(|(p, s)| (p.to_str().unwrap(), s.as_str())).collect();
        secrets.push(("the daemon's environment", &self.env_canary));
        if let Some(line) = &self.shadow_line {
            secrets.push(("the host's /etc/shadow", line));
        }
        let mut leaks: Vec<String> =
            secrets.iter().filter(|(_, s)| text.contains(s)).map(|(what, _)| format!("LEAKED {what}")).collect();
        leaks.extend(
            foreign_tokens.iter().filter(|t| text.contains(t.as_str())).map(|t| format!("LEAKED {t} of another run")),
        );
        leaks
    }

    /// The isolation layers the daemon reports missing.
    pub async fn missing_layers(&self) -> BTreeSet<String> {
        let info = self.daemon.get("/info").await.body;
        let layers = info["isolation"]["layers"].as_array().cloned().unwrap_or_default();
        layers.iter().filter(|l| l["active"] == false).filter_map(|l| l["name"].as_str().map(str::to_string)).collect()
    }

    /// The drivers of the sandboxes waiting for a run now: Python zygotes and pre-started ones.
    pub fn waiting(&self) -> Waiting {
        let procs = processes();
        let idle = common::waiting_sandboxes(self.daemon.pid());
        // A zygote's forks have its command line: the zygote is the one whose parent has not.
        let forked = |p: &Process| procs.iter().any(|r| r.pid == p.ppid && r.cmdline.contains(" --zygote"));
        let drivers = |mode: &str| -> BTreeSet<u32> {
            let waiting = procs.iter().filter(|p| idle.contains(&p.pid) && p.cmdline.contains(mode));
            waiting.filter(|p| !forked(p)).map(|p| p.pid).collect()
        };
        let zygotes = drivers(" --zygote");
        // A zygote's fork is its sandbox's launcher; the launcher's child is that sandbox's
        // pid 1, whose child is the program waiting for its claim.
        let children = |pids: BTreeSet<u32>| -> BTreeSet<u32> {
            procs.iter().filter(|p| pids.contains(&p.ppid)).map(|p| p.pid).collect()
        };
        let prebuilt = children(children(children(zygotes.clone())));
        Waiting { zygotes, prestarted: drivers(" --warm"), prebuilt }
    }

    /// What a case did to the sandboxes that were `before` it, when `claimed` of its runs were
    /// served by pre-started ones and `claimed_prebuilt` by ones built ahead: every zygote
    /// lives, no more waiting sandboxes are gone than served the case, and none of those left
    /// is stopped.
    pub fn outlived(&self, before: &Waiting, claimed: usize, claimed_prebuilt: usize) -> Vec<String> {
        let procs = processes();
        let state = |pid: u32| procs.iter().find(|p| p.pid == pid).map(|p| p.state).filter(|s| !matches!(s, 'Z' | 'X'));
        let mut problems = Vec::new();
        for &pid in &before.zygotes {
            match state(pid) {
                None => problems.push(format!("the zygote {pid} died")),
                Some('T' | 't') => problems.push(format!("the zygote {pid} is stopped")),
                Some(_) => {}
            }
        }
        let gone = before.prestarted.iter().filter(|&&pid| state(pid).is_none()).count();
        if gone > claimed {
            problems.push(format!("{gone} pre-started sandboxes died, {claimed} of them served the case"));
        }
        let gone = before.prebuilt.iter().filter(|&&pid| state(pid).is_none()).count();
        if gone > claimed_prebuilt {
            problems.push(format!("{gone} sandboxes built ahead died, {claimed_prebuilt} of them served the case"));
        }
        for &pid in before.prestarted.iter().chain(&before.prebuilt) {
            if matches!(state(pid), Some('T' | 't')) {
                problems.push(format!("the waiting sandbox {pid} is stopped"));
            }
        }
        problems
    }

    /// What is wrong with the host after a case; `markers` name the case's processes.
    pub async fn check(&mut self, markers: &[String]) -> Vec<String> {
        if let Some(gone) = self.daemon_gone() {
            return vec![gone];
        }
        let mut problems = Vec::new();
        let health = self.daemon.get("/health").await;
        if health.status != 200 {
            problems.push(format!("/health answered {}: {}", health.status, health.body));
        }
        problems.extend(self.process_problems(markers).await);
        problems.extend(self.host_problems());
        problems.extend(self.state_problems().await);
        problems
    }

    /// The daemon exited or is stopped (a stopped one would not answer at all).
    fn daemon_gone(&mut self) -> Option<String> {
        if let Some(status) = self.daemon.exit_status() {
            let log = self.daemon.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Some(format!("the daemon is gone ({status}); its log ends:\n{}", tail.join("\n")));
        }
        let stopped = processes().iter().any(|p| p.pid == self.daemon.pid() && matches!(p.state, 'T' | 't'));
        stopped.then(|| format!("the daemon {} is stopped", self.daemon.pid()))
    }

    /// Processes of the case left behind, and processes of the daemon's that were stopped.
    async fn process_problems(&self, markers: &[String]) -> Vec<String> {
        // The sandbox's processes end as its pid namespace goes away; give that a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut strays = self.strays(markers);
        while !strays.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            strays = self.strays(markers);
        }
        let mut problems: Vec<String> = strays.into_iter().map(|s| format!("stray process {s}")).collect();
        problems.extend(self.stopped().into_iter().map(|s| format!("stopped process {s}")));
        problems
    }

    /// What of the host outside the daemon the case reached: its listener, its sleeper, its
    /// hostname, its clock, its files.
    fn host_problems(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let connections = self.connections.load(Ordering::SeqCst);
        if connections > 0 {
            problems.push(format!("the host listener got {connections} connections or datagrams"));
        }
        if let Ok(Some(status)) = self.sleeper.try_wait() {
            problems.push(format!("the host sleeper died: {status}"));
        }
        if hostname() != self.hostname {
            problems.push(format!("the hostname changed to {}", hostname()));
        }
        let wall = SystemTime::now().duration_since(self.clock.0).unwrap_or_default().as_secs_f64();
        let drift = (wall - self.clock.1.elapsed().as_secs_f64()).abs();
        if drift > 60.0 {
            problems.push(format!("the host clock moved by {drift:.0} s"));
        }
        for (path, secret) in &self.canaries {
            if std::fs::read_to_string(path).ok().as_deref() != Some(secret.as_str()) {
                problems.push(format!("the canary {} changed", path.display()));
            }
        }
        problems.extend(self.foreign_files());
        problems
    }

    /// What is in the state directory now and was not before, but the workspaces of idle
    /// sandboxes and of those the pools are starting.
    async fn state_added(&self) -> Vec<String> {
        let state = state_entries(self.daemon.state.path());
        let idle = idle_workspaces(&processes(), self.daemon.pid());
        // Pools being refilled have a workspace whose sandbox is still starting.
        let pools = self.daemon.get("/info").await.body["warm"]["pools"].as_array().map_or(0, Vec::len);
        let mut starting = 0;
        state
            .difference(&self.state_baseline)
            .filter(|rel| !idle.contains(&dev_ino(&self.daemon.state.path().join(rel))))
            .filter(|rel| {
                let warm = rel.starts_with("workspaces/runs/warm-") && rel.matches('/').count() == 2;
                starting += usize::from(warm);
                !(warm && starting <= pools)
            })
            .cloned()
            .collect()
    }

    /// Files the case left in the daemon's state directory, and memory it left the daemon.
    async fn state_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // A run's workspace is removed just after its answer: give that a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let added = loop {
            let added = self.state_added().await;
            if added.is_empty() || std::time::Instant::now() > deadline {
                break added;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        if !added.is_empty() {
            problems.push(format!("new files in the state directory: {added:?}"));
        }
        let rss = rss_kb(self.daemon.pid());
        if rss > self.rss_baseline_kb + 256 * 1024 {
            problems.push(format!(
                "the daemon's RSS is {} MiB, {} MiB at the start",
                rss / 1024,
                self.rss_baseline_kb / 1024
            ));
        }
        problems
    }

    /// Processes of the sandbox's host uid, with one of `markers` in their command line, or
    /// descended from the daemon; the daemon's idle pre-started sandboxes aside (see
    /// `common::waiting_sandboxes`), and they never carry a marker.
    fn strays(&self, markers: &[String]) -> Vec<String> {
        let daemon = self.daemon.pid();
        let procs = processes();
        let idle = common::waiting_sandboxes(daemon);
        let descends = descends_from(&procs, daemon);
        procs
            .iter()
            .filter(|p| {
                markers.iter().any(|m| p.cmdline.contains(m.as_str()))
                    || ((Some(p.uid) == self.sandbox_uid || descends(p.pid)) && !idle.contains(&p.pid))
            })
            .map(|p| format!("{} (uid {}): {}", p.pid, p.uid, p.cmdline))
            .collect()
    }

    /// Processes of the daemon's (its sandboxes included) or of the sandbox's host uid that are
    /// stopped: no run may freeze anything that outlives it.
    fn stopped(&self) -> Vec<String> {
        let daemon = self.daemon.pid();
        let procs = processes();
        let descends = descends_from(&procs, daemon);
        procs
            .iter()
            .filter(|p| matches!(p.state, 'T' | 't') && (Some(p.uid) == self.sandbox_uid || descends(p.pid)))
            .map(|p| format!("{} (uid {}): {}", p.pid, p.uid, p.cmdline))
            .collect()
    }

    /// Files the sandbox's uid owns, or named like this suite's, in the host directories the
    /// canaries live in.
    fn foreign_files(&self) -> Vec<String> {
        let ours: BTreeSet<&Path> = self.canaries.iter().map(|(p, _)| p.as_path()).collect();
        let mut found = Vec::new();
        for dir in ["/tmp", "/root", "/etc"] {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                // Canaries of other suites running at the same time are theirs, not leftovers.
                let named =
                    name.contains("se-escape-") && !name.contains("se-escape-canary-") || name.contains("se-token-");
                let named = named && !ours.contains(path.as_path());
                let owned = entry.metadata().ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m));
                if named || (self.sandbox_uid.is_some() && owned == self.sandbox_uid) {
                    found.push(format!("a file appeared on the host: {}", path.display()));
                }
            }
        }
        found
    }

    /// The daemon's resident memory now, in KiB.
    pub fn rss_kb(&self) -> u64 {
        rss_kb(self.daemon.pid())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for (path, _) in &self.canaries {
            let _ = std::fs::remove_file(path);
        }
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

/// A TCP and a UDP listener on every host address, one port, counting what reaches them.
fn listen() -> (u16, Arc<AtomicUsize>) {
    let tcp = TcpListener::bind("0.0.0.0:0").expect("bind the host listener");
    let port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind(("0.0.0.0", port)).expect("bind the UDP listener");
    let count = Arc::new(AtomicUsize::new(0));
    let tcp_count = count.clone();
    std::thread::spawn(move || {
        for stream in tcp.incoming() {
            tcp_count.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    // The counter counts: one connection from here must show before any case runs.
    drop(std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the host listener"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while count.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(count.swap(0, Ordering::SeqCst), 1, "the host listener did not count a connection");
    let udp_count = count.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while udp.recv_from(&mut buf).is_ok() {
            udp_count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
}

/// The host's own non-loopback IPv4 addresses: from `ip -j addr` when present, and the
/// source address of the default route (a UDP connect sends nothing).
fn host_addresses() -> Vec<String> {
    let mut addrs = BTreeSet::new();
    if let Ok(out) = Command::new("ip").args(["-j", "-4", "addr"]).output() {
        if let Ok(serde_json::Value::Array(links)) = serde_json::from_slice(&out.stdout) {
            for info in links.iter().filter_map(|l| l["addr_info"].as_array()).flatten() {
                if let Some(local) = info["local"].as_str() {
                    addrs.insert(local.to_string());
                }
            }
        }
    }
    if let Ok(socket) = UdpSocket::bind("0.0.0.0:0") {
        if socket.connect("192.0.2.1:9").is_ok() {
            if let Ok(local) = socket.local_addr() {
                addrs.insert(local.ip().to_string());
            }
        }
    }
    addrs.into_iter().filter(|a| !a.starts_with("127.") && a != "0.0.0.0").collect()
}

pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// As /proc/PID/status says: `T` stopped, `t` stopped by a tracer, `Z` a zombie.
    pub state: char,
    pub cmdline: String,
}

pub fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut procs = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u32>().ok())
        };
        let (Some(ppid), Some(uid)) = (field("PPid:"), field("Uid:")) else { continue };
        let state =
            status.lines().find_map(|l| l.strip_prefix("State:")).and_then(|v| v.trim().chars().next()).unwrap_or('?');
        let mut raw = Vec::new();
        let _ = std::fs::File::open(format!("/proc/{pid}/cmdline")).and_then(|mut f| f.read_to_end(&mut raw));
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        procs.push(Process { pid, ppid, uid, state, cmdline });
    }
    procs
}

/// Paths below the state directory, except the store's files and sessions' workspaces (which
/// persist by design) and what tests add on purpose.
fn state_entries(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("executor.db") || rel.starts_with("workspaces/persistent/") {
                continue;
            }
            // Workspace mounts are the sandbox's user's: their insides are the runs' business.
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) && !rel.starts_with("workspaces/runs/") {
                stack.push(path.clone());
            }
            out.insert(rel);
        }
    }
    out
}

/// The workspaces (device and inode) of the idle pre-started sandboxes: their drivers'
/// working directories.
fn idle_workspaces(procs: &[Process], daemon: u32) -> BTreeSet<(u64, u64)> {
    let idle = common::waiting_sandboxes(daemon);
    procs
        .iter()
        .filter(|p| idle.contains(&p.pid) && (p.cmdline.contains("--warm") || p.cmdline.contains("--zygote")))
        .map(|p| dev_ino(Path::new(&format!("/proc/{}/cwd", p.pid))))
        .filter(|id| *id != (0, 0))
        .collect()
}

fn dev_ino(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| (m.dev(), m.ino())).unwrap_or((0, 0))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A result as the caller sees it, with the artifacts' base64 contents decoded.
fn visible_text(result: &serde_json::Value) -> String {
    use base64::Engine;
    let mut text = result.to_string();
    for artifact in result["artifacts"].as_array().into_iter().flatten() {
        if let Some(content) = artifact["content"].as_str() {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(content) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    text
}

/// Whether a process descends from `ancestor`, among `procs`.
fn descends_from(procs: &[Process], ancestor: u32) -> impl Fn(u32) -> bool {
    let parents: BTreeMap<u32, u32> = procs.iter().map(|p| (p.pid, p.ppid)).collect();
    move |mut pid: u32| {
        for _ in 0..64 {
            match parents.get(&pid) {
                Some(&parent) if parent == ancestor => return true,
                Some(&parent) if parent > 1 => pid = parent,
                _ => return false,
            }
        }
        false
    }
}
