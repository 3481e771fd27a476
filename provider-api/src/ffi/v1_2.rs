//! The host services, provider object and root module exactly as published in 1.2, frozen.
//!
//! 1.3 added a host service (`fire_occurrences`), so the host services' vtable grew, and with
//! it every type that reaches it (the provider object's `start` and `fire_due` take it, the
//! root module returns the provider object). abi_stable would refuse a 1.2 library against the
//! grown layout (abi_stable issue #118, see [`super::v1_0`]), so the 1.2 layout is kept here and
//! a 1.2 library is checked against it. Never edit this module.
//!
//! The types 1.2 shares with the current interface (`StopSignalBox`, `StartOptions`,
//! `LibraryMetadata`, `FireOutcome`, `LogLevel`, `TickReport`, `Occurrence`, `RunReport`) are
//! unchanged and shared.
#![allow(non_local_definitions)] // `#[sabi_trait]` expansion trips this lint (abi_stable #96).

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RArc, RBox, RErr, ROk, ROption, RResult, RStr, RString, RVec},
    StableAbi,
};

use super::{
    FireOutcome, LibraryMetadata, LogLevel, Occurrence, RunReport, StartOptions, StopSignalBox,
    TickReport, NOT_OFFERED, NOT_OFFERED_1_2,
};

/// The 1.2 host services (eleven methods).
#[sabi_trait]
pub trait HostServices: Clone + Send + Sync {
    /// See [`super::HostServices::tick`].
    fn tick(&self) -> RResult<TickReport, RString>;
    /// See [`super::HostServices::fire_due`].
    fn fire_due(&self, job_id: RStr<'_>) -> RResult<FireOutcome, RString>;
    /// See [`super::HostServices::due_job_ids`].
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString>;
    /// See [`super::HostServices::record_heartbeat`].
    fn record_heartbeat(&self, success: bool, error: RStr<'_>);
    /// See [`super::HostServices::log`].
    fn log(&self, level: LogLevel, message: RStr<'_>);
    /// See [`super::HostServices::config_json`].
    #[sabi(last_prefix_field)]
    fn config_json(&self) -> RString;

    /// See [`super::HostServices::due_occurrences`].
    fn due_occurrences(&self) -> RResult<RVec<Occurrence>, RString> {
        RErr(NOT_OFFERED.into())
    }
    /// See [`super::HostServices::fire_occurrence`].
    fn fire_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<FireOutcome, RString> {
        let _ = (job_id, scheduled_at_ms);
        RErr(NOT_OFFERED.into())
    }
    /// See [`super::HostServices::skip_occurrence`].
    fn skip_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
        reason: RStr<'_>,
    ) -> RResult<FireOutcome, RString> {
        let _ = (job_id, scheduled_at_ms, reason);
        RErr(NOT_OFFERED.into())
    }
    /// See [`super::HostServices::run_report`].
    fn run_report(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<ROption<RunReport>, RString> {
        let _ = (job_id, scheduled_at_ms);
        RErr(NOT_OFFERED.into())
    }
    /// See [`super::HostServices::next_due_in_ms`].
    fn next_due_in_ms(&self) -> RResult<ROption<u64>, RString> {
        RErr(NOT_OFFERED_1_2.into())
    }
}

/// The 1.2 host services as a shareable trait object.
pub type HostServicesBox = HostServices_TO<'static, RArc<()>>;

/// A host that offers the current services offers the 1.2 ones: they are a prefix of them.
impl<H: super::HostServices> HostServices for H {
    fn tick(&self) -> RResult<TickReport, RString> {
        super::HostServices::tick(self)
    }
    fn fire_due(&self, job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        super::HostServices::fire_due(self, job_id)
    }
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        super::HostServices::due_job_ids(self)
    }
    fn record_heartbeat(&self, success: bool, error: RStr<'_>) {
        super::HostServices::record_heartbeat(self, success, error)
    }
    fn log(&self, level: LogLevel, message: RStr<'_>) {
        super::HostServices::log(self, level, message)
    }
    fn config_json(&self) -> RString {
        super::HostServices::config_json(self)
    }
    fn due_occurrences(&self) -> RResult<RVec<Occurrence>, RString> {
        super::HostServices::due_occurrences(self)
    }
    fn fire_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<FireOutcome, RString> {
        super::HostServices::fire_occurrence(self, job_id, scheduled_at_ms)
    }
    fn skip_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
        reason: RStr<'_>,
    ) -> RResult<FireOutcome, RString> {
        super::HostServices::skip_occurrence(self, job_id, scheduled_at_ms, reason)
    }
    fn run_report(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<ROption<RunReport>, RString> {
        super::HostServices::run_report(self, job_id, scheduled_at_ms)
    }
    fn next_due_in_ms(&self) -> RResult<ROption<u64>, RString> {
        super::HostServices::next_due_in_ms(self)
    }
}

/// The 1.2 provider object (eight methods, as in 1.1).
#[sabi_trait]
pub trait ProviderObject: Send + Sync {
    /// See [`super::ProviderObject::name`].
    fn name(&self) -> RString;
    /// See [`super::ProviderObject::is_available`].
    fn is_available(&self) -> RResult<bool, RString>;
    /// See [`super::ProviderObject::start`].
    fn start(
        &self,
        host: HostServicesBox,
        stop: StopSignalBox,
        options: StartOptions,
    ) -> RResult<(), RString>;
    /// See [`super::ProviderObject::stop`].
    fn stop(&self) -> RResult<(), RString>;
    /// See [`super::ProviderObject::on_jobs_changed`].
    fn on_jobs_changed(&self) -> RResult<(), RString>;
    /// See [`super::ProviderObject::fire_due`].
    fn fire_due(&self, host: HostServicesBox, job_id: RStr<'_>) -> RResult<FireOutcome, RString>;
    /// See [`super::ProviderObject::reconcile`].
    #[sabi(last_prefix_field)]
    fn reconcile(&self) -> RResult<(), RString>;

    /// See [`super::ProviderObject::status_json`].
    fn status_json(&self) -> RResult<RString, RString> {
        ROk(RString::new())
    }
}

/// A 1.2 provider instance.
pub type ProviderBox = ProviderObject_TO<'static, RBox<()>>;

/// The 1.2 root module.
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
