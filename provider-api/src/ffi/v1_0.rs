//! The provider object and root module exactly as published in 1.0, frozen.
//!
//! abi_stable's load-time check refuses a library whose prefix types (the provider vtable and
//! the root module) have *fewer* fields than the host expects (abi_stable issue #118), even
//! though its runtime accessors handle that case. So the host keeps a frozen copy of every
//! layout it ever shipped and checks an older library against the copy of its own version.
//! Never edit this module; when a later 1.x adds a method, freeze the then-current types as
//! `v1_N` and add a variant to [`AnyProvider`](super::AnyProvider).
//!
//! Only the provider object and the root module differ from the current layout so far, so the
//! types they reach (`HostServicesBox`, `StopSignalBox`, `StartOptions`, `LibraryMetadata`,
//! `FireOutcome`) are shared with the current interface. The same check applies to them: the day
//! any of them grows (a new host service, say), its 1.0 layout must be frozen here too and the
//! host must hand 1.0 providers an object of the frozen type.
#![allow(non_local_definitions)] // `#[sabi_trait]` expansion trips this lint (abi_stable #96).

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, RResult, RStr, RString},
    StableAbi,
};

use super::{FireOutcome, HostServicesBox, LibraryMetadata, StartOptions, StopSignalBox};

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
