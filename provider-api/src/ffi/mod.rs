//! The stable ABI: the types that cross the boundary between the host and a provider library.
//!
//! Everything here is `#[repr(C)]` and derives [`StableAbi`], so abi_stable can check at load
//! time that the host and the library agree on every layout. Provider authors normally never
//! touch this module: the [`Provider`](crate::Provider) trait and
//! [`export_provider!`](crate::export_provider) produce it for them.
//!
//! # Evolution rules
//! Additive only. New trait methods and new root-module fields go after the
//! `#[sabi(last_prefix_field)]` marker and carry a default; nothing is ever removed, renamed or
//! reordered. The plain `#[repr(C)]` structs and `#[repr(u8)]` enums here ([`FireOutcome`],
//! [`LogLevel`], [`TickReport`], [`StartOptions`], [`ProviderInfo`]) can never grow: a new field
//! or variant means a new type reached through a new method. A 1.x host loads every 1.y library: abi_stable's load-time check would refuse a
//! library older than the host (abi_stable issue #118), so every published layout is kept
//! frozen ([`v1_0`], [`v1_1`], [`v1_2`]) and [`AnyProviderLibrary::load`] checks an older library against its own.
#![allow(non_local_definitions)] // `#[sabi_trait]` expansion trips this lint (abi_stable #96).

mod any;
pub mod v1_0;
pub mod v1_1;
pub mod v1_2;

pub use any::{AnyHost, AnyProvider, AnyProviderLibrary};

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RArc, RBox, RErr, ROk, ROption, RResult, RSlice, RStr, RString, RVec},
    StableAbi,
};

/// What happened when a job was asked to fire.
#[repr(u8)]
#[derive(
    StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum FireOutcome {
    /// This caller won the claim and the job was started.
    Fired,
    /// The occurrence was already claimed (another ticker or host won), or is not due.
    ClaimLost,
    /// No job has that id (it was removed, or exhausted its repeats).
    NoSuchJob,
    /// The claim was won but the run was skipped by policy (for example an overlap).
    Skipped,
}

/// Severity of a message a provider logs through the host.
#[repr(u8)]
#[derive(
    StableAbi,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is wrong but work goes on.
    Warn,
    /// Normal operation worth an operator's eye.
    Info,
    /// Detail for debugging.
    Debug,
    /// Very fine detail.
    Trace,
}

/// What one call of the host's `tick()` did.
#[repr(C)]
#[derive(
    StableAbi, Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
pub struct TickReport {
    /// Jobs whose occurrence was claimed and started.
    pub fired: u32,
    /// Due occurrences skipped by policy.
    pub skipped: u32,
    /// Jobs that could not be evaluated or started; the scan went on past them.
    pub errors: u32,
}

/// Options the host passes to `start`.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartOptions {
    /// The host's configured tick interval (`cron.tick_interval_ms`), a hint for tickers.
    pub tick_interval_ms: u64,
}

/// One provider that a library offers.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The name an operator writes in `cron.provider`.
    pub name: RString,
    /// One line saying what the provider does.
    pub description: RString,
    /// True when `start` blocks like a ticker until stopped; false when it returns after
    /// arming an external scheduler.
    pub start_blocks: bool,
}

/// What a library says about itself.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct LibraryMetadata {
    /// The version of the crate that built the library.
    pub library_version: RString,
    /// The providers the library offers.
    pub providers: RVec<ProviderInfo>,
}

/// Services the host hands to a provider. Implemented by the host, called by the provider.
///
/// Every method is safe to call from any thread, any number of times. Implementations are
/// cheap to clone (they share state).
#[sabi_trait]
pub trait HostServices: Clone + Send + Sync {
    /// Run one due scan: claim and start every due occurrence.
    fn tick(&self) -> RResult<TickReport, RString>;
    /// Claim and run one job's due occurrence.
    fn fire_due(&self, job_id: RStr<'_>) -> RResult<FireOutcome, RString>;
    /// The ids of the jobs due now.
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString>;
    /// Record that the trigger is alive; `success` when the last tick went through cleanly.
    /// `error` is empty or the text of the last failure.
    fn record_heartbeat(&self, success: bool, error: RStr<'_>);
    /// Write a message to the host's log, attributed to the provider.
    fn log(&self, level: LogLevel, message: RStr<'_>);
    /// The provider's own config section (`[providers.NAME]`) as a JSON object.
    #[sabi(last_prefix_field)]
    fn config_json(&self) -> RString;

    // ---- added in 1.1 (defaulted: a 1.0 host answers that it does not offer them) ----

    /// The due occurrences: each due job with the nominal instant it is due for. A provider
    /// that coordinates several hosts claims these (by job id and instant) before firing.
    fn due_occurrences(&self) -> RResult<RVec<Occurrence>, RString> {
        RErr(NOT_OFFERED.into())
    }
    /// Claim and run exactly this occurrence, if it is the job's due one.
    fn fire_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<FireOutcome, RString> {
        let _ = (job_id, scheduled_at_ms);
        RErr(NOT_OFFERED.into())
    }
    /// Move past this occurrence without running it (it ran elsewhere, say); recorded as a
    /// `skipped` run with `reason`.
    fn skip_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
        reason: RStr<'_>,
    ) -> RResult<FireOutcome, RString> {
        let _ = (job_id, scheduled_at_ms, reason);
        RErr(NOT_OFFERED.into())
    }
    /// Where the run of this occurrence on this host stands, if there is one.
    fn run_report(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<ROption<RunReport>, RString> {
        let _ = (job_id, scheduled_at_ms);
        RErr(NOT_OFFERED.into())
    }

    // ---- added in 1.2 (defaulted: an older host answers that it does not offer it) ----

    /// How long until the earliest occurrence on this host is due, in milliseconds from the
    /// moment of the call (0 when one is due now), on the host's own scheduling clock; `RNone`
    /// when the host knows of none it could fire (no scheduled job, or every slot of
    /// `max_parallel_jobs` is taken). A provider sleeps until then instead of scanning on a
    /// cadence, and looks again when the job set changes (its `on_jobs_changed`, and a nudge
    /// of its stop signal that ends a `wait` early).
    fn next_due_in_ms(&self) -> RResult<ROption<u64>, RString> {
        RErr(NOT_OFFERED_1_2.into())
    }

    // ---- added in 1.3 (defaulted: an older host answers that it does not offer it) ----

    /// Claim and run each of `occurrences`, as `fire_occurrence` does one: the outcomes come
    /// back in their order, one occurrence's failure (`RErr`) in its own place. The host claims
    /// occurrences due together in shared transactions and starts them side by side, so a
    /// provider that won a batch of claims hands the whole batch over in one call instead of
    /// one call (and one commit) per occurrence. An outer `RErr` (or a failed occurrence)
    /// may still hide occurrences that fired before the failure: ask `run_report` before
    /// treating one as not run.
    fn fire_occurrences(
        &self,
        occurrences: RSlice<'_, Occurrence>,
    ) -> RResult<RVec<RResult<FireOutcome, RString>>, RString> {
        let _ = occurrences;
        RErr(NOT_OFFERED_1_3.into())
    }
}

/// What a host older than 1.1 answers for a 1.1 service.
pub const NOT_OFFERED: &str = "this host does not offer that service (it predates API 1.1)";

/// What a host older than 1.2 answers for a 1.2 service.
pub const NOT_OFFERED_1_2: &str = "this host does not offer that service (it predates API 1.2)";

/// What a host older than 1.3 answers for a 1.3 service.
pub const NOT_OFFERED_1_3: &str = "this host does not offer that service (it predates API 1.3)";

/// A due occurrence: a job and the nominal instant it is due for.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The job's id.
    pub job_id: RString,
    /// The nominal instant, milliseconds since the Unix epoch (UTC).
    pub scheduled_at_ms: i64,
}

/// Where the run of one occurrence stands on this host.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// `claimed`, `queued`, `running`, `succeeded`, `failed`, `timed_out`, `skipped`, `unknown`.
    pub status: RString,
    /// The exit code, once there is one.
    pub exit_code: ROption<i32>,
    /// When the command started (ms since the epoch).
    pub started_at_ms: ROption<i64>,
    /// When it ended (ms since the epoch).
    pub finished_at_ms: ROption<i64>,
    /// What went wrong, or empty.
    pub error: RString,
}

/// The host's services as a shareable trait object.
pub type HostServicesBox = HostServices_TO<'static, RArc<()>>;

/// A stop signal shared across the boundary. Implemented by the host.
#[sabi_trait]
pub trait StopSignal: Clone + Send + Sync {
    /// Whether the host asked the provider to stop.
    fn is_set(&self) -> bool;
    /// Block until the signal is set, the host nudges it (the job set changed) or
    /// `timeout_ms` elapses; true when it is set.
    #[sabi(last_prefix_field)]
    fn wait(&self, timeout_ms: u64) -> bool;
}

/// The stop signal as a shareable trait object.
pub type StopSignalBox = StopSignal_TO<'static, RArc<()>>;

/// A provider instance. Implemented in the library (by the SDK's adapter), called by the host.
///
/// Every method returns an error value instead of unwinding: a panic that reached the
/// boundary would abort the whole host process.
#[sabi_trait]
pub trait ProviderObject: Send + Sync {
    /// The provider's name, as listed in the library metadata.
    fn name(&self) -> RString;
    /// Whether the provider can run here. Must be cheap and never touch the network.
    fn is_available(&self) -> RResult<bool, RString>;
    /// Drive the fires until `stop` is set (blocking providers), or arm an external scheduler
    /// and return.
    fn start(
        &self,
        host: HostServicesBox,
        stop: StopSignalBox,
        options: StartOptions,
    ) -> RResult<(), RString>;
    /// Release what `start` acquired. Called once when the host shuts down.
    fn stop(&self) -> RResult<(), RString>;
    /// The job set changed (added, removed, edited, paused).
    fn on_jobs_changed(&self) -> RResult<(), RString>;
    /// An external trigger says `job_id` is due: claim it and run it through the host.
    fn fire_due(&self, host: HostServicesBox, job_id: RStr<'_>) -> RResult<FireOutcome, RString>;
    /// Bring any external schedule back in line with the job set.
    #[sabi(last_prefix_field)]
    fn reconcile(&self) -> RResult<(), RString>;

    // ---- added in 1.1 (defaulted, so 1.0 libraries keep loading) ----

    /// Facts about the provider's own health for the host's status reporting (a JSON object,
    /// or empty).
    fn status_json(&self) -> RResult<RString, RString> {
        ROk(RString::new())
    }
}

/// A provider instance as an owned trait object.
pub type ProviderBox = ProviderObject_TO<'static, RBox<()>>;

/// The root module every provider library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ProviderLibraryRef)))]
#[sabi(missing_field(panic))]
pub struct ProviderLibrary {
    /// The library's version and the providers it offers.
    pub metadata: extern "C" fn() -> LibraryMetadata,
    /// Construct the provider called `name` from its config section (a JSON object).
    #[sabi(last_prefix_field)]
    pub new_provider:
        extern "C" fn(name: RStr<'_>, config_json: RStr<'_>) -> RResult<ProviderBox, RString>,
}

impl RootModule for ProviderLibraryRef {
    declare_root_module_statics! {ProviderLibraryRef}
    const BASE_NAME: &'static str = "cronhost_provider";
    const NAME: &'static str = "cronhost provider";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Turn a `Result` into the `RResult` that crosses the boundary.
#[inline]
pub fn into_rresult<T>(result: Result<T, String>) -> RResult<T, RString> {
    match result {
        Ok(value) => ROk(value),
        Err(message) => RErr(message.into()),
    }
}
