//! Percentiles of a sample.

use std::time::Duration;

use serde_json::{json, Value};

#[derive(Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Nearest-rank percentiles: the smallest sample at or above the quantile.
pub fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i]
    };
    Summary { count: samples.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99), max: at(1.0) }
}

/// Milliseconds, as the tables print them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `a / b` of two durations, or None when `b` is zero (nothing was measured).
pub fn ratio(a: Duration, b: Duration) -> Option<f64> {
    (!b.is_zero()).then(|| a.as_secs_f64() / b.as_secs_f64())
}

impl Summary {
    /// The figures in milliseconds, rounded to microseconds.
    pub fn to_json(self) -> Value {
        let r = |d: Duration| (ms(d) * 1000.0).round() / 1000.0;
        json!({"n": self.count, "p50_ms": r(self.p50), "p95_ms": r(self.p95), "p99_ms": r(self.p99), "max_ms": r(self.max)})
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n={:<5} p50={:>8.2} ms  p95={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms",
            self.count,
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = summarize(millis(&(1..=100).rev().collect::<Vec<_>>()));
        assert_eq!(
            (s.count, s.p50, s.p95, s.p99, s.max),
            (100, millis(&[50])[0], millis(&[95])[0], millis(&[99])[0], millis(&[100])[0])
        );
        let small = summarize(millis(&[7, 3]));
        assert_eq!((small.p50, small.p99), (Duration::from_millis(3), Duration::from_millis(7)));
    }

    #[test]
    fn an_empty_sample_is_all_zero() {
        let s = summarize(Vec::new());
        assert_eq!((s.count, s.p50, s.max), (0, Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn ratio_of_nothing_measured_is_none() {
        assert_eq!(ratio(Duration::from_millis(30), Duration::from_millis(10)), Some(3.0));
        assert_eq!(ratio(Duration::from_millis(30), Duration::ZERO), None);
    }

    #[test]
    fn json_figures_are_milliseconds() {
        let s = summarize(millis(&[2, 4]));
        assert_eq!(s.to_json()["p50_ms"], 2.0);
        assert_eq!(s.to_json()["max_ms"], 4.0);
    }
}
