//! cronhost-provider-api: the stable ABI between the cronhost host and provider plugins, and
//! the SDK for writing a provider.
//!
//! A *provider* decides when due jobs fire. What firing means (claim, run, record) stays in the
//! host: a provider calls [`Host::tick`] or [`Host::fire_due`] and the host does the rest.
//!
//! # Writing a provider
//! Implement [`Provider`] and call [`export_provider!`] once in a `cdylib` crate:
//!
//! ```
//! use std::time::Duration;
//! use cronhost_provider_api::{
//!     export_provider, Host, LogLevel, Provider, ProviderConfig, ProviderError, StartOptions, Stop,
//! };
//!
//! /// Ticks at its own cadence, read from `[providers.metronome] interval_ms = 500`.
//! struct Metronome {
//!     interval: Duration,
//! }
//!
//! #[derive(serde::Deserialize)]
//! #[serde(default)]
//! struct Settings {
//!     interval_ms: u64,
//! }
//!
//! impl Default for Settings {
//!     fn default() -> Self {
//!         Settings { interval_ms: 1000 }
//!     }
//! }
//!
//! impl Provider for Metronome {
//!     const NAME: &'static str = "metronome";
//!     const DESCRIPTION: &'static str = "ticks at a fixed cadence";
//!
//!     fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
//!         let settings: Settings = config.parse()?;
//!         Ok(Metronome { interval: Duration::from_millis(settings.interval_ms.max(1)) })
//!     }
//!
//!     fn start(&self, host: Host, stop: Stop, _options: StartOptions) -> Result<(), ProviderError> {
//!         host.log(LogLevel::Info, "metronome started");
//!         host.record_heartbeat(false, None);
//!         while !stop.is_set() {
//!             match host.tick() {
//!                 Ok(_) => host.record_heartbeat(true, None),
//!                 Err(e) => host.record_heartbeat(false, Some(&e.to_string())),
//!             }
//!             stop.wait(self.interval);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_provider!(Metronome);
//! # fn main() {}
//! ```
//!
//! Build it with `crate-type = ["cdylib"]`, drop the library into the host's `plugins.d/`, and
//! set `cron.provider = "metronome"` in `cronhost.toml`.
//!
//! # Guarantees
//! - Every call into the library runs inside `catch_unwind`; a panic reaches the host as an
//!   error value carrying the panic message (a panic crossing the boundary would abort the
//!   host).
//! - Only `#[repr(C)]` [`StableAbi`](abi_stable::StableAbi) types cross the boundary;
//!   abi_stable checks every layout when the host loads the library.
//! - The interface grows additively within 1.x: a 1.x host loads any 1.y library.
#![deny(missing_docs)]

mod adapter;
mod export;
pub mod ffi;
mod sdk;

pub use abi_stable;

/// The version of this interface crate; a host built with it loads libraries built against any
/// 1.x.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
pub use adapter::{into_provider_box, panic_message};
pub use ffi::{FireOutcome, LogLevel, RunReport, StartOptions, TickReport};
pub use sdk::{Host, HostError, Provider, ProviderConfig, ProviderError, Stop};

/// Support for [`export_provider!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::adapter::{construct, contain, info};
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    pub use abi_stable::std_types::{RResult, RStr, RString};

    use crate::ffi::{LibraryMetadata, ProviderLibrary, ProviderLibraryRef};
    use abi_stable::{prefix_type::PrefixTypeTrait, std_types::RVec};

    /// Build the root module from the two functions the macro generated.
    pub fn root_module(
        metadata: extern "C" fn() -> LibraryMetadata,
        new_provider: extern "C" fn(
            RStr<'_>,
            RStr<'_>,
        ) -> RResult<crate::ffi::ProviderBox, RString>,
    ) -> ProviderLibraryRef {
        ProviderLibrary {
            metadata,
            new_provider,
        }
        .leak_into_prefix()
    }

    /// Build the library metadata. `providers` runs inside `catch_unwind`: a panic yields a
    /// library that offers nothing (and so is rejected by the host with a reason).
    pub fn metadata(
        library_version: &str,
        providers: impl FnOnce() -> Vec<crate::ffi::ProviderInfo>,
    ) -> LibraryMetadata {
        let providers =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(providers)).unwrap_or_default();
        LibraryMetadata {
            library_version: library_version.into(),
            providers: RVec::from(providers),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exported_symbol_name_matches_abi_stable() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
