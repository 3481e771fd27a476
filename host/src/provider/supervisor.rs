//! The ticker thread: runs the selected trigger, and when a provider stops driving the fires,
//! hands over to the built-in ticker at once and retries the provider with capped backoff.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cronhost_core::text::panic_message;
use cronhost_provider_api::StartOptions;

use super::builtin::{run_builtin_ticker, BUILTIN_NAME};
use super::guard::ProviderHandle;
use super::resolve::Trigger;
use super::services::{Core, Services};
use crate::config::Fallback;
use cronhost_core::StopFlag;

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
    fallback: Fallback,
) -> std::io::Result<Ticker> {
    let (done, finished) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("cronhost-ticker".into())
        .spawn(move || {
            // The driver itself must never die: if it panics, log and fall back to the
            // built-in ticker until stopped.
            let drive = || drive(&core, &trigger, &config_json, &stop, interval, fallback);
            if let Err(payload) = catch_unwind(AssertUnwindSafe(drive)) {
                let failure = format!("ticker driver panicked: {}", panic_message(&*payload));
                log::error!("{failure}");
                stand_in(&core, &stop, interval, fallback, &failure, None);
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
    fallback: Fallback,
) {
    match trigger {
        Trigger::Paused(reason) => stand_in(core, stop, interval, Fallback::None, reason, None),
        Trigger::Builtin => {
            log::info!("the built-in ticker drives the fires (interval {interval:?})");
            run_builtin_ticker(core, stop, interval, None);
        }
        Trigger::Provider(provider) => {
            let services = Services::new(Arc::clone(core), provider.name(), config_json)
                .gated_by(Arc::clone(provider.quarantine()));
            drive_provider(
                core,
                provider,
                &services,
                stop,
                (interval, fallback),
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
    (interval, fallback): (Duration, Fallback),
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
        let outcome = match run_start(
            provider,
            services,
            stop,
            options,
            (core, crate::config::stale_after(interval)),
        ) {
            StartEnd::Returned(outcome) => outcome,
            StartEnd::Stopped => return,
            StartEnd::Quarantined(reason) => {
                let failure = format!("provider `{name}` is quarantined: {reason}");
                log::error!("{failure}; it is not used again until the host restarts");
                stand_in(core, stop, interval, fallback, &failure, None);
                return;
            }
        };
        if stop.is_set() {
            return;
        }
        let failure = match outcome {
            Ok(()) if !provider.start_blocks() => {
                log::info!("provider `{name}` armed its scheduler");
                match watch_armed(provider, stop) {
                    None => return,
                    Some(failure) => failure,
                }
            }
            Ok(()) => format!("provider `{name}` start returned while the host is running"),
            Err(error) => error.to_string(),
        };
        if began.elapsed() >= backoff.max() {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        let stand_in_name = match fallback {
            Fallback::Builtin => "the builtin ticker takes over",
            Fallback::None => "nothing fires meanwhile (cron.fallback = \"none\")",
        };
        log::warn!(
            "{failure}; {stand_in_name}; retrying `{name}` in {}s",
            delay.as_secs_f32()
        );
        stand_in(
            core,
            stop,
            interval,
            fallback,
            &failure,
            Some(Instant::now() + delay),
        );
        // A fresh process that cannot even be prepared is a failed attempt too: back off
        // again instead of starting it.
        while let Err(why) =
            stand_in_while_preparing(provider, core, stop, (interval, fallback), &failure)
        {
            if stop.is_set() {
                return;
            }
            let delay = backoff.next_delay();
            log::warn!("{why}; retrying `{name}` in {}s", delay.as_secs_f32());
            stand_in(
                core,
                stop,
                interval,
                fallback,
                &why,
                Some(Instant::now() + delay),
            );
        }
        if stop.is_set() {
            return;
        }
    }
}

/// Prepare the provider for its next `start` (an isolated provider's fresh process starts and
/// loads) on a thread of its own, while the stand-in goes on firing: a slow start-up must not
/// leave a gap without a trigger. Fails with the reason when the fresh process cannot be
/// prepared.
fn stand_in_while_preparing(
    provider: &ProviderHandle,
    core: &Core,
    stop: &StopFlag,
    (interval, fallback): (Duration, Fallback),
    failure: &str,
) -> Result<(), String> {
    if !provider.is_isolated() || stop.is_set() {
        return Ok(());
    }
    let (done, ready) = mpsc::channel();
    let preparing = provider.clone();
    let spawned = std::thread::Builder::new()
        .name("provider-prepare".into())
        .spawn(move || {
            let _ = done.send(preparing.prepare());
        });
    if spawned.is_err() {
        return Ok(()); // `start` will prepare it itself
    }
    loop {
        match ready.try_recv() {
            Ok(Ok(())) | Err(mpsc::TryRecvError::Disconnected) => return Ok(()),
            Ok(Err(error)) => return Err(error.to_string()),
            Err(mpsc::TryRecvError::Empty) if stop.is_set() => return Ok(()),
            Err(mpsc::TryRecvError::Empty) => {
                let slice = Instant::now() + Duration::from_millis(100);
                stand_in(core, stop, interval, fallback, failure, Some(slice));
            }
        }
    }
}

/// Wait while an armed (non-blocking) provider drives the fires: until stop (`None`), or until
/// an isolated provider's process dies (`Some(why)`), which needs a restart.
fn watch_armed(provider: &ProviderHandle, stop: &StopFlag) -> Option<String> {
    if !provider.is_isolated() {
        while !stop.wait(Duration::from_secs(3600)) {}
        return None;
    }
    while !stop.wait(Duration::from_millis(100)) {
        if provider.process_id().is_none() {
            return Some(format!(
                "provider `{}`'s process died after arming its scheduler",
                provider.name()
            ));
        }
    }
    None
}

/// How a provider's `start` ended, as the supervisor saw it.
enum StartEnd {
    /// It returned (or failed).
    Returned(Result<(), super::guard::ProviderCallError>),
    /// The host is stopping, and `start` returned.
    Stopped,
    /// Another call missed its deadline: the provider is quarantined while `start` runs on.
    Quarantined(String),
}

/// Run `start` on a thread of its own, so the supervisor can walk away from a quarantined
/// provider at once (its services refuse to fire from then on) instead of waiting for it.
fn run_start(
    provider: &ProviderHandle,
    services: &Services,
    stop: &StopFlag,
    options: StartOptions,
    (core, stale_after): (&Core, Duration),
) -> StartEnd {
    let started = Instant::now();
    let (done, ended) = mpsc::channel();
    let (provider_for_thread, services, stop_for_thread) =
        (provider.clone(), services.clone(), stop.clone());
    let spawned = std::thread::Builder::new()
        .name("provider-start".into())
        .spawn(move || {
            let _ = done.send(provider_for_thread.start(&services, &stop_for_thread, options));
        });
    if let Err(e) = spawned {
        return StartEnd::Returned(Err(super::guard::ProviderCallError::Failed {
            provider: provider.name().to_owned(),
            call: "start",
            message: format!("cannot spawn its thread: {e}"),
        }));
    }
    // Give up on this run of `start` once (an isolated process is killed; `start` then ends).
    let mut abandoned = false;
    loop {
        match ended.recv_timeout(Duration::from_millis(100)) {
            Ok(outcome) if stop.is_set() => {
                let _ = outcome;
                return StartEnd::Stopped;
            }
            Ok(outcome) => return StartEnd::Returned(outcome),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return StartEnd::Returned(Err(super::guard::ProviderCallError::Panicked {
                    provider: provider.name().to_owned(),
                    call: "start",
                    message: "its thread ended without an answer".into(),
                }))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // A blocking provider that stopped beating is not driving the fires, whatever
                // its `start` is doing: quarantine it.
                let beats = core.heartbeat.current();
                let last_beat = (beats.trigger == provider.name())
                    .then(|| beats.alive_age(std::time::SystemTime::now()))
                    .flatten()
                    .unwrap_or_else(|| started.elapsed());
                if provider.start_blocks() && last_beat > stale_after && !abandoned {
                    let reason = format!(
                        "its heartbeat stopped ({}s without a beat)",
                        last_beat.as_secs()
                    );
                    log::error!("provider `{}`: {reason}", provider.name());
                    provider.abandon(reason);
                    abandoned = true;
                }
                if let Some(reason) = provider
                    .quarantine()
                    .is_set()
                    .then(|| provider.quarantine().reason().unwrap_or_default())
                {
                    return StartEnd::Quarantined(reason);
                }
                if stop.is_set() {
                    // Let `start` wind down (the daemon bounds the wait when it joins us).
                    let _ = ended.recv();
                    return StartEnd::Stopped;
                }
            }
        }
    }
}

/// While the provider cannot drive the fires (until `until`, or stop): the built-in ticker
/// fires, or, with `cron.fallback = "none"`, nothing does and the heartbeat says why.
fn stand_in(
    core: &Core,
    stop: &StopFlag,
    interval: Duration,
    fallback: Fallback,
    failure: &str,
    until: Option<Instant>,
) {
    core.heartbeat.record_fallback(failure);
    match fallback {
        Fallback::Builtin => {
            core.heartbeat.record(BUILTIN_NAME, false, Some(failure));
            run_builtin_ticker(core, stop, interval, until);
        }
        Fallback::None => {
            let message = format!("paused, nothing fires: {failure}");
            loop {
                core.heartbeat.record("paused", false, Some(&message));
                let wake = Instant::now() + interval.max(Duration::from_millis(100));
                let wake = until.map_or(wake, |until| until.min(wake));
                if stop.wait_until(wake) || until.is_some_and(|until| Instant::now() >= until) {
                    return;
                }
            }
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
