//! What the engine counts: fires, outcomes, skips by reason and a lateness histogram, written
//! out as Prometheus text (the host serves it, with the heartbeat's age, when `[metrics]` is on).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::store::RunReason;

/// Upper bounds (ms) of the lateness histogram's buckets.
pub const LATENESS_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 60_000];

/// What the engine counts. Cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    fires: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    skips: Mutex<BTreeMap<String, u64>>,
    lateness_buckets: [AtomicU64; LATENESS_BUCKETS_MS.len()],
    lateness_count: AtomicU64,
    lateness_sum_ms: AtomicU64,
}

impl Metrics {
    /// A run was started, `late_ms` after its scheduled instant.
    pub fn fired(&self, late_ms: i64) {
        self.fires.fetch_add(1, Ordering::Relaxed);
        let late = u64::try_from(late_ms).unwrap_or(0);
        for (bucket, bound) in self.lateness_buckets.iter().zip(LATENESS_BUCKETS_MS) {
            if late <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.lateness_count.fetch_add(1, Ordering::Relaxed);
        self.lateness_sum_ms.fetch_add(late, Ordering::Relaxed);
    }

    /// A run ended: succeeded or not.
    pub fn finished(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.succeeded
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// An occurrence was skipped, counted by its reason's [label](RunReason::label).
    pub fn skipped(&self, reason: &RunReason) {
        let label = reason.label().to_owned();
        *self
            .skips
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(label)
            .or_default() += 1;
    }

    /// Append the Prometheus text exposition of the counters to `out`.
    pub fn render(&self, out: &mut String) {
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            out,
            "cronhost_fires_total",
            "Runs started.",
            self.fires.load(Ordering::Relaxed),
        );
        counter(
            out,
            "cronhost_runs_succeeded_total",
            "Runs that ended successfully.",
            self.succeeded.load(Ordering::Relaxed),
        );
        counter(
            out,
            "cronhost_runs_failed_total",
            "Runs that failed, timed out or could not start.",
            self.failed.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP cronhost_skips_total Occurrences skipped, by reason.\n# TYPE cronhost_skips_total counter");
        for (reason, count) in self.skips.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "cronhost_skips_total{{reason=\"{reason}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP cronhost_fire_lateness_ms Scheduled instant to run started, in milliseconds.\n# TYPE cronhost_fire_lateness_ms histogram");
        for (bucket, bound) in self.lateness_buckets.iter().zip(LATENESS_BUCKETS_MS) {
            let _ = writeln!(
                out,
                "cronhost_fire_lateness_ms_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.lateness_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "cronhost_fire_lateness_ms_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "cronhost_fire_lateness_ms_sum {}",
            self.lateness_sum_ms.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "cronhost_fire_lateness_ms_count {count}");
    }
}
