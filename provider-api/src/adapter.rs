//! Adapts a safe [`Provider`] to the stable ABI, containing every panic on the provider side.

use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

use abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RResult, RStr, RString},
};

use crate::ffi::{
    into_rresult, FireOutcome, HostServicesBox, ProviderBox, ProviderInfo, ProviderObject,
    ProviderObject_TO, StartOptions, StopSignalBox,
};
use crate::sdk::{Host, Provider, ProviderConfig, Stop};

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Run `call`, turning an error or a panic into the error value that crosses the boundary.
/// `what` names the call in the message, e.g. `start`.
#[inline]
pub fn contain<T>(what: &str, call: impl FnOnce() -> Result<T, String>) -> RResult<T, RString> {
    let result = match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(payload) => Err(format!("panicked in {what}: {}", panic_message(&*payload))),
    };
    into_rresult(result)
}

/// The metadata entry for provider type `P`.
pub fn info<P: Provider>() -> ProviderInfo {
    ProviderInfo {
        name: P::NAME.into(),
        description: P::DESCRIPTION.into(),
        start_blocks: P::START_BLOCKS,
    }
}

/// Construct provider `P` from its config JSON and box it for the boundary.
/// Called inside [`contain`], so a panicking constructor becomes an error.
pub fn construct<P: Provider>(config_json: &str) -> Result<ProviderBox, String> {
    let config = ProviderConfig::from_json(config_json).map_err(|e| e.to_string())?;
    let provider = P::new(config).map_err(|e| e.to_string())?;
    Ok(into_provider_box(provider))
}

/// Box an already built provider as the ABI trait object.
pub fn into_provider_box<P: Provider>(provider: P) -> ProviderBox {
    ProviderObject_TO::from_value(Adapter(ManuallyDrop::new(provider)), TD_Opaque)
}

/// The provider behind the ABI. `ManuallyDrop` so that dropping it (which the host triggers
/// through an `extern "C"` vtable entry) happens inside `catch_unwind` too.
struct Adapter<P>(ManuallyDrop<P>);

impl<P> Drop for Adapter<P> {
    fn drop(&mut self) {
        // SAFETY: `self.0` is taken exactly once, here, and never used again.
        let inner = unsafe { ManuallyDrop::take(&mut self.0) };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(inner))) {
            eprintln!(
                "cronhost provider: drop panicked: {}",
                panic_message(&*payload)
            );
            // Dropping the payload could panic again; leak it instead.
            std::mem::forget(payload);
        }
    }
}

fn text<E: std::fmt::Display>(error: E) -> String {
    error.to_string()
}

impl<P: Provider> ProviderObject for Adapter<P> {
    #[inline]
    fn name(&self) -> RString {
        P::NAME.into()
    }

    #[inline]
    fn is_available(&self) -> RResult<bool, RString> {
        contain("is_available", || Ok(self.0.is_available()))
    }

    #[inline]
    fn start(
        &self,
        host: HostServicesBox,
        stop: StopSignalBox,
        options: StartOptions,
    ) -> RResult<(), RString> {
        contain("start", || {
            self.0
                .start(Host::from_ffi(host), Stop::from_ffi(stop), options)
                .map_err(text)
        })
    }

    #[inline]
    fn stop(&self) -> RResult<(), RString> {
        contain("stop", || self.0.stop().map_err(text))
    }

    #[inline]
    fn on_jobs_changed(&self) -> RResult<(), RString> {
        contain("on_jobs_changed", || self.0.on_jobs_changed().map_err(text))
    }

    #[inline]
    fn fire_due(&self, host: HostServicesBox, job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        contain("fire_due", || {
            self.0
                .fire_due(&Host::from_ffi(host), job_id.as_str())
                .map_err(text)
        })
    }

    #[inline]
    fn reconcile(&self) -> RResult<(), RString> {
        contain("reconcile", || self.0.reconcile().map_err(text))
    }

    #[inline]
    fn status_json(&self) -> RResult<RString, RString> {
        contain("status", || {
            Ok(match self.0.status().map_err(text)? {
                Some(value) => value.to_string().into(),
                None => RString::new(),
            })
        })
    }
}
