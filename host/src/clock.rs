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
