//! The guard: every call into a provider goes through here, and none can unwind into the host.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use cronhost_provider_api::abi_stable::std_types::{RResult, RStr, RString};
use cronhost_provider_api::ffi::{AnyProvider, StartOptions};
use cronhost_provider_api::{panic_message, FireOutcome};

use super::services::Services;
use super::stop::StopFlag;
use crate::plugins::Discovered;

/// A call into a provider failed. Already logged at ERROR by the guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderCallError {
    /// The provider returned an error (a panic inside the provider arrives here too, caught by
    /// the SDK, with a message starting `panicked in`).
    #[error("provider `{provider}` {call} failed: {message}")]
    Failed {
        /// The provider.
        provider: String,
        /// The method called.
        call: &'static str,
        /// What the provider said.
        message: String,
    },
    /// Unwinding reached the host's side of the call.
    #[error("provider `{provider}` {call} panicked: {message}")]
    Panicked {
        /// The provider.
        provider: String,
        /// The method called.
        call: &'static str,
        /// The panic message.
        message: String,
    },
}

/// A constructed provider, every call guarded.
pub struct ProviderHandle {
    name: String,
    start_blocks: bool,
    origin: PathBuf,
    object: AnyProvider,
}

impl std::fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderHandle")
            .field("name", &self.name)
            .field("start_blocks", &self.start_blocks)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ProviderHandle {
    /// Construct a discovered provider from its config section (JSON).
    pub fn construct(
        discovered: &Discovered,
        config_json: &str,
    ) -> Result<Self, ProviderCallError> {
        let name = discovered.name().to_owned();
        let object = discovered
            .library
            .new_provider(&name, config_json)
            .map_err(|message| {
                let error = ProviderCallError::Failed {
                    provider: name.clone(),
                    call: "constructor",
                    message,
                };
                log::error!("{error}");
                error
            })?;
        Ok(Self::from_object(
            name,
            discovered.info.start_blocks,
            &discovered.library.path,
            object,
        ))
    }

    /// Wrap an already built provider object (for providers built into an embedding app).
    pub fn from_object(
        name: String,
        start_blocks: bool,
        origin: &Path,
        object: AnyProvider,
    ) -> Self {
        Self {
            name,
            start_blocks,
            origin: origin.to_path_buf(),
            object,
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `start` blocks like a ticker.
    pub fn start_blocks(&self) -> bool {
        self.start_blocks
    }

    /// The library it came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    fn call<T>(
        &self,
        call: &'static str,
        body: impl FnOnce(&AnyProvider) -> RResult<T, RString>,
    ) -> Result<T, ProviderCallError> {
        let error = match catch_unwind(AssertUnwindSafe(|| body(&self.object))) {
            Ok(RResult::ROk(value)) => return Ok(value),
            Ok(RResult::RErr(message)) => ProviderCallError::Failed {
                provider: self.name.clone(),
                call,
                message: message.into_string(),
            },
            Err(payload) => ProviderCallError::Panicked {
                provider: self.name.clone(),
                call,
                message: panic_message(&*payload),
            },
        };
        log::error!("{error}");
        Err(error)
    }

    /// Whether the provider can run here.
    pub fn is_available(&self) -> Result<bool, ProviderCallError> {
        self.call("is_available", |p| p.is_available())
    }

    /// Start the provider: blocks until stopped for a blocking provider.
    pub fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), ProviderCallError> {
        self.call("start", |p| p.start(services, stop.to_ffi(), options))
    }

    /// Tell the provider to release what it holds.
    pub fn stop(&self) -> Result<(), ProviderCallError> {
        self.call("stop", |p| p.stop())
    }

    /// Tell the provider the job set changed.
    pub fn on_jobs_changed(&self) -> Result<(), ProviderCallError> {
        self.call("on_jobs_changed", |p| p.on_jobs_changed())
    }

    /// Ask the provider to fire `job_id` (an external trigger arrived).
    pub fn fire_due(
        &self,
        services: &Services,
        job_id: &str,
    ) -> Result<FireOutcome, ProviderCallError> {
        self.call("fire_due", |p| p.fire_due(services, RStr::from_str(job_id)))
    }

    /// Ask the provider to reconcile its external schedule.
    pub fn reconcile(&self) -> Result<(), ProviderCallError> {
        self.call("reconcile", |p| p.reconcile())
    }

    /// The provider's own status (a JSON object), if it reports one.
    pub fn status(&self) -> Result<Option<serde_json::Value>, ProviderCallError> {
        let text = self.call("status", |p| p.status_json())?;
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::from_str(text.as_str())
                .unwrap_or(serde_json::Value::String(text.into_string())),
        ))
    }
}
