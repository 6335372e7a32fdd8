//! The box's attempts at what it shares with the daemon and its own terminal: a fork bomb,
//! a full `/tmp`, output nobody reads, input nobody reads, absurd terminal sizes, TIOCSTI,
//! and signals at everything it sees.

use std::time::{Duration, Instant};

use serde_json::json;

use super::boxes::{rss_kb, Boxes, OTHER_PORT, RSS_GROWTH_KB, TMP_MB};
use crate::e2b::wire;

const TIOCSTI: &str = "import errno, fcntl, termios\n\
try:\n    fcntl.ioctl(0, termios.TIOCSTI, b'x')\n    print('ESCAPED tiocsti')\n\
except OSError as e:\n    print('DENIED tiocsti', errno.errorcode.get(e.errno))\n";

/// Forks until the box refuses, each child living a few seconds.
const FORK_BOMB: &str = r#"
import errno, os, time
n, failed, began = 0, None, time.time()
while time.time() - began < 15:
    try:
        pid = os.fork()
    except OSError as e:
        failed = e.errno
        break
    if pid == 0:
        time.sleep(2)
        os._exit(0)
    n += 1
print(f"forked {n} then {errno.errorcode.get(failed)}", flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
print("reaped", flush=True)
"#;

impl Boxes {
    /// TIOCSTI on the process's own terminal (the seccomp filter denies it).
    pub async fn tiocsti(&mut self) {
        let argv = ["/usr/bin/python3", "-c", TIOCSTI];
        let mut events = wire::start(&self.daemon, &self.mine, &argv, Some((80, 24)), true).await;
        let ended = events.read(Duration::from_secs(30), None).await;
        if !ended.output.contains("DENIED tiocsti") {
            self.fail(format!("TIOCSTI: {:?}", ended.output));
        }
    }

    /// Absurd sizes for a terminal: each answered (clamped or refused), the terminal goes on.
    pub async fn absurd_terminal_sizes(&mut self) {
        let mut terminal = wire::start(&self.daemon, &self.mine, &["/bin/bash"], Some((80, 24)), true).await;
        let pid = terminal.pid;
        let sizes = [
            json!({"cols": 0, "rows": 0}),
            json!({"cols": 65535, "rows": 65535}),
            json!({"cols": 4_294_967_296_u64, "rows": 1_000_000_000_000_u64}),
            json!({"cols": -5, "rows": "many"}),
            json!({"cols": 100_000, "rows": 100_000}),
        ];
        for size in sizes {
            let (status, body) = wire::unary(
                &self.daemon,
                &self.mine,
                "Update",
                &json!({"process": {"pid": pid}, "pty": {"size": size}}),
            )
            .await;
            if status != 200 && status != 400 {
                self.fail(format!("Update to {size}: {status} {body}"));
            }
        }
        let typed = wire::input(pid, b"stty size; echo sized-$((40+2))\n", true);
        let (status, body) = wire::unary(&self.daemon, &self.mine, "SendInput", &typed).await;
        let seen = terminal.read(Duration::from_secs(20), Some("sized-42")).await.output;
        if status != 200 || !seen.contains("sized-42") || !seen.contains("10000 10000") {
            self.fail(format!("the terminal after absurd sizes: {status} {body}: {seen:?}"));
        }
        wire::unary(
            &self.daemon,
            &self.mine,
            "SendSignal",
            &json!({"process": {"pid": pid}, "signal": "SIGNAL_SIGKILL"}),
        )
        .await;
    }

    /// A fork bomb: the box's limit holds, the other box and the daemon stay up meanwhile.
    pub async fn fork_bomb(&mut self) {
        let mut bomb = wire::start(&self.daemon, &self.mine, &["/usr/bin/python3", "-c", FORK_BOMB], None, false).await;
        let held = bomb.read(Duration::from_secs(30), Some("\n")).await.output;
        let forked: Option<u64> = held.split_whitespace().nth(1).and_then(|n| n.parse().ok());
        if !held.contains("then EAGAIN") || forked.is_none_or(|n| n > 4096) {
            self.fail(format!("the fork bomb was not held: {held:?}"));
        }
        eprintln!("fork bomb: {}", held.trim());
        // While its children hold every pid of the box.
        let curl = format!("curl -s http://127.0.0.1:{OTHER_PORT}/index.html");
        let served = wire::run(&self.daemon, &self.other, &curl).await.output;
        let health = self.daemon.get("/health").await.status;
        if served != "other-box\n" || health != 200 {
            self.fail(format!("during the fork bomb: the other box served {served:?}, the daemon's health {health}"));
        }
        let rest = bomb.read(Duration::from_secs(30), None).await;
        if !held.contains("reaped") && !rest.output.contains("reaped") {
            self.fail(format!("the fork bomb's children: {:?} exit {:?} {:?}", rest.output, rest.exit, rest.error));
        }
        self.all_still_up("the fork bomb").await;
    }

    /// Filling `/tmp`: its cap holds, and the space comes back.
    pub async fn fill_tmp(&mut self) {
        let script = "head -c 1G /dev/zero > /tmp/fill; echo \"wrote $(( $(stat -c %s /tmp/fill) / 1048576 ))\"; rm -f /tmp/fill; echo again > /tmp/after && cat /tmp/after";
        let ended = wire::run(&self.daemon, &self.mine, script).await;
        let wrote: Option<u64> =
            ended.output.lines().find_map(|l| l.strip_prefix("wrote ")).and_then(|n| n.trim().parse().ok());
        if wrote.is_none_or(|mb| mb > TMP_MB) || !ended.output.ends_with("again\n") {
            self.fail(format!("/tmp (cap {TMP_MB} MiB) filled: {:?}", ended.output));
        }
    }

    /// Output nobody reads and input a process never reads: the daemon's memory stays bounded,
    /// no call hangs.
    pub async fn floods(&mut self) {
        let before = rss_kb(self.daemon.pid());
        let mut unread = Vec::new();
        for _ in 0..4 {
            unread.push(wire::start(&self.daemon, &self.mine, &["/usr/bin/yes", "flood"], None, false).await.pid);
        }
        let dropped = wire::start(&self.daemon, &self.mine, &["/usr/bin/yes", "dropped"], None, false).await;
        drop(dropped);
        let deaf = wire::start(&self.daemon, &self.mine, &["/bin/sleep", "600"], None, true).await;
        let megabyte = vec![b'x'; 1 << 20];
        let started = Instant::now();
        let mut answers = std::collections::BTreeMap::new();
        for _ in 0..6 {
            let sent = wire::input(deaf.pid, &megabyte, false);
            let call = wire::unary(&self.daemon, &self.mine, "SendInput", &sent);
            let status = match tokio::time::timeout(Duration::from_secs(20), call).await {
                Ok((status, _)) => status,
                Err(_) => 0,
            };
            *answers.entry(status).or_insert(0) += 1;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = rss_kb(self.daemon.pid());
        eprintln!(
            "floods: SendInput answers {answers:?} in {:.1} s; daemon RSS {before} -> {after} KiB",
            started.elapsed().as_secs_f64()
        );
        if answers.contains_key(&0) || answers.keys().any(|s| *s >= 500) {
            self.fail(format!(
                "6 MiB to a process that never reads (past what the box keeps for it): answers {answers:?}"
            ));
        }
        if after > before + RSS_GROWTH_KB {
            self.fail(format!("the daemon grew from {before} to {after} KiB with floods unread"));
        }
        for pid in unread.into_iter().chain([deaf.pid]) {
            wire::unary(
                &self.daemon,
                &self.mine,
                "SendSignal",
                &json!({"process": {"pid": pid}, "signal": "SIGNAL_SIGKILL"}),
            )
            .await;
        }
        self.all_still_up("the floods").await;
    }

    /// Signals at everything the box's processes see: only they end; the agent serves on.
    pub async fn signal_everything(&mut self) {
        let sleeper = wire::start(&self.daemon, &self.mine, &["/bin/sleep", "600"], None, false).await;
        wire::run(&self.daemon, &self.mine, "kill -9 1; kill -KILL -1; kill -STOP 1; kill -TERM 1; echo survived")
            .await;
        // The agent reports the sleeper's end as it reaps it.
        let mut listed = serde_json::Value::Null;
        for _ in 0..50 {
            listed = wire::unary(&self.daemon, &self.mine, "List", &json!({})).await.1;
            let pids = listed["processes"].as_array().into_iter().flatten().filter_map(|p| p["pid"].as_i64());
            if !pids.collect::<Vec<_>>().contains(&sleeper.pid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if listed["processes"].as_array().is_none_or(|l| l.iter().any(|p| p["pid"] == sleeper.pid)) {
            self.fail(format!("kill -9 -1 left the box's sleeper: {listed}"));
        }
        self.all_still_up("kill -9 -1 and kill -9 1").await;
    }
}
