//! The built-in ticker: compiled in, always available, the fallback whenever a provider fails.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use cronhost_core::text::panic_message;

use super::services::Core;
use cronhost_core::StopFlag;

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
        let clean = tick_once(core, BUILTIN_NAME);
        // After a failure, wait the whole interval: a due job that keeps failing must not spin.
        let wake = if clean {
            next_wake(core, interval, until)
        } else {
            let full = Instant::now() + interval;
            until.map_or(full, |until| until.min(full))
        };
        stop.wait_until(wake);
    }
}

/// One guarded tick and its heartbeat; true when it was clean. A tick is clean only when it
/// returned a report without errors: jobs that could not be started make it a failed tick.
pub fn tick_once(core: &Core, trigger: &str) -> bool {
    let failed = |message: String| {
        log::error!("{message}");
        Some(message)
    };
    let failure = match catch_unwind(AssertUnwindSafe(|| core.engine.tick())) {
        Ok(Ok(report)) if report.errors == 0 => None,
        // The engine logged each of them (one line per failed fire): not again here.
        Ok(Ok(report)) => Some(format!("{} job(s) could not be started", report.errors)),
        Ok(Err(error)) => failed(format!("tick failed: {error}")),
        Err(payload) => failed(format!("tick panicked: {}", panic_message(&*payload))),
    };
    match &failure {
        None => core.heartbeat.record(trigger, true, None),
        Some(message) => core.heartbeat.record(trigger, false, Some(message)),
    }
    failure.is_none()
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
            .duration_since(cronhost_core::clock::system_now())
            .unwrap_or_default()
            .max(MIN_WAIT);
        wake = wake.min(now + wait);
    }
    match until {
        Some(until) => wake.min(until),
        None => wake,
    }
}
