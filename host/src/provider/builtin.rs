//! The built-in ticker: compiled in, always available, the fallback whenever a provider fails.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant, SystemTime};

use cronhost_provider_api::panic_message;

use super::services::Core;
use super::stop::StopFlag;

/// The built-in ticker's name in logs, the heartbeat and `cronhost providers`.
pub const BUILTIN_NAME: &str = "builtin";

/// Shortest wait when a job is already due again, so a stuck job cannot spin the thread.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Drive the engine until `stop` is set (or `until` passes): a liveness beat before the first
/// tick, then tick, beat (success only after a clean tick, with the error text otherwise), and
/// wait on `stop` until the next due instant or `interval`, whichever is sooner. A failing or
/// panicking tick never ends the loop.
pub fn run_builtin_ticker(
    core: &Core,
    stop: &StopFlag,
    interval: Duration,
    until: Option<Instant>,
) {
    core.heartbeat.record(BUILTIN_NAME, false, None);
    while !stop.is_set() && until.is_none_or(|until| Instant::now() < until) {
        match catch_unwind(AssertUnwindSafe(|| core.engine.tick())) {
            Ok(Ok(_report)) => core.heartbeat.record(BUILTIN_NAME, true, None),
            Ok(Err(error)) => {
                log::error!("tick failed: {error}");
                core.heartbeat
                    .record(BUILTIN_NAME, false, Some(&error.to_string()));
            }
            Err(payload) => {
                let message = format!("tick panicked: {}", panic_message(&*payload));
                log::error!("{message}");
                core.heartbeat.record(BUILTIN_NAME, false, Some(&message));
            }
        }
        stop.wait_until(next_wake(core, interval, until));
    }
}

/// The sooner of: the engine's next due instant, `interval` from now, and `until`.
fn next_wake(core: &Core, interval: Duration, until: Option<Instant>) -> Instant {
    let now = Instant::now();
    let mut wake = now + interval;
    let next_due = catch_unwind(AssertUnwindSafe(|| core.engine.next_due()))
        .ok()
        .flatten();
    if let Some(due) = next_due {
        let wait = due
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .max(MIN_WAIT);
        wake = wake.min(now + wait);
    }
    match until {
        Some(until) => wake.min(until),
        None => wake,
    }
}
