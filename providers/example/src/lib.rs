//! An example cronhost provider: a ticker with its own cadence. Copy this to start your own.
//!
//! Select it with
//!
//! ```toml
//! [cron]
//! provider = "example"
//!
//! [providers.example]
//! interval_ms = 250   # how often to scan for due jobs; default 500; keep it under the
//!                     # host's tick interval (it beats the heartbeat once per scan)
//! ```
//!
//! It uses only the SDK from `cronhost-provider-api`: no abi_stable types, no `unsafe`.

use std::time::Duration;

use cronhost_provider_api::{
    export_provider, Host, LogLevel, Provider, ProviderConfig, ProviderError, StartOptions, Stop,
};
use serde::Deserialize;

/// The `[providers.example]` section. Every key has a default, so an absent section works.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Milliseconds between due scans.
    interval_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { interval_ms: 500 }
    }
}

/// The provider. It holds only its settings; everything else comes from the host.
pub struct ExampleTicker {
    interval: Duration,
}

impl Provider for ExampleTicker {
    // The name operators write in `cron.provider`.
    const NAME: &'static str = "example";
    const DESCRIPTION: &'static str =
        "example ticker with its own cadence ([providers.example] interval_ms)";
    // `start` blocks until the host says stop, like a ticker. A provider that arms an external
    // scheduler and returns would say `false` here.
    const START_BLOCKS: bool = true;

    /// Called once with the provider's config section. Validate here and say what is wrong:
    /// the message reaches the operator's log.
    fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        let settings: Settings = config.parse()?;
        if settings.interval_ms == 0 {
            return Err(ProviderError::new(
                "[providers.example] interval_ms must be at least 1",
            ));
        }
        Ok(ExampleTicker {
            interval: Duration::from_millis(settings.interval_ms),
        })
    }

    /// Drive the fires until the host sets `stop`.
    fn start(&self, host: Host, stop: Stop, _options: StartOptions) -> Result<(), ProviderError> {
        host.log(
            LogLevel::Info,
            &format!(
                "example ticker started, every {} ms",
                self.interval.as_millis()
            ),
        );
        // A liveness beat before the first tick: the host can tell "started" from "never ran".
        host.record_heartbeat(false, None);
        while !stop.is_set() {
            // `tick` claims and runs every due job. An error is reported, never fatal.
            match host.tick() {
                Ok(_) => host.record_heartbeat(true, None),
                Err(error) => host.record_heartbeat(false, Some(&error.to_string())),
            }
            // Wait on the stop signal instead of sleeping, so stopping takes effect at once.
            stop.wait(self.interval);
        }
        host.log(LogLevel::Info, "example ticker stopped");
        Ok(())
    }
}

// One line makes this crate a loadable provider library.
export_provider!(ExampleTicker);
