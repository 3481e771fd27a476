//! The ticker thread: runs the selected trigger, and when a provider stops driving the fires,
//! hands over to the built-in ticker at once and retries the provider with capped backoff.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cronhost_provider_api::{panic_message, StartOptions};

use super::builtin::{run_builtin_ticker, BUILTIN_NAME};
use super::guard::ProviderHandle;
use super::resolve::Trigger;
use super::services::{Core, Services};
use super::stop::StopFlag;

/// Capped exponential backoff between provider restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Start at `first`, double each time, never above `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to the first delay (after the provider ran well for a while).
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }
}

impl Default for Backoff {
    /// 1 s, 2 s, 4 s, … capped at 60 s.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// The running ticker thread.
pub struct Ticker {
    handle: JoinHandle<()>,
    finished: mpsc::Receiver<()>,
}

impl Ticker {
    /// Wait up to `timeout` for the thread to finish (after the stop flag was set). A thread
    /// that does not finish in time is abandoned, not joined; returns whether it finished.
    pub fn join_timeout(self, timeout: Duration) -> bool {
        match self.finished.recv_timeout(timeout) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = self.handle.join();
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
        }
    }
}

/// Start the ticker thread for `trigger`. `config_json` is the provider's config section.
pub fn spawn_ticker(
    core: Arc<Core>,
    trigger: Trigger,
    config_json: String,
    stop: StopFlag,
    interval: Duration,
) -> std::io::Result<Ticker> {
    let (done, finished) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("cronhost-ticker".into())
        .spawn(move || {
            // The driver itself must never die: if it panics, log and fall back to the
            // built-in ticker until stopped.
            let drive = || drive(&core, &trigger, &config_json, &stop, interval);
            if let Err(payload) = catch_unwind(AssertUnwindSafe(drive)) {
                log::error!(
                    "ticker driver panicked: {}; the built-in ticker takes over",
                    panic_message(&*payload)
                );
                run_builtin_ticker(&core, &stop, interval, None);
            }
            let _ = done.send(());
        })?;
    Ok(Ticker { handle, finished })
}

fn drive(
    core: &Arc<Core>,
    trigger: &Trigger,
    config_json: &str,
    stop: &StopFlag,
    interval: Duration,
) {
    match trigger {
        Trigger::Builtin => {
            log::info!("the built-in ticker drives the fires (interval {interval:?})");
            run_builtin_ticker(core, stop, interval, None);
        }
        Trigger::Provider(provider) => {
            let services = Services::new(Arc::clone(core), provider.name(), config_json);
            drive_provider(
                core,
                provider,
                &services,
                stop,
                interval,
                Backoff::default(),
            );
        }
    }
}

fn drive_provider(
    core: &Core,
    provider: &ProviderHandle,
    services: &Services,
    stop: &StopFlag,
    interval: Duration,
    mut backoff: Backoff,
) {
    let options = StartOptions {
        tick_interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
    };
    let name = provider.name();
    for attempt in 1.. {
        if attempt > 1 {
            log::info!("retrying provider `{name}` (attempt {attempt})");
        }
        let began = Instant::now();
        let outcome = provider.start(services, stop, options);
        if stop.is_set() {
            return;
        }
        let failure = match outcome {
            Ok(()) if !provider.start_blocks() => {
                log::info!("provider `{name}` armed its scheduler");
                while !stop.wait(Duration::from_secs(3600)) {}
                return;
            }
            Ok(()) => format!("provider `{name}` start returned while the host is running"),
            Err(error) => error.to_string(),
        };
        if began.elapsed() >= backoff.max() {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        log::warn!(
            "{failure}; the {BUILTIN_NAME} ticker takes over; retrying `{name}` in {}s",
            delay.as_secs_f32()
        );
        core.heartbeat.record(BUILTIN_NAME, false, Some(&failure));
        core.heartbeat.record_fallback(&failure);
        run_builtin_ticker(core, stop, interval, Some(Instant::now() + delay));
        if stop.is_set() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let delays: Vec<_> = (0..5).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5, 5]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }
}
