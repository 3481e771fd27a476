//! The host's clock for scheduling decisions: the wall clock, optionally skewed by
//! `CRONHOST_CLOCK_SKEW_MS` (milliseconds, may be negative). The skew exists to test what a host
//! with a wrong clock does in a cluster; leave it unset in production.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// The environment variable that skews this process's scheduling clock.
pub const SKEW_VAR: &str = "CRONHOST_CLOCK_SKEW_MS";

fn skew_ms() -> i64 {
    static SKEW: OnceLock<i64> = OnceLock::new();
    *SKEW.get_or_init(|| {
        std::env::var(SKEW_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Now, as the scheduler sees it.
pub fn now() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::milliseconds(skew_ms())
}

/// Now as a `SystemTime`, as the scheduler sees it.
pub fn system_now() -> SystemTime {
    let skew = skew_ms();
    let magnitude = Duration::from_millis(skew.unsigned_abs());
    if skew >= 0 {
        SystemTime::now() + magnitude
    } else {
        SystemTime::now() - magnitude
    }
}

/// Housekeeping that runs at most once per period (pruning, settling dead runs, re-reading the
/// store, re-checking the home), polled from a loop that runs more often.
#[derive(Debug)]
pub struct Every {
    period: Duration,
    last: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Every {
    /// Due at the first poll.
    pub fn starting_now(period: Duration) -> Self {
        Self {
            period,
            last: std::sync::Mutex::new(None),
        }
    }

    /// Due one period from now.
    pub fn starting_after(period: Duration) -> Self {
        Self {
            period,
            last: std::sync::Mutex::new(Some(std::time::Instant::now())),
        }
    }

    /// Whether the period has passed since the last time this said so; saying so starts the
    /// next period.
    pub fn due(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < self.period) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_is_due_once_per_period() {
        let now = Every::starting_now(Duration::from_secs(3600));
        assert!(now.due());
        assert!(!now.due());
        let later = Every::starting_after(Duration::from_secs(3600));
        assert!(!later.due());
        let always = Every::starting_after(Duration::ZERO);
        assert!(always.due() && always.due());
    }
}
