//! `GET /metrics`: counters and latency histograms in the Prometheus text
//! format, kept with atomics and two small maps (no metrics framework).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", count.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// Everything `/metrics` reports.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<&'static str, u64>>,
    passes: Mutex<BTreeMap<&'static str, u64>>,
    rewrites: AtomicU64,
    stored_served: AtomicU64,
    upstream_errors: AtomicU64,
    upstream_latency: Histogram,
    total_latency: Histogram,
}

impl Metrics {
    /// One answered request of `kind` (`manifest-tag`, `blob`, …) and how long it took.
    pub fn request(&self, kind: &'static str, elapsed: Duration) {
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry(kind).or_default() += 1;
        self.total_latency.observe(elapsed);
    }

    /// A tag answer passed through unchanged, and why.
    pub fn pass(&self, reason: &'static str) {
        *self.passes.lock().unwrap_or_else(|e| e.into_inner()).entry(reason).or_default() += 1;
    }

    /// A rewritten index served for a tag.
    pub fn rewrite(&self) {
        self.rewrites.fetch_add(1, Ordering::Relaxed);
    }

    /// A stored rewrite served by its digest.
    pub fn stored(&self) {
        self.stored_served.fetch_add(1, Ordering::Relaxed);
    }

    /// Upstream could not be reached or sent something unusable.
    pub fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Time until upstream's response headers.
    pub fn upstream(&self, elapsed: Duration) {
        self.upstream_latency.observe(elapsed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter_map = |out: &mut String, name: &str, help: &str, label: &str, map: &Mutex<BTreeMap<&str, u64>>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (k, v) in map.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                let _ = writeln!(out, "{name}{{{label}=\"{k}\"}} {v}");
            }
        };
        counter_map(&mut out, "ocifit_mirror_requests_total", "Requests answered, by kind.", "kind", &self.requests);
        counter_map(
            &mut out,
            "ocifit_mirror_passthrough_total",
            "Tag manifest answers passed through unchanged, by reason.",
            "reason",
            &self.passes,
        );
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        };
        counter(&mut out, "ocifit_mirror_rewrites_total", "Tag answers served as a rewritten index.", &self.rewrites);
        counter(
            &mut out,
            "ocifit_mirror_stored_served_total",
            "Stored rewritten indexes served by digest.",
            &self.stored_served,
        );
        counter(
            &mut out,
            "ocifit_mirror_upstream_errors_total",
            "Upstream unreachable, too slow, or sending bytes that do not match their digest.",
            &self.upstream_errors,
        );
        self.upstream_latency.render(
            &mut out,
            "ocifit_mirror_upstream_seconds",
            "Time until upstream's response headers.",
        );
        self.total_latency.render(&mut out, "ocifit_mirror_request_seconds", "Time to answer a request (headers).");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s9_metrics_are_prometheus_text() {
        let m = Metrics::default();
        m.request("blob", Duration::from_millis(3));
        m.request("blob", Duration::from_millis(30));
        m.pass("not-index");
        m.rewrite();
        let text = m.render();
        for line in [
            "ocifit_mirror_requests_total{kind=\"blob\"} 2",
            "ocifit_mirror_passthrough_total{reason=\"not-index\"} 1",
            "ocifit_mirror_rewrites_total 1",
            "ocifit_mirror_request_seconds_bucket{le=\"0.005\"} 1",
            "ocifit_mirror_request_seconds_bucket{le=\"0.05\"} 2",
            "ocifit_mirror_request_seconds_count 2",
            "ocifit_mirror_upstream_seconds_count 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        let sum: f64 =
            text.lines().find_map(|l| l.strip_prefix("ocifit_mirror_request_seconds_sum ")).unwrap().parse().unwrap();
        assert!((sum - 0.033).abs() < 1e-6, "{sum}");
    }
}
