//! The smallest complete cronhost provider: a ticker with one setting. Copy it to start your own.
//!
//! A *provider* decides **when** cronhost fires its jobs; the host decides **what** firing
//! means (claim the occurrence, run the command, record the outcome). This one scans for due
//! jobs every `interval_ms` milliseconds. Select it in the host's `cronhost.toml`:
//!
//! ```toml
//! [cron]
//! provider = "template"   # the provider's NAME, below
//!
//! [providers.template]    # this section reaches `new` as JSON
//! interval_ms = 500       # optional; 1000 when absent
//! ```
//!
//! Everything used here comes from the SDK in `cronhost-provider-api`: no `unsafe`, no
//! abi_stable types. The steps from this file to an installed library are in
//! `provider-api/README.md`.

// `Duration` is how long the ticker waits between scans.
use std::time::Duration;

// The SDK: the `Provider` trait to implement, the handles the host passes in (`Host`, `Stop`,
// `StartOptions`, `ProviderConfig`), the error type and the `export_provider!` macro.
use cronhost_provider_api::{
    export_provider, Host, LogLevel, Provider, ProviderConfig, ProviderError, StartOptions, Stop,
};
// The config section arrives as JSON; serde turns it into the `Settings` struct below.
use serde::Deserialize;

/// The `[providers.template]` section of `cronhost.toml`.
#[derive(Debug, Deserialize)]
// `default`: a missing key (or a missing section) takes the value from `Default` below.
// `deny_unknown_fields`: a misspelt key is an error the operator sees, not silently ignored.
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Milliseconds between two scans for due jobs.
    interval_ms: u64,
}

// The defaults of every key, used when the operator leaves a key out.
impl Default for Settings {
    fn default() -> Self {
        Settings { interval_ms: 1000 }
    }
}

/// The provider itself. It keeps only what it read from its config; everything else (the job
/// store, the clock, the log) belongs to the host and is reached through `Host`.
pub struct TemplateTicker {
    // How long to wait between scans.
    interval: Duration,
}

// Implementing `Provider` is all a provider does; `export_provider!` at the bottom makes the
// implementation loadable. The SDK wraps every method in `catch_unwind`, so a panic here
// reaches the host as an error ("panicked in <method>: <message>"), never as a crash.
impl Provider for TemplateTicker {
    // The name operators write in `cron.provider`; unique across every installed library.
    const NAME: &'static str = "template";
    // One line shown by `cronhost providers`.
    const DESCRIPTION: &'static str =
        "template ticker: scans for due jobs every [providers.template] interval_ms";
    // `true` (the default, written out here): `start` blocks like a ticker until the host says
    // stop. A provider that arms an external scheduler and returns would say `false`.
    const START_BLOCKS: bool = true;

    /// The constructor: called once with the provider's config section. It must return
    /// promptly (the host gives it `cron.provider_call_timeout_ms`, 5 s by default): check the
    /// settings here, but connect to nothing yet.
    fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        // Deserialize the section into `Settings`; a wrong type or unknown key is an error
        // whose message names the problem.
        let settings: Settings = config.parse()?;
        // Refuse values that cannot work, saying what is wrong: the text reaches the
        // operator's log verbatim, and the host falls back to its built-in ticker.
        if settings.interval_ms == 0 {
            return Err(ProviderError::new(
                "[providers.template] interval_ms must be at least 1",
            ));
        }
        // Keep what `start` needs.
        Ok(TemplateTicker {
            interval: Duration::from_millis(settings.interval_ms),
        })
    }

    /// Drive the fires until the host sets `stop`. Runs on a thread of its own and may block
    /// for as long as the host runs (because `START_BLOCKS` is true).
    fn start(&self, host: Host, stop: Stop, options: StartOptions) -> Result<(), ProviderError> {
        // Write to the host's log; the host attributes the line to this provider.
        host.log(
            LogLevel::Info,
            &format!(
                "template ticker started, every {} ms (host tick interval {} ms)",
                self.interval.as_millis(),
                options.tick_interval_ms
            ),
        );
        // A first heartbeat: tells the host "started" apart from "never ran". `false` because
        // no scan has succeeded yet.
        host.record_heartbeat(false, None);
        // Loop until the host asks to stop. The signal may already be set on entry (shutdown
        // racing a retry), so check it before doing anything.
        while !stop.is_set() {
            // One due scan: the host claims and starts every due occurrence. An error is
            // reported through the heartbeat, never fatal: the next scan tries again.
            match host.tick() {
                Ok(_report) => host.record_heartbeat(true, None),
                Err(error) => host.record_heartbeat(false, Some(&error.to_string())),
            }
            // Wait on the stop signal instead of sleeping, so stopping takes effect at once.
            // A blocking provider must beat at least once per `options.tick_interval_ms`
            // (silent for 3 intervals + 20 s counts as stuck); one beat per scan does that
            // while `interval_ms` stays below the host's tick interval.
            stop.wait(self.interval);
        }
        // Returning `Ok` after `stop` is set is a clean stop. Returning while the host is still
        // running counts as a failure: the built-in ticker takes over and `start` is retried.
        host.log(LogLevel::Info, "template ticker stopped");
        Ok(())
    }

    // Optional methods. Each has a safe default in the SDK; write one here only to change it.
    // All but `fire_due` and `status` must return promptly (the same deadline as `new`).
    //
    // fn is_available(&self) -> bool
    //     Can the provider run on this machine? Default `true`. Cheap; never network I/O.
    // fn stop(&self) -> Result<(), ProviderError>
    //     Release what `start` acquired; called once at shutdown. Default: nothing to do.
    // fn on_jobs_changed(&self) -> Result<(), ProviderError>
    //     The job set changed (added, removed, edited, paused). Default: nothing to do.
    // fn fire_due(&self, host: &Host, job_id: &str) -> Result<FireOutcome, ProviderError>
    //     An external trigger says `job_id` is due. Default: `host.fire_due(job_id)`.
    // fn reconcile(&self) -> Result<(), ProviderError>
    //     Bring an external schedule back in line; every `cron.reconcile_interval_secs`.
    // fn status(&self) -> Result<Option<serde_json::Value>, ProviderError>
    //     A JSON object for the host's status reporting (at most 256 KiB). Default `None`.
}

// Makes this crate a loadable provider library: it writes the exported symbol the host looks
// up, the metadata (`NAME`, `DESCRIPTION`, `START_BLOCKS`) and the constructor. Call it exactly
// once per library; several providers go in one call: `export_provider!(A, B);`.
export_provider!(TemplateTicker);
