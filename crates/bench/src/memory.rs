//! Memory of what a daemon keeps ready: the proportional set size (PSS, shared pages divided
//! among their sharers) of each ready sandbox or zygote, the daemon's direct children.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::machine::{field, kib};

/// One direct child of the daemon and every process under it.
pub struct ReadySandbox {
    pub pid: u32,
    /// The command line of its deepest process (the interpreter).
    pub command: String,
    pub processes: usize,
    /// PSS summed over its processes, or None when a process's smaps_rollup could not be read.
    pub pss_kb: Option<u64>,
    /// For a zygote: the PSS of each sandbox it built ahead of its runs (a subtree under the
    /// zygote, counted in `pss_kb` as well).
    pub built_ahead_kb: Vec<Option<u64>>,
}

impl ReadySandbox {
    pub fn to_json(&self) -> Value {
        let mb = |kb: Option<u64>| kb.map(|k| (k as f64 / 1024.0 * 100.0).round() / 100.0);
        json!({"pid": self.pid, "command": self.command, "processes": self.processes, "pss_mb": mb(self.pss_kb),
               "built_ahead_pss_mb": self.built_ahead_kb.iter().map(|kb| mb(*kb)).collect::<Vec<_>>()})
    }

    /// What it is, for grouping: its interpreter's path and its role (a zygote that forks
    /// runs, or a pre-started sandbox waiting for one), from the command line.
    pub fn kind(&self) -> String {
        let argv0 = self.command.split_whitespace().next().unwrap_or("?");
        let role = if self.command.contains("--zygote") {
            "zygote"
        } else if self.command.contains("--warm") {
            "pre-started"
        } else {
            "other"
        };
        format!("{argv0} {role}")
    }
}

/// The daemon's children, each with its subtree, read from /proc.
pub fn ready_sandboxes(daemon: u32) -> Vec<ReadySandbox> {
    let parents = parents();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &ppid) in &parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut roots = children.get(&daemon).cloned().unwrap_or_default();
    roots.sort_unstable();
    roots
        .into_iter()
        .map(|root| {
            let (mut tree, mut deepest, mut stack) = (Vec::new(), (0, root), vec![(root, 0)]);
            while let Some((pid, depth)) = stack.pop() {
                tree.push(pid);
                if depth > deepest.0 {
                    deepest = (depth, pid);
                }
                stack.extend(children.get(&pid).into_iter().flatten().map(|&c| (c, depth + 1)));
            }
            let pss_kb = tree.iter().map(|&pid| pss_kb(pid)).sum();
            let command = command(deepest.1);
            // A zygote's forks have its command line: its own process is the shallowest one.
            let zygote = tree.iter().copied().find(|&pid| self::command(pid).contains("--zygote"));
            let built_ahead_kb = zygote
                .and_then(|z| children.get(&z))
                .into_iter()
                .flatten()
                .map(|&fork| subtree(&children, fork).iter().map(|&pid| self::pss_kb(pid)).sum())
                .collect();
            ReadySandbox { pid: root, command, processes: tree.len(), pss_kb, built_ahead_kb }
        })
        .collect()
}

/// `root` and every process under it.
fn subtree(children: &HashMap<u32, Vec<u32>>, root: u32) -> Vec<u32> {
    let (mut tree, mut stack) = (Vec::new(), vec![root]);
    while let Some(pid) = stack.pop() {
        tree.push(pid);
        stack.extend(children.get(&pid).into_iter().flatten());
    }
    tree
}

/// The PSS of one process in KiB.
pub fn pss_kb(pid: u32) -> Option<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    field(&rollup, "Pss").and_then(kib)
}

/// pid → parent pid of every process.
fn parents() -> HashMap<u32, u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return HashMap::new() };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some((pid, parent_of(&stat)?))
    })
    .collect()
}

/// The parent pid in a /proc/PID/stat line: the field after the state, which follows the
/// command name in parentheses (a name that may itself hold spaces and parentheses).
fn parent_of(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

fn command(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw).replace('\0', " ");
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_follows_a_name_with_spaces_and_parentheses() {
        assert_eq!(parent_of("2487 (python3 (x) y) S 2485 2487 2470 0 -1"), Some(2485));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn this_process_is_its_parents_child() {
        let me = std::process::id();
        let parent = parent_of(&std::fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
        assert!(ready_sandboxes(parent).iter().any(|s| s.pid == me));
        assert!(pss_kb(me).is_some());
    }

    #[test]
    fn a_sandbox_is_known_by_its_interpreter_and_role() {
        let s = |command: &str| ReadySandbox {
            pid: 1,
            command: command.into(),
            processes: 3,
            pss_kb: None,
            built_ahead_kb: Vec::new(),
        };
        assert_eq!(s("/usr/bin/python3 -u -B /sandbox/driver.py --zygote /opt").kind(), "/usr/bin/python3 zygote");
        assert_eq!(s("/usr/bin/node /sandbox/driver.js --warm").kind(), "/usr/bin/node pre-started");
    }
}
