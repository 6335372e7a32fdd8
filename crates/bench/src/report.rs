//! The latency bench's figures: as tables for people, as JSON for machines, and against the
//! targets of the warm-start work.

use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use serde_json::{json, Value};

use crate::baseline::Timings;
use crate::machine::Machine;
use crate::stats::{ms, ratio, summarize, Summary};

pub struct Report {
    pub machine: Machine,
    pub daemon_version: String,
    pub warm_advertised: bool,
    pub paths: Vec<PathReport>,
    pub baselines: Vec<BaselineRow>,
    pub rss_idle_start: Option<f64>,
    pub rss_idle_after: Option<f64>,
    pub notes: Vec<String>,
}

/// The figures of one launch path (`warm` or `cold`).
pub struct PathReport {
    pub path: &'static str,
    pub rows: Vec<WorkloadRow>,
    pub throughput: Throughput,
}

pub struct WorkloadRow {
    pub name: &'static str,
    pub e2e: Summary,
    /// End-to-end minus the sandbox's own wall time (`metrics.duration_ms`).
    pub overhead: Summary,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Measured runs the daemon served from a pre-started sandbox (`metrics.path: warm`).
    pub served_warm: usize,
}

pub struct Throughput {
    pub concurrency: usize,
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub first_error: Option<String>,
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
    pub bare: Timings,
    pub bwrap: Option<Timings>,
}

/// One target of the issue, and whether a path meets it.
#[derive(Debug, PartialEq)]
pub struct Target {
    pub what: String,
    pub limit: f64,
    pub unit: &'static str,
    /// true: the figure must be at least the limit; false: at most.
    pub at_least: bool,
    pub measured: Option<f64>,
}

impl Target {
    fn at_most(what: impl Into<String>, limit: f64, unit: &'static str, measured: Option<f64>) -> Target {
        Target { what: what.into(), limit, unit, at_least: false, measured }
    }

    pub fn met(&self) -> bool {
        match self.measured {
            Some(m) if self.at_least => m >= self.limit,
            Some(m) => m <= self.limit,
            None => false,
        }
    }
}

impl Report {
    fn baseline(&self, name: &str) -> Option<&BaselineRow> {
        self.baselines.iter().find(|b| b.name == name)
    }

    /// ours p50 / bare p50 and ours p50 / bwrap p50.
    fn ratios(&self, row: &WorkloadRow) -> (Option<f64>, Option<f64>) {
        let Some(b) = self.baseline(row.name) else { return (None, None) };
        let p50 = |t: &Timings| summarize(t.samples.clone()).p50;
        (ratio(row.e2e.p50, p50(&b.bare)), b.bwrap.as_ref().and_then(|t| ratio(row.e2e.p50, p50(t))))
    }

    fn idle_rss(&self) -> Option<f64> {
        [self.rss_idle_start, self.rss_idle_after].into_iter().flatten().reduce(f64::max)
    }

    /// The targets for one path. A workload with failed runs does not meet its target.
    pub fn targets(&self, path: &PathReport) -> Vec<Target> {
        let p = |name: &str, pick: fn(&Summary) -> Duration| {
            path.rows.iter().find(|r| r.name == name && r.errors == 0 && r.e2e.count > 0).map(|r| ms(pick(&r.e2e)))
        };
        let t = &path.throughput;
        let worst_overhead =
            path.rows.iter().filter(|r| r.overhead.count > 0).map(|r| ms(r.overhead.p95)).reduce(f64::max);
        vec![
            Target::at_most("python-hello p50", 5.0, "ms", p("python-hello", |s| s.p50)),
            Target::at_most("python-hello p99", 15.0, "ms", p("python-hello", |s| s.p99)),
            Target::at_most("python-data p50", 60.0, "ms", p("python-data", |s| s.p50)),
            Target::at_most("js-handler p50", 15.0, "ms", p("js-handler", |s| s.p50)),
            Target::at_most("shell-echo p50", 5.0, "ms", p("shell-echo", |s| s.p50)),
            Target {
                what: format!("python-hello throughput at concurrency {}, zero errors", t.concurrency),
                limit: 300.0,
                unit: "runs/s",
                at_least: true,
                measured: (t.errors == 0).then(|| t.per_sec()),
            },
            Target::at_most("executor overhead p95 (worst workload)", 2.0, "ms", worst_overhead),
            Target::at_most("daemon idle RSS", 30.0, "MB", self.idle_rss()),
        ]
    }

    pub fn to_json(&self) -> Value {
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        let timings = |t: &Timings| {
            let mut v = summarize(t.samples.clone()).to_json();
            v["errors"] = json!(t.errors);
            v["first_error"] = json!(t.first_error);
            v
        };
        let paths: Vec<Value> = self
            .paths
            .iter()
            .map(|p| {
                let workloads: Vec<Value> = p
                    .rows
                    .iter()
                    .map(|r| {
                        let (bare, bwrap) = self.ratios(r);
                        json!({"name": r.name, "latency": r.e2e.to_json(), "overhead": r.overhead.to_json(),
                               "errors": r.errors, "first_error": r.first_error, "served_warm": r.served_warm,
                               "ratio_to_bare": bare.map(round), "ratio_to_bwrap": bwrap.map(round)})
                    })
                    .collect();
                let t = &p.throughput;
                let targets: Vec<Value> = self
                    .targets(p)
                    .iter()
                    .map(|t| {
                        json!({"target": t.what, "limit": t.limit, "unit": t.unit, "at_least": t.at_least,
                                     "measured": t.measured.map(round), "met": t.met()})
                    })
                    .collect();
                json!({"path": p.path, "workloads": workloads,
                       "throughput": {"workload": "python-hello", "concurrency": t.concurrency, "ok": t.ok,
                                      "errors": t.errors, "first_error": t.first_error,
                                      "seconds": round(t.elapsed.as_secs_f64()), "per_sec": round(t.per_sec())},
                       "targets": targets})
            })
            .collect();
        let baselines: Vec<Value> = self
            .baselines
            .iter()
            .map(|b| json!({"name": b.name, "bare": timings(&b.bare), "bwrap": b.bwrap.as_ref().map(timings)}))
            .collect();
        json!({"machine": self.machine.to_json(), "daemon_version": self.daemon_version,
               "warm_advertised": self.warm_advertised, "notes": self.notes, "paths": paths,
               "baselines": baselines,
               "daemon_rss_mb": {"after_startup": self.rss_idle_start.map(round),
                                 "after_runs": self.rss_idle_after.map(round)}})
    }
}

/// `12.34` or `-` for a figure that was not measured.
fn cell(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "sandbox-executor {} run latency", self.daemon_version)?;
        writeln!(f, "machine: {}", self.machine)?;
        for note in &self.notes {
            writeln!(f, "{note}")?;
        }
        for p in &self.paths {
            self.write_path(f, p)?;
        }
        if !self.baselines.is_empty() {
            self.write_baselines(f)?;
        }
        writeln!(
            f,
            "\ndaemon RSS: {} MB after startup, {} MB after the runs",
            cell(self.rss_idle_start, 1),
            cell(self.rss_idle_after, 1)
        )?;
        for p in &self.paths {
            self.write_targets(f, p)?;
        }
        Ok(())
    }
}

impl Report {
    /// One path's table of workloads and its throughput.
    fn write_path(&self, f: &mut Formatter<'_>, p: &PathReport) -> fmt::Result {
        writeln!(f, "\n{} path: end-to-end HTTP latency of sequential runs, and overhead (ms)", p.path)?;
        writeln!(
            f,
            "{:<16} {:>4} {:>4} {:>5} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
            "workload", "n", "err", "warm", "p50", "p95", "p99", "max", "ovh p50", "ovh p95", "x bare", "x bwrap"
        )?;
        for r in &p.rows {
            let (bare, bwrap) = self.ratios(r);
            let e = &r.e2e;
            writeln!(
                f,
                "{:<16} {:>4} {:>4} {:>5} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8.2} {:>8.2} {:>8} {:>8}",
                r.name,
                e.count,
                r.errors,
                r.served_warm,
                ms(e.p50),
                ms(e.p95),
                ms(e.p99),
                ms(e.max),
                ms(r.overhead.p50),
                ms(r.overhead.p95),
                cell(bare, 2),
                cell(bwrap, 2)
            )?;
        }
        for r in p.rows.iter().filter(|r| r.errors > 0) {
            writeln!(f, "  {} failed {} times, first: {}", r.name, r.errors, r.first_error.as_deref().unwrap_or(""))?;
        }
        let t = &p.throughput;
        writeln!(
            f,
            "throughput: python-hello at concurrency {}: {} ok, {} errors in {:.2} s = {:.1} runs/s",
            t.concurrency,
            t.ok,
            t.errors,
            t.elapsed.as_secs_f64(),
            t.per_sec()
        )?;
        if let Some(e) = &t.first_error {
            writeln!(f, "  first error: {e}")?;
        }
        Ok(())
    }

    /// The bare interpreters' (and bubblewrap's) figures the ratios divide by.
    fn write_baselines(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nbaselines: the bare interpreter started per run, wall time (ms)")?;
        writeln!(
            f,
            "{:<16} {:>4} {:>4} {:>9} {:>9} {:>9} {:>4} {:>9} {:>9} {:>9}",
            "workload", "n", "err", "bare p50", "bare p95", "bare p99", "err", "bwrap p50", "bwrap p95", "bwrap p99"
        )?;
        for b in &self.baselines {
            let bare = summarize(b.bare.samples.clone());
            let bwrap = b.bwrap.as_ref().map(|t| (summarize(t.samples.clone()), t.errors));
            let col = |pick: fn(&Summary) -> Duration| cell(bwrap.as_ref().map(|(s, _)| ms(pick(s))), 2);
            writeln!(
                f,
                "{:<16} {:>4} {:>4} {:>9.2} {:>9.2} {:>9.2} {:>4} {:>9} {:>9} {:>9}",
                b.name,
                bare.count,
                b.bare.errors,
                ms(bare.p50),
                ms(bare.p95),
                ms(bare.p99),
                cell(bwrap.as_ref().map(|(_, e)| *e as f64), 0),
                col(|s| s.p50),
                col(|s| s.p95),
                col(|s| s.p99)
            )?;
            for (how, t) in [("bare", Some(&b.bare)), ("bwrap", b.bwrap.as_ref())] {
                if let Some(e) = t.and_then(|t| t.first_error.as_ref()) {
                    writeln!(f, "  {} {how} failed, first: {e}", b.name)?;
                }
            }
        }
        writeln!(f, "x bare, x bwrap: our p50 divided by the baseline's p50")?;
        Ok(())
    }

    fn write_targets(&self, f: &mut Formatter<'_>, p: &PathReport) -> fmt::Result {
        writeln!(f, "\ntargets of issue 6 on the {} path:", p.path)?;
        for t in self.targets(p) {
            let limit = format!("{} {} {}", if t.at_least { ">=" } else { "<=" }, t.limit, t.unit);
            let verdict = if t.met() { "met" } else { "NOT met" };
            writeln!(f, "  {:<58} {:>14} {:>10}  {verdict}", t.what, limit, cell(t.measured, 2))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_met_on_the_right_side_of_its_limit() {
        let most = |m| Target::at_most("p50", 5.0, "ms", m);
        assert!(most(Some(5.0)).met());
        assert!(!most(Some(5.1)).met());
        assert!(!most(None).met());
        let least = Target { at_least: true, limit: 300.0, ..most(Some(299.0)) };
        assert!(!least.met());
        assert!(Target { measured: Some(300.0), ..least }.met());
    }

    #[test]
    fn an_unmeasured_figure_prints_as_a_dash() {
        assert_eq!(cell(None, 2), "-");
        assert_eq!(cell(Some(1.234), 1), "1.2");
    }
}
