//! Spreading load in time, deterministically: a job's fixed jitter offset and a retry's
//! backoff, both pure, so every host and every restart computes the same instants.

use std::time::Duration;

use crate::schedule::stable_hash;

/// The longest wait before a retry, whatever the attempt.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// The fixed offset, in `[0, jitter)` whole milliseconds, by which the job with `job_id`
/// fires after each of its scheduled instants: the same for the job every time (and on every
/// host sharing it), different between jobs, so a fleet of jobs on one schedule spreads out.
///
/// ```
/// use std::time::Duration;
/// use cronhost_core::store::jitter_offset;
///
/// let offset = jitter_offset("j7", Duration::from_secs(300));
/// assert!(offset < Duration::from_secs(300));
/// assert_eq!(offset, jitter_offset("j7", Duration::from_secs(300)));
/// assert_eq!(jitter_offset("j7", Duration::ZERO), Duration::ZERO);
/// ```
pub fn jitter_offset(job_id: &str, jitter: Duration) -> Duration {
    let span = jitter.as_millis().min(u128::from(u64::MAX)) as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(stable_hash(job_id) % span)
}

/// [`jitter_offset`] for a job's stored window (`jitter_ms`), as the shift of its instants.
pub(crate) fn jitter_shift(job_id: &str, jitter_ms: u64) -> chrono::Duration {
    chrono::Duration::from_std(jitter_offset(job_id, Duration::from_millis(jitter_ms)))
        .unwrap_or_default()
}

/// How long to wait before retry number `attempt` (1 for the first retry): `delay`, doubled
/// for each retry after the first, at most [`MAX_RETRY_DELAY`].
///
/// ```
/// use std::time::Duration;
/// use cronhost_core::store::retry_backoff;
///
/// let delay = Duration::from_secs(10);
/// assert_eq!(retry_backoff(delay, 1), Duration::from_secs(10));
/// assert_eq!(retry_backoff(delay, 3), Duration::from_secs(40));
/// assert_eq!(retry_backoff(delay, 60), Duration::from_secs(3600));
/// ```
pub fn retry_backoff(delay: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(31);
    delay
        .checked_mul(1 << doublings)
        .unwrap_or(MAX_RETRY_DELAY)
        .min(MAX_RETRY_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_spread_a_fleet_over_the_window() {
        let window = Duration::from_secs(60);
        let mut buckets = [0u32; 6];
        for n in 1..=600 {
            let offset = jitter_offset(&format!("j{n}"), window);
            assert!(offset < window);
            buckets[(offset.as_secs() / 10) as usize] += 1;
        }
        // 600 jobs over six 10 s buckets: each gets a fair share, none is empty or crowded.
        assert!(
            buckets.iter().all(|&n| (60..=140).contains(&n)),
            "{buckets:?}"
        );
    }
}
