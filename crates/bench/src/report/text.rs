//! The report as tables for people.

use std::fmt::{self, Display, Formatter};
use std::time::Duration;

use super::{served_text, PathReport, Report, WorkloadRow};
use crate::phases::PHASES;
use crate::stats::{ms, summarize, Summary};
use crate::workloads::Endpoint;

/// `12.34` or `-` for a figure that was not measured.
pub fn cell(x: Option<f64>, decimals: usize) -> String {
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
            write_phases(f, p)?;
        }
        if !self.baselines.is_empty() {
            self.write_baselines(f)?;
        }
        self.write_memory(f)?;
        for p in &self.paths {
            self.write_targets(f, p)?;
        }
        Ok(())
    }
}

impl Report {
    /// One pass's table of shapes, with ratios and targets, and its throughput.
    fn write_path(&self, f: &mut Formatter<'_>, p: &PathReport) -> fmt::Result {
        writeln!(
            f,
            "\n{} pass (requests send \"warm\": {}): sequential runs, end to end over HTTP, and overhead (ms)",
            p.path,
            p.path == "warm"
        )?;
        writeln!(
            f,
            "{:<20} {:>4} {:>3} {:<18} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}  targets",
            "shape",
            "n",
            "err",
            "served by",
            "p50",
            "p95",
            "p99",
            "max",
            "ovh p50",
            "ovh p95",
            "x start",
            "x same",
            "x bwrap"
        )?;
        for r in &p.rows {
            self.write_row(f, p, r)?;
        }
        for r in p.rows.iter().filter(|r| r.errors > 0) {
            writeln!(f, "  {} failed {} times, first: {}", r.name, r.errors, r.first_error.as_deref().unwrap_or(""))?;
        }
        if p.rows.iter().any(|r| r.endpoint == Endpoint::SessionFirstCell) {
            writeln!(f, "  session-create+cell: POST /session/create + the first /session/execute, one figure (sessions do not choose a path: measured once; overhead = figure - the cell's duration_ms)")?;
        }
        writeln!(f, "  x start: p50 / the bare interpreter's start (python3 -c 'print(1)', node -e 0, bash -c 'echo hi'); x same: / the same program bare; x bwrap: / the same program (else the start) under bubblewrap")?;
        let t = &p.throughput;
        writeln!(
            f,
            "throughput: python-hello at concurrency {}: {} ok, {} errors in {:.2} s = {:.1} runs/s (served by {})",
            t.concurrency,
            t.ok,
            t.errors,
            t.elapsed.as_secs_f64(),
            t.per_sec(),
            served_text(&t.served)
        )?;
        if let Some(e) = &t.first_error {
            writeln!(f, "  first error: {e}")?;
        }
        Ok(())
    }

    /// One shape: its figures, the paths that served it, its ratios and targets.
    fn write_row(&self, f: &mut Formatter<'_>, p: &PathReport, r: &WorkloadRow) -> fmt::Result {
        let ratios = self.ratios(r);
        let targets: Vec<String> = r
            .goals
            .iter()
            .map(|g| self.goal_target(p, r, *g))
            .map(|t| format!("{}: {}", t.short, t.verdict()))
            .collect();
        let e = &r.e2e;
        writeln!(
            f,
            "{:<20} {:>4} {:>3} {:<18} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7.2} {:>7.2} {:>7} {:>7} {:>7}  {}",
            r.name,
            e.count,
            r.errors,
            served_text(&r.served),
            ms(e.p50),
            ms(e.p95),
            ms(e.p99),
            ms(e.max),
            ms(r.overhead.p50),
            ms(r.overhead.p95),
            cell(ratios.start, 2),
            cell(ratios.same, 2),
            cell(ratios.bwrap, 2),
            targets.join("; ")
        )?;
        Ok(())
    }

    /// The bare interpreters' (and bubblewrap's) figures the ratios divide by.
    fn write_baselines(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nbaselines, in the same run: the program started per run, wall time (ms)")?;
        writeln!(
            f,
            "{:<16} {:>4} {:>3} {:>9} {:>9} {:>9} {:>4} {:>9} {:>9} {:>9}  command",
            "baseline", "n", "err", "bare p50", "bare p95", "bare p99", "err", "bwrap p50", "bwrap p95", "bwrap p99"
        )?;
        for b in &self.baselines {
            let bare = summarize(b.bare.samples.clone());
            let bwrap = b.bwrap.as_ref().map(|t| (summarize(t.samples.clone()), t.errors));
            let col = |pick: fn(&Summary) -> Duration| cell(bwrap.as_ref().map(|(s, _)| ms(pick(s))), 2);
            let command: String = b.command.replace('\n', "\\n").chars().take(50).collect();
            writeln!(
                f,
                "{:<16} {:>4} {:>3} {:>9.2} {:>9.2} {:>9.2} {:>4} {:>9} {:>9} {:>9}  {command}",
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
        Ok(())
    }

    /// The daemon's RSS, and the PSS of each sandbox or zygote it keeps ready.
    fn write_memory(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mb = |kb: Option<u64>| cell(kb.map(|k| k as f64 / 1024.0), 2);
        writeln!(
            f,
            "\ndaemon RSS: {} MB after startup, {} MB idle after the runs; daemon PSS {} MB",
            cell(self.rss_idle_start, 1),
            cell(self.rss_idle_after, 1),
            mb(self.ready.daemon_pss_kb)
        )?;
        let pools: Vec<String> = self
            .ready
            .pools
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{}/{} {} ready {}",
                    p["language"].as_str().unwrap_or("?"),
                    p["template"].as_str().unwrap_or("default"),
                    p["kind"].as_str().unwrap_or("?"),
                    p["ready"]
                )
            })
            .collect();
        writeln!(
            f,
            "ready sandboxes and zygotes (the daemon's children, idle after the runs; GET /info pools: {})",
            if pools.is_empty() { "none".to_owned() } else { pools.join(", ") }
        )?;
        for s in &self.ready.sandboxes {
            writeln!(
                f,
                "  pid {:<7} {:>2} processes  PSS {:>7} MB  {}",
                s.pid,
                s.processes,
                mb(s.pss_kb),
                s.command.chars().take(70).collect::<String>()
            )?;
        }
        let per: Vec<String> = self
            .pss_by_kind()
            .iter()
            .map(|(name, all)| {
                format!("{name} {} MB (mean of {})", mb(Some(all.iter().sum::<u64>() / all.len() as u64)), all.len())
            })
            .collect();
        writeln!(
            f,
            "PSS per ready sandbox or zygote (with its launcher and init): {}",
            if per.is_empty() { "none ready".to_owned() } else { per.join(", ") }
        )
    }

    /// The PSS figures of the ready sandboxes by kind; a zygote's own leaves out the sandboxes
    /// it built ahead, counted apart.
    fn pss_by_kind(&self) -> Vec<(String, Vec<u64>)> {
        let mut by_kind: Vec<(String, Vec<u64>)> = Vec::new();
        let mut count = |kind: String, kb: u64| match by_kind.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, all)) => all.push(kb),
            None => by_kind.push((kind, vec![kb])),
        };
        for s in &self.ready.sandboxes {
            let Some(kb) = s.pss_kb else { continue };
            let ahead: Vec<u64> = s.built_ahead_kb.iter().flatten().copied().collect();
            count(s.kind(), kb.saturating_sub(ahead.iter().sum()));
            for kb in ahead {
                count("a sandbox built ahead".to_owned(), kb);
            }
        }
        by_kind
    }

    fn write_targets(&self, f: &mut Formatter<'_>, p: &PathReport) -> fmt::Result {
        writeln!(f, "\ntargets of issue 13 on the {} pass:", p.path)?;
        for t in self.targets(p) {
            let limit = format!("{} {} {}", if t.at_least { "≥" } else { "≤" }, t.limit, t.unit);
            writeln!(f, "  {:<58} {:>14} {:>10}  {}", t.what, limit, cell(t.measured, 2), t.verdict())?;
        }
        Ok(())
    }
}

/// The mean of each of `metrics.phases` per shape, when the results carry them.
fn write_phases(f: &mut Formatter<'_>, p: &PathReport) -> fmt::Result {
    if p.rows.iter().all(|r| r.phases.count == 0) {
        return writeln!(f, "phases: the results carry no metrics.phases");
    }
    writeln!(f, "phases of the {} pass: mean ms over the runs that reported metrics.phases", p.path)?;
    let names: Vec<&str> = PHASES.iter().map(|p| p.trim_end_matches("_ms")).collect();
    writeln!(
        f,
        "{:<20} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "shape", "n", names[0], names[1], names[2], names[3], names[4], "sum"
    )?;
    for r in &p.rows {
        let Some(m) = r.phases.means() else { continue };
        writeln!(
            f,
            "{:<20} {:>4} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            r.name,
            r.phases.count,
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m.iter().sum::<f64>()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmeasured_figure_prints_as_a_dash() {
        assert_eq!(cell(None, 2), "-");
        assert_eq!(cell(Some(1.234), 1), "1.2");
    }
}
