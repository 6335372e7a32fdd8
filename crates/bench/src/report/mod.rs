//! The latency bench's figures (as tables for people in `text`, as JSON in `json`), their
//! ratios to the baselines, and the targets of the warm-path issue.

mod json;
mod text;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::baseline::Timings;
use crate::machine::Machine;
use crate::memory::ReadySandbox;
use crate::phases::Phases;
use crate::stats::{ms, ratio, summarize, Summary};
use crate::workloads::{Endpoint, Goal, PYTHON_HELLO};

pub struct Report {
    pub machine: Machine,
    pub daemon_version: String,
    pub warm_advertised: bool,
    pub paths: Vec<PathReport>,
    pub baselines: Vec<BaselineRow>,
    pub rss_idle_start: Option<f64>,
    pub rss_idle_after: Option<f64>,
    pub ready: ReadyMemory,
    pub notes: Vec<String>,
}

/// What the daemon keeps ready, measured idle after the runs.
pub struct ReadyMemory {
    pub sandboxes: Vec<ReadySandbox>,
    pub daemon_pss_kb: Option<u64>,
    /// `GET /info`'s `warm.pools`.
    pub pools: Value,
}

/// The figures of one pass (`warm`: requests send `"warm": true`, `cold`: false).
pub struct PathReport {
    pub path: &'static str,
    pub rows: Vec<WorkloadRow>,
    pub throughput: Throughput,
}

pub struct WorkloadRow {
    pub name: &'static str,
    pub endpoint: Endpoint,
    /// The baseline of its interpreter's start, and of the same program, by name.
    pub start: &'static str,
    pub same_program: Option<&'static str>,
    pub goals: Vec<Goal>,
    pub e2e: Summary,
    /// End-to-end minus the sandbox's own wall time (`metrics.duration_ms`).
    pub overhead: Summary,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Measured runs by the path that served them (`metrics.path`: cold, warm, forked).
    pub served: BTreeMap<String, usize>,
    pub phases: Phases,
}

impl WorkloadRow {
    /// Runs served from a zygote's fork or a pre-started sandbox.
    pub fn served_warm(&self) -> usize {
        self.served.iter().filter(|(path, _)| *path == "warm" || *path == "forked").map(|(_, n)| n).sum()
    }

    fn measured(&self) -> bool {
        self.errors == 0 && self.e2e.count > 0
    }
}

/// `cold 2, forked 48`.
pub fn served_text(served: &BTreeMap<String, usize>) -> String {
    let parts: Vec<String> = served.iter().map(|(path, n)| format!("{path} {n}")).collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

pub struct Throughput {
    pub concurrency: usize,
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub first_error: Option<String>,
    pub served: BTreeMap<String, usize>,
}

impl Throughput {
    pub fn per_sec(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

pub struct BaselineRow {
    pub name: &'static str,
    pub command: String,
    pub bare: Timings,
    pub bwrap: Option<Timings>,
}

/// A shape's p50 divided by baselines' p50.
#[derive(Default)]
pub struct Ratios {
    /// By the bare interpreter's start (`python3 -c 'print(1)'`, `node -e 0`, `bash -c 'echo hi'`).
    pub start: Option<f64>,
    /// By the same program on the bare interpreter.
    pub same: Option<f64>,
    /// By the same program (else the start) under bubblewrap.
    pub bwrap: Option<f64>,
}

/// One target of the issue, and whether a path meets it.
#[derive(Debug, PartialEq)]
pub struct Target {
    pub what: String,
    /// As printed next to the shape's figures: `p50 ≤ 5 ms`.
    pub short: String,
    pub limit: f64,
    pub unit: &'static str,
    /// true: the figure must be at least the limit; false: at most.
    pub at_least: bool,
    pub measured: Option<f64>,
}

impl Target {
    fn at_most(
        what: impl Into<String>,
        short: impl Into<String>,
        limit: f64,
        unit: &'static str,
        measured: Option<f64>,
    ) -> Target {
        Target { what: what.into(), short: short.into(), limit, unit, at_least: false, measured }
    }

    pub fn met(&self) -> bool {
        match self.measured {
            Some(m) if self.at_least => m >= self.limit,
            Some(m) => m <= self.limit,
            None => false,
        }
    }

    pub fn verdict(&self) -> &'static str {
        if self.met() {
            "met"
        } else {
            "NOT met"
        }
    }
}

fn p50(t: &Timings) -> Duration {
    summarize(t.samples.clone()).p50
}

impl Report {
    fn baseline(&self, name: &str) -> Option<&BaselineRow> {
        self.baselines.iter().find(|b| b.name == name)
    }

    pub fn ratios(&self, row: &WorkloadRow) -> Ratios {
        if row.e2e.count == 0 {
            return Ratios::default();
        }
        let ours = row.e2e.p50;
        let start = self.baseline(row.start);
        let same = row.same_program.and_then(|name| self.baseline(name));
        let bwrap = same.or(start).and_then(|b| b.bwrap.as_ref());
        Ratios {
            start: start.and_then(|b| ratio(ours, p50(&b.bare))),
            same: same.and_then(|b| ratio(ours, p50(&b.bare))),
            bwrap: bwrap.and_then(|t| ratio(ours, p50(t))),
        }
    }

    fn idle_rss(&self) -> Option<f64> {
        [self.rss_idle_start, self.rss_idle_after].into_iter().flatten().reduce(f64::max)
    }

    /// The target `goal` for one shape. A shape with failed runs does not meet it.
    pub fn goal_target(&self, path: &PathReport, row: &WorkloadRow, goal: Goal) -> Target {
        let ok = row.measured();
        let name = row.name;
        let interpreter = row.start.trim_end_matches(" start");
        match goal {
            Goal::P50AtMost(l) => {
                Target::at_most(format!("{name} p50"), format!("p50 ≤ {l} ms"), l, "ms", ok.then(|| ms(row.e2e.p50)))
            }
            Goal::P99AtMost(l) => {
                Target::at_most(format!("{name} p99"), format!("p99 ≤ {l} ms"), l, "ms", ok.then(|| ms(row.e2e.p99)))
            }
            Goal::TimesStartAtMost(x) => Target::at_most(
                format!("{name} p50 / bare {interpreter} start p50"),
                format!("≤ {x}x {interpreter}"),
                x,
                "x",
                self.ratios(row).start.filter(|_| ok),
            ),
            Goal::WithinOfHello(d) => {
                let hello = path.rows.iter().find(|r| r.name == PYTHON_HELLO && r.measured());
                let measured = hello.filter(|_| ok).map(|h| ms(row.e2e.p50) - ms(h.e2e.p50));
                Target::at_most(
                    format!("{name} p50 - {PYTHON_HELLO} p50"),
                    format!("≤ hello + {d} ms"),
                    d,
                    "ms",
                    measured,
                )
            }
        }
    }

    /// Every target of the issue on one path: each shape's, then throughput, overhead and RSS.
    pub fn targets(&self, path: &PathReport) -> Vec<Target> {
        let mut targets: Vec<Target> =
            path.rows.iter().flat_map(|r| r.goals.iter().map(|g| self.goal_target(path, r, *g))).collect();
        let t = &path.throughput;
        targets.push(Target {
            what: format!("{PYTHON_HELLO} throughput at concurrency {}, zero errors", t.concurrency),
            short: String::new(),
            limit: 300.0,
            unit: "runs/s",
            at_least: true,
            measured: (t.errors == 0).then(|| t.per_sec()),
        });
        let worst = path
            .rows
            .iter()
            .filter(|r| r.endpoint == Endpoint::Execute && r.overhead.count > 0)
            .max_by_key(|r| r.overhead.p95);
        let what = format!("overhead p95, worst /execute shape ({})", worst.map_or("-", |r| r.name));
        targets.push(Target::at_most(what, "", 2.0, "ms", worst.map(|r| ms(r.overhead.p95))));
        targets.push(Target::at_most("daemon idle RSS", "", 30.0, "MB", self.idle_rss()));
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_met_on_the_right_side_of_its_limit() {
        let most = |m| Target::at_most("p50", "", 5.0, "ms", m);
        assert!(most(Some(5.0)).met());
        assert!(!most(Some(5.1)).met());
        assert!(!most(None).met());
        let least = Target { at_least: true, limit: 300.0, ..most(Some(299.0)) };
        assert!(!least.met());
        assert!(Target { measured: Some(300.0), ..least }.met());
    }

    #[test]
    fn the_paths_that_served_are_listed_with_their_counts() {
        let served = BTreeMap::from([("cold".to_owned(), 2), ("forked".to_owned(), 48)]);
        assert_eq!(served_text(&served), "cold 2, forked 48");
        assert_eq!(served_text(&BTreeMap::new()), "-");
    }
}
