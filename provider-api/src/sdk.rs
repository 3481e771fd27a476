//! The SDK a provider author writes against: a plain Rust trait and safe handles.

use std::time::Duration;

use abi_stable::std_types::{RResult, RStr};
use serde::de::DeserializeOwned;

use crate::ffi::{
    FireOutcome, HostServicesBox, LogLevel, Occurrence, RunReport, StartOptions, StopSignalBox,
    TickReport,
};

/// A provider: the part of cronhost that decides *when* due jobs fire.
///
/// Implement it, then call [`export_provider!`](crate::export_provider) once in a `cdylib`
/// crate. Required: [`NAME`](Provider::NAME), [`new`](Provider::new) and
/// [`start`](Provider::start); everything else has a safe default.
///
/// Panics in any method are caught by the SDK and reported to the host as errors carrying the
/// panic message; they never unwind into the host.
///
/// # Threading
/// `start` may block for as long as the provider runs (when [`START_BLOCKS`](Provider::START_BLOCKS)
/// is true) and must return soon after `stop` is set. Every other method must return promptly.
pub trait Provider: Send + Sync + Sized + 'static {
    /// The name operators write in `cron.provider`. Unique across installed libraries.
    const NAME: &'static str;
    /// One line saying what the provider does, shown by `cronhost providers`.
    const DESCRIPTION: &'static str = "";
    /// True when `start` blocks like a ticker until stopped; false when it returns after arming
    /// an external scheduler that later calls [`Host::fire_due`].
    const START_BLOCKS: bool = true;

    /// Build the provider from its config section (`[providers.NAME]` in `cronhost.toml`).
    fn new(config: ProviderConfig) -> Result<Self, ProviderError>;

    /// Whether the provider can run on this machine. Must be cheap and never do network I/O.
    fn is_available(&self) -> bool {
        true
    }

    /// Drive the fires: call [`Host::tick`] (or [`Host::fire_due`]) when jobs are due, until
    /// `stop` is set. Check `stop` before acquiring anything: when shutdown races a retry,
    /// `start` can be entered with the signal already set (and after `stop` was called).
    ///
    /// A blocking provider must call [`Host::record_heartbeat`] at least once per
    /// `options.tick_interval_ms`: one silent for three intervals plus 20 s is taken for stuck,
    /// quarantined, and replaced by the built-in ticker. Returning while the host is not stopping counts as a failure for a
    /// blocking provider: the host falls back to its built-in ticker and retries later.
    fn start(&self, host: Host, stop: Stop, options: StartOptions) -> Result<(), ProviderError>;

    /// Release what `start` acquired. The host calls it once when shutting down.
    fn stop(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The job set changed.
    fn on_jobs_changed(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// An external trigger says `job_id` is due. The default asks the host to claim the
    /// occurrence and run it.
    fn fire_due(&self, host: &Host, job_id: &str) -> Result<FireOutcome, ProviderError> {
        Ok(host.fire_due(job_id)?)
    }

    /// Bring an external schedule back in line with the job set.
    fn reconcile(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Facts about the provider's own health for the host's status reporting (a JSON
    /// object), if any.
    fn status(&self) -> Result<Option<serde_json::Value>, ProviderError> {
        Ok(None)
    }
}

/// An error a provider reports to the host. The message reaches the operator's log verbatim,
/// so say what failed and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    message: String,
}

impl ProviderError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

impl From<String> for ProviderError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for ProviderError {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<HostError> for ProviderError {
    fn from(error: HostError) -> Self {
        Self::new(error.to_string())
    }
}

/// A host service call failed; the message comes from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// Which service was called.
    pub service: &'static str,
    /// What the host said.
    pub message: String,
}

impl HostError {
    /// Whether the host does not offer the service at all (it predates the interface version
    /// that added it), as opposed to offering it and failing: a provider falls back to what it
    /// did before that service existed.
    pub fn is_not_offered(&self) -> bool {
        [
            crate::ffi::NOT_OFFERED,
            crate::ffi::NOT_OFFERED_1_2,
            crate::ffi::NOT_OFFERED_1_3,
        ]
        .contains(&self.message.as_str())
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "host {} failed: {}", self.service, self.message)
    }
}

impl std::error::Error for HostError {}

fn host_result<T>(
    service: &'static str,
    result: RResult<T, abi_stable::std_types::RString>,
) -> Result<T, HostError> {
    result.into_result().map_err(|message| HostError {
        service,
        message: message.into_string(),
    })
}

/// The host's services, as a provider sees them. Cheap to clone; safe to move to other threads.
#[derive(Clone)]
pub struct Host {
    services: HostServicesBox,
}

impl Host {
    /// Wrap the host's trait object. The SDK does this for you.
    pub fn from_ffi(services: HostServicesBox) -> Self {
        Self { services }
    }

    /// The underlying trait object, for passing back across the boundary.
    pub fn as_ffi(&self) -> &HostServicesBox {
        &self.services
    }

    /// Run one due scan: claim and start every due occurrence.
    pub fn tick(&self) -> Result<TickReport, HostError> {
        host_result("tick", self.services.tick())
    }

    /// Claim and run one job's due occurrence.
    pub fn fire_due(&self, job_id: &str) -> Result<FireOutcome, HostError> {
        host_result("fire_due", self.services.fire_due(RStr::from_str(job_id)))
    }

    /// The ids of the jobs due now.
    pub fn due_job_ids(&self) -> Result<Vec<String>, HostError> {
        host_result("due_job_ids", self.services.due_job_ids())
            .map(|ids| ids.into_iter().map(|id| id.into_string()).collect())
    }

    /// Record that the trigger is alive; `success` when the last tick went through cleanly,
    /// with the failure's text otherwise.
    pub fn record_heartbeat(&self, success: bool, error: Option<&str>) {
        self.services
            .record_heartbeat(success, RStr::from_str(error.unwrap_or("")));
    }

    /// Write to the host's log, attributed to this provider.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.services.log(level, RStr::from_str(message));
    }

    /// The due occurrences: (job id, nominal instant in ms since the epoch), earliest first.
    /// A provider coordinating several hosts claims these before firing them. (API 1.1.)
    pub fn due_occurrences(&self) -> Result<Vec<(String, i64)>, HostError> {
        host_result("due_occurrences", self.services.due_occurrences()).map(|due| {
            due.into_iter()
                .map(|o| (o.job_id.into_string(), o.scheduled_at_ms))
                .collect()
        })
    }

    /// Claim and run exactly this occurrence, if it is the job's due one. (API 1.1.)
    pub fn fire_occurrence(
        &self,
        job_id: &str,
        scheduled_at_ms: i64,
    ) -> Result<FireOutcome, HostError> {
        host_result(
            "fire_occurrence",
            self.services
                .fire_occurrence(RStr::from_str(job_id), scheduled_at_ms),
        )
    }

    /// Claim and run each of `occurrences` (job id, instant in ms since the epoch), as
    /// [`fire_occurrence`](Host::fire_occurrence) does one; the outcomes come back in their
    /// order, one per occurrence, each failure in its own place (an error for the whole batch
    /// may still hide occurrences that fired: check [`run_report`](Host::run_report) before
    /// giving a claim back). The host claims occurrences due
    /// together in shared transactions and starts them side by side, so hand over a batch of
    /// won claims in one call. A host older than 1.3 gets them one `fire_occurrence` at a
    /// time. (API 1.3.)
    ///
    /// ```no_run
    /// # fn fire(host: &cronhost_provider_api::Host) -> Result<(), cronhost_provider_api::HostError> {
    /// let due = host.due_occurrences()?;
    /// for ((job_id, _), outcome) in due.iter().zip(host.fire_occurrences(&due)?) {
    ///     if let Err(e) = outcome {
    ///         host.log(cronhost_provider_api::LogLevel::Warn, &format!("job {job_id}: {e}"));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fire_occurrences(
        &self,
        occurrences: &[(String, i64)],
    ) -> Result<Vec<Result<FireOutcome, HostError>>, HostError> {
        let batch: Vec<Occurrence> = occurrences
            .iter()
            .map(|(job_id, scheduled_at_ms)| Occurrence {
                job_id: job_id.as_str().into(),
                scheduled_at_ms: *scheduled_at_ms,
            })
            .collect();
        match host_result(
            "fire_occurrences",
            self.services.fire_occurrences(batch.as_slice().into()),
        ) {
            Ok(outcomes) => {
                let answered = outcomes.len();
                let mut outcomes: Vec<_> = outcomes
                    .into_iter()
                    .map(|outcome| host_result("fire_occurrences", outcome))
                    .collect();
                // One outcome per occurrence, whatever the host answered.
                let short = HostError {
                    service: "fire_occurrences",
                    message: format!(
                        "the host answered {answered} outcomes for {} occurrences",
                        occurrences.len()
                    ),
                };
                outcomes.resize(occurrences.len(), Err(short));
                Ok(outcomes)
            }
            Err(e) if e.is_not_offered() => Ok(occurrences
                .iter()
                .map(|(job_id, at)| self.fire_occurrence(job_id, *at))
                .collect()),
            Err(e) => Err(e),
        }
    }

    /// Move past this occurrence without running it, recorded as skipped with `reason` (for
    /// example "ran on host b"). (API 1.1.)
    pub fn skip_occurrence(
        &self,
        job_id: &str,
        scheduled_at_ms: i64,
        reason: &str,
    ) -> Result<FireOutcome, HostError> {
        host_result(
            "skip_occurrence",
            self.services.skip_occurrence(
                RStr::from_str(job_id),
                scheduled_at_ms,
                RStr::from_str(reason),
            ),
        )
    }

    /// Where this host's run of the occurrence stands, if it has one. (API 1.1.)
    pub fn run_report(
        &self,
        job_id: &str,
        scheduled_at_ms: i64,
    ) -> Result<Option<RunReport>, HostError> {
        host_result(
            "run_report",
            self.services
                .run_report(RStr::from_str(job_id), scheduled_at_ms),
        )
        .map(|report| report.into_option())
    }

    /// How long until the earliest occurrence on this host is due (zero when one is due now),
    /// on the host's scheduling clock; `None` when the host knows of none it could fire (no
    /// scheduled job, or every slot of `max_parallel_jobs` taken). Sleep until then on
    /// [`Stop::wait`] rather than scanning on a cadence: the host nudges the stop signal when
    /// the job set changes, so the wait ends early and the provider asks again. Cap the wait
    /// at whatever else the provider must do on time. A host older than 1.2 answers with an
    /// error whose [`HostError::is_not_offered`] is true: keep a cadence then. (API 1.2.)
    pub fn next_due_in(&self) -> Result<Option<Duration>, HostError> {
        host_result("next_due_in_ms", self.services.next_due_in_ms())
            .map(|ms| ms.into_option().map(Duration::from_millis))
    }

    /// The provider's own config section as JSON.
    pub fn config(&self) -> ProviderConfig {
        ProviderConfig::from_json(self.services.config_json().as_str())
            .unwrap_or_else(|_| ProviderConfig::empty())
    }
}

/// The host's stop signal. Cheap to clone; safe to move to other threads.
#[derive(Clone)]
pub struct Stop {
    signal: StopSignalBox,
}

impl Stop {
    /// Wrap the host's trait object. The SDK does this for you.
    pub fn from_ffi(signal: StopSignalBox) -> Self {
        Self { signal }
    }

    /// Whether the host asked the provider to stop.
    pub fn is_set(&self) -> bool {
        self.signal.is_set()
    }

    /// Block until the signal is set or `timeout` elapses; true when it is set. Use this
    /// instead of sleeping, so stopping takes effect at once. The host also ends the wait early
    /// (returning false) when the job set changes, so a provider waiting for
    /// [`Host::next_due_in`] looks again; a `false` return is no proof that `timeout` passed.
    pub fn wait(&self, timeout: Duration) -> bool {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.signal.wait(millis)
    }
}

/// A provider's config section (`[providers.NAME]`), as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    value: serde_json::Value,
}

impl ProviderConfig {
    /// An empty section.
    pub fn empty() -> Self {
        Self {
            value: serde_json::Value::Object(Default::default()),
        }
    }

    /// Parse a section from JSON text; empty text is an empty section.
    pub fn from_json(text: &str) -> Result<Self, ProviderError> {
        if text.trim().is_empty() {
            return Ok(Self::empty());
        }
        serde_json::from_str(text)
            .map(|value| Self { value })
            .map_err(|e| ProviderError::new(format!("config section is not valid JSON: {e}")))
    }

    /// The section as JSON.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.value
    }

    /// Deserialize the whole section into `T` (use `#[serde(default)]` for optional keys).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        serde_json::from_value(self.value.clone())
            .map_err(|e| ProviderError::new(format!("invalid provider config: {e}")))
    }
}
