//! One handle over every 1.x layout the host understands: load a library whatever 1.y it was
//! built against, and call its providers through one type.

use abi_stable::library::{LibHeader, LibraryError};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, ROk, RResult, RStr, RString};

use super::{
    v1_0, v1_1, v1_2, FireOutcome, HostServices, HostServices_TO, LibraryMetadata, ProviderBox,
    ProviderLibraryRef, StartOptions, StopSignalBox,
};

/// A provider library's root module, in the layout it was built with.
#[derive(Clone, Copy)]
pub enum AnyProviderLibrary {
    /// Built against the current interface (or a newer 1.x).
    Current(ProviderLibraryRef),
    /// Built against 1.0.
    V1_0(v1_0::ProviderLibraryRef),
    /// Built against 1.1.
    V1_1(v1_1::ProviderLibraryRef),
    /// Built against 1.2.
    V1_2(v1_2::ProviderLibraryRef),
}

impl AnyProviderLibrary {
    /// Check the library's layout and initialise its root module: first against the current
    /// interface, then, for a library that declares an older 1.x, against that version's
    /// frozen layout. The error returned is the one for the version the library declares.
    pub fn load(header: &LibHeader) -> Result<Self, LibraryError> {
        let current = match header.init_root_module::<ProviderLibraryRef>() {
            Ok(module) => return Ok(Self::Current(module)),
            Err(error) => error,
        };
        let declared = header.version_strings();
        if declared.version.as_str().starts_with("1.0.") {
            return header
                .init_root_module::<v1_0::ProviderLibraryRef>()
                .map(Self::V1_0);
        }
        if declared.version.as_str().starts_with("1.1.") {
            return header
                .init_root_module::<v1_1::ProviderLibraryRef>()
                .map(Self::V1_1);
        }
        if declared.version.as_str().starts_with("1.2.") {
            return header
                .init_root_module::<v1_2::ProviderLibraryRef>()
                .map(Self::V1_2);
        }
        Err(current)
    }

    /// The library's metadata function.
    pub fn metadata_fn(&self) -> extern "C" fn() -> LibraryMetadata {
        match self {
            Self::Current(module) => module.metadata(),
            Self::V1_0(module) => module.metadata(),
            Self::V1_1(module) => module.metadata(),
            Self::V1_2(module) => module.metadata(),
        }
    }

    /// Construct provider `name` from its config section (JSON).
    pub fn new_provider(&self, name: &str, config_json: &str) -> RResult<AnyProvider, RString> {
        let (name, config) = (RStr::from_str(name), RStr::from_str(config_json));
        match self {
            Self::Current(module) => module.new_provider()(name, config).map(AnyProvider::Current),
            Self::V1_0(module) => module.new_provider()(name, config).map(AnyProvider::V1_0),
            Self::V1_1(module) => module.new_provider()(name, config).map(AnyProvider::V1_1),
            Self::V1_2(module) => module.new_provider()(name, config).map(AnyProvider::V1_2),
        }
    }
}

/// Host services that can be handed to a provider of any supported layout.
pub trait AnyHost:
    HostServices
    + v1_2::HostServices
    + v1_1::HostServices
    + v1_0::HostServices
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<
        H: HostServices
            + v1_2::HostServices
            + v1_1::HostServices
            + v1_0::HostServices
            + Clone
            + Send
            + Sync
            + 'static,
    > AnyHost for H
{
}

fn current_host<H: AnyHost>(host: &H) -> super::HostServicesBox {
    HostServices_TO::from_ptr(RArc::new(host.clone()), TD_Opaque)
}

fn v1_0_host<H: AnyHost>(host: &H) -> v1_0::HostServicesBox {
    v1_0::HostServices_TO::from_ptr(RArc::new(host.clone()), TD_Opaque)
}

fn v1_1_host<H: AnyHost>(host: &H) -> v1_1::HostServicesBox {
    v1_1::HostServices_TO::from_ptr(RArc::new(host.clone()), TD_Opaque)
}

fn v1_2_host<H: AnyHost>(host: &H) -> v1_2::HostServicesBox {
    v1_2::HostServices_TO::from_ptr(RArc::new(host.clone()), TD_Opaque)
}

/// A provider instance, in the layout its library was built with. Methods a version lacks
/// answer with that method's documented default.
pub enum AnyProvider {
    /// Current layout.
    Current(ProviderBox),
    /// 1.0 layout.
    V1_0(v1_0::ProviderBox),
    /// 1.1 layout.
    V1_1(v1_1::ProviderBox),
    /// 1.2 layout.
    V1_2(v1_2::ProviderBox),
}

macro_rules! dispatch {
    ($self:ident, $provider:ident => $call:expr) => {
        match $self {
            AnyProvider::Current($provider) => $call,
            AnyProvider::V1_0($provider) => $call,
            AnyProvider::V1_1($provider) => $call,
            AnyProvider::V1_2($provider) => $call,
        }
    };
}

impl AnyProvider {
    /// The provider's name.
    #[inline]
    pub fn name(&self) -> RString {
        dispatch!(self, p => p.name())
    }
    /// Whether it can run here.
    #[inline]
    pub fn is_available(&self) -> RResult<bool, RString> {
        dispatch!(self, p => p.is_available())
    }
    /// Start it.
    #[inline]
    pub fn start<H: AnyHost>(
        &self,
        host: &H,
        stop: StopSignalBox,
        options: StartOptions,
    ) -> RResult<(), RString> {
        match self {
            Self::Current(p) => p.start(current_host(host), stop, options),
            Self::V1_0(p) => p.start(v1_0_host(host), stop, options),
            Self::V1_1(p) => p.start(v1_1_host(host), stop, options),
            Self::V1_2(p) => p.start(v1_2_host(host), stop, options),
        }
    }
    /// Stop it.
    #[inline]
    pub fn stop(&self) -> RResult<(), RString> {
        dispatch!(self, p => p.stop())
    }
    /// The job set changed.
    #[inline]
    pub fn on_jobs_changed(&self) -> RResult<(), RString> {
        dispatch!(self, p => p.on_jobs_changed())
    }
    /// An external trigger says `job_id` is due.
    #[inline]
    pub fn fire_due<H: AnyHost>(
        &self,
        host: &H,
        job_id: RStr<'_>,
    ) -> RResult<FireOutcome, RString> {
        match self {
            Self::Current(p) => p.fire_due(current_host(host), job_id),
            Self::V1_0(p) => p.fire_due(v1_0_host(host), job_id),
            Self::V1_1(p) => p.fire_due(v1_1_host(host), job_id),
            Self::V1_2(p) => p.fire_due(v1_2_host(host), job_id),
        }
    }
    /// Reconcile an external schedule.
    #[inline]
    pub fn reconcile(&self) -> RResult<(), RString> {
        dispatch!(self, p => p.reconcile())
    }
    /// Status JSON (added in 1.1; empty for 1.0 providers).
    #[inline]
    pub fn status_json(&self) -> RResult<RString, RString> {
        match self {
            Self::Current(p) => p.status_json(),
            Self::V1_1(p) => p.status_json(),
            Self::V1_2(p) => p.status_json(),
            Self::V1_0(_) => ROk(RString::new()),
        }
    }
}
