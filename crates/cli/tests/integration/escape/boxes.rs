//! The box's process paths through the escape suite: E2B sandboxes' processes (started by
//! `Process.Start` over plain HTTP, with pipes or a terminal) try to reach their box's pid 1
//! (the agent), the daemon, another tenant's box and the host, and to exhaust what the box
//! shares with the daemon; each attempt must fail, the box keep serving, the other box and
//! the daemon stay up, the daemon's memory stay bounded. With a root and an unprivileged daemon.

use std::time::Duration;

use super::host::As;
use crate::common::{self, Daemon};
use crate::e2b::wire::{self, Sandbox};
use crate::e2b::{KEY, OTHER_KEY};

const PROBE: &str = include_str!("box_probe.py");
/// The port a server of the other box listens on (its loopback).
pub(super) const OTHER_PORT: u16 = 8766;
/// The box's `/tmp` cap for these tests, in MiB.
pub(super) const TMP_MB: u64 = 16;
/// How much the daemon's resident memory may grow while floods go unread.
pub(super) const RSS_GROWTH_KB: u64 = 64 * 1024;

/// The daemon, two sandboxes of two tenants, and what went wrong so far.
pub(super) struct Boxes {
    pub(super) daemon: Daemon,
    pub(super) mine: Sandbox,
    pub(super) other: Sandbox,
    failures: Vec<String>,
}

async fn start(daemon: As) -> Option<Boxes> {
    let tmp = TMP_MB.to_string();
    let env = [("SANDBOX_REQUIRE", "namespaces"), ("SANDBOX_TMP_MB", tmp.as_str())];
    let daemon = match daemon {
        As::Root => Daemon::start_with(&env).await,
        As::Unprivileged => Daemon::start_unprivileged(&env).await,
    };
    if !common::sandbox_or_skip(&daemon).await {
        return None;
    }
    let mine = Sandbox::create(&daemon, KEY).await;
    let other = Sandbox::create(&daemon, OTHER_KEY).await;
    // Still there after each attempt: the box went on (it was not replaced by a new one).
    let kept = wire::run(&daemon, &mine, "echo kept > /tmp/box-marker && cat /tmp/box-marker").await;
    assert_eq!(kept.output, "kept\n");
    Some(Boxes { daemon, mine, other, failures: Vec::new() })
}

/// Resident memory of `pid`, in KiB.
pub(super) fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}

impl Boxes {
    pub(super) fn fail(&mut self, what: impl Into<String>) {
        self.failures.push(what.into());
    }

    /// Whether the other box's server answers it, the daemon is healthy and this box serves.
    pub(super) async fn all_still_up(&mut self, after: &str) {
        let curl = format!("curl -s http://127.0.0.1:{OTHER_PORT}/index.html");
        let served = wire::run(&self.daemon, &self.other, &curl).await;
        if served.output != "other-box\n" {
            self.fail(format!("after {after}: the other box's server answered {:?}", served.output));
        }
        let health = self.daemon.get("/health").await;
        if health.status != 200 {
            self.fail(format!("after {after}: the daemon's health {} {}", health.status, health.body));
        }
        let mut next = String::new();
        for _ in 0..30 {
            next = wire::run(&self.daemon, &self.mine, "cat /tmp/box-marker").await.output;
            if next == "kept\n" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.fail(format!("after {after}: the box no longer serves, or is another: {next:?}"));
    }

    /// A server on the other box's loopback, which its own commands reach.
    async fn serve_in_the_other_box(&mut self) {
        let server = format!(
            "cd /tmp && echo other-box > index.html && exec python3 -m http.server {OTHER_PORT} --bind 127.0.0.1"
        );
        let events = wire::start(&self.daemon, &self.other, &["/bin/bash", "-c", &server], None, false).await;
        drop(events);
        for _ in 0..100 {
            let curl = format!("curl -s http://127.0.0.1:{OTHER_PORT}/index.html");
            if wire::run(&self.daemon, &self.other, &curl).await.output == "other-box\n" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the other box's server never answered it");
    }

    /// The probe as a cell of the sandbox's code interpreter (a process of the same box).
    async fn probe_in_a_cell(&mut self) {
        let argv = format!("import sys\nsys.argv = ['probe', '{}', '{OTHER_PORT}']\n", self.daemon.port);
        let body = serde_json::json!({"code": format!("{argv}{PROBE}"), "language": "python"});
        let response =
            crate::e2b::http::plane(&self.daemon, reqwest::Method::POST, "/execute", &self.mine.id, &self.mine.token)
                .header("e2b-sandbox-port", "49999")
                .json(&body)
                .send()
                .await
                .unwrap();
        let text = response.text().await.unwrap_or_default();
        let escaped = text
            .split("ESCAPED")
            .skip(1)
            .map(|rest| format!("a cell: ESCAPED{}", rest.chars().take(120).collect::<String>()));
        self.failures.extend(escaped);
        eprintln!("the probe in a cell: {} denied", text.matches("DENIED").count());
        if !text.contains("probe done") {
            self.fail(format!("the probe in a cell did not finish: {text}"));
        }
    }

    /// The probe's attempts, while the other box has a terminal open.
    async fn probe(&mut self) -> usize {
        let terminal = wire::start(&self.daemon, &self.other, &["/bin/bash"], Some((80, 24)), true).await;
        let port = self.daemon.port.to_string();
        let other_port = OTHER_PORT.to_string();
        let argv = ["/usr/bin/python3", "-c", PROBE, port.as_str(), other_port.as_str()];
        let mut events = wire::start(&self.daemon, &self.mine, &argv, None, false).await;
        let ended = events.read(Duration::from_secs(60), None).await;
        drop(terminal);
        let escaped: Vec<String> =
            ended.output.lines().filter(|l| l.starts_with("ESCAPED")).map(String::from).collect();
        self.failures.extend(escaped);
        if !ended.output.contains("probe done") {
            self.fail(format!("the probe did not finish: {:?}", ended.output));
        }
        eprintln!("{}", ended.output);
        ended.output.lines().filter(|l| l.starts_with("DENIED")).count()
    }
}

/// Every attempt from one box, in turn; the daemon, the other box and this one stay up.
pub(super) async fn box_processes_stay_in_their_box(daemon: As) {
    let Some(mut boxes) = start(daemon).await else { return };
    boxes.serve_in_the_other_box().await;
    let denied = boxes.probe().await;
    boxes.probe_in_a_cell().await;
    boxes.tiocsti().await;
    boxes.absurd_terminal_sizes().await;
    boxes.fork_bomb().await;
    boxes.fill_tmp().await;
    boxes.floods().await;
    boxes.signal_everything().await;
    assert!(denied >= 20, "only {denied} of the probe's attempts were denied");
    assert!(boxes.failures.is_empty(), "{daemon:?} daemon: {:#?}", boxes.failures);
}
