//! The report as JSON, for machines (`--json`).

use serde_json::{json, Value};

use super::{PathReport, Report, Target};
use crate::baseline::Timings;
use crate::phases::PHASES;
use crate::stats::summarize;

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn timings(t: &Timings) -> Value {
    let mut v = summarize(t.samples.clone()).to_json();
    v["errors"] = json!(t.errors);
    v["first_error"] = json!(t.first_error);
    v
}

fn target(t: &Target) -> Value {
    json!({"target": t.what, "limit": t.limit, "unit": t.unit, "at_least": t.at_least,
           "measured": t.measured.map(round), "met": t.met()})
}

impl Report {
    fn path_json(&self, p: &PathReport) -> Value {
        let workloads: Vec<Value> = p
            .rows
            .iter()
            .map(|r| {
                let ratios = self.ratios(r);
                let phases = r.phases.means().map(|m| {
                    let mut v = json!({"n": r.phases.count});
                    for (name, mean) in PHASES.iter().zip(m) {
                        v[*name] = json!(round(mean));
                    }
                    v
                });
                let targets: Vec<Value> = r.goals.iter().map(|g| target(&self.goal_target(p, r, *g))).collect();
                json!({"name": r.name, "latency": r.e2e.to_json(), "overhead": r.overhead.to_json(),
                       "errors": r.errors, "first_error": r.first_error, "served_warm": r.served_warm(),
                       "served": r.served, "phases_mean_ms": phases,
                       "ratio_to_bare": ratios.same.map(round), "ratio_to_start": ratios.start.map(round),
                       "ratio_to_bwrap": ratios.bwrap.map(round), "targets": targets})
            })
            .collect();
        let t = &p.throughput;
        let targets: Vec<Value> = self.targets(p).iter().map(target).collect();
        json!({"path": p.path, "workloads": workloads,
               "throughput": {"workload": "python-hello", "concurrency": t.concurrency, "ok": t.ok,
                              "errors": t.errors, "first_error": t.first_error, "served": t.served,
                              "seconds": round(t.elapsed.as_secs_f64()), "per_sec": round(t.per_sec())},
               "targets": targets})
    }

    pub fn to_json(&self) -> Value {
        let paths: Vec<Value> = self.paths.iter().map(|p| self.path_json(p)).collect();
        let baselines: Vec<Value> = self
            .baselines
            .iter()
            .map(|b| {
                json!({"name": b.name, "command": b.command, "bare": timings(&b.bare),
                            "bwrap": b.bwrap.as_ref().map(timings)})
            })
            .collect();
        let ready: Vec<Value> = self.ready.sandboxes.iter().map(|s| s.to_json()).collect();
        let mb = |kb: Option<u64>| kb.map(|k| round(k as f64 / 1024.0));
        json!({"machine": self.machine.to_json(), "daemon_version": self.daemon_version,
               "warm_advertised": self.warm_advertised, "notes": self.notes, "paths": paths,
               "baselines": baselines,
               "daemon_rss_mb": {"after_startup": self.rss_idle_start.map(round),
                                 "after_runs": self.rss_idle_after.map(round)},
               "daemon_pss_mb": mb(self.ready.daemon_pss_kb),
               "ready_sandboxes": ready, "warm_pools": self.ready.pools})
    }
}
