//! The provider object and root module exactly as published in 1.0, frozen.
//!
//! abi_stable's load-time check refuses a library whose prefix types (the provider vtable and
//! the root module) have *fewer* fields than the host expects (abi_stable issue #118), even
//! though its runtime accessors handle that case. So the host keeps a frozen copy of every
//! layout it ever shipped and checks an older library against the copy of its own version.
//! Never edit this module; when a later 1.x adds a method, freeze the then-current types as
//! `v1_N` and add a variant to [`AnyProvider`](super::AnyProvider).
//!
//! Every type reachable from the root module whose layout changed since 1.0 is frozen here: the
//! provider object, the root module and the host services (1.1 added services). The others
//! (`StopSignalBox`, `StartOptions`, `LibraryMetadata`, `FireOutcome`, `LogLevel`,
//! `TickReport`) are unchanged and shared; the day one of them grows, freeze it here too. The
//! host hands a 1.0 provider host services of the frozen type.
#![allow(non_local_definitions)] // `#[sabi_trait]` expansion trips this lint (abi_stable #96).

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RArc, RBox, RResult, RStr, RString, RVec},
    StableAbi,
};

use super::{FireOutcome, LibraryMetadata, LogLevel, StartOptions, StopSignalBox, TickReport};

/// The 1.0 host services (six methods).
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
}

/// The 1.0 host services as a shareable trait object.
pub type HostServicesBox = HostServices_TO<'static, RArc<()>>;

/// A host that offers the current services offers the 1.0 ones: they are a prefix of them.
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
}

/// The 1.0 provider object (seven methods).
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
}

/// A 1.0 provider instance.
pub type ProviderBox = ProviderObject_TO<'static, RBox<()>>;

/// The 1.0 root module.
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
