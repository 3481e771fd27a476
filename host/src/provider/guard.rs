//! The guard: every call into a provider goes through here. None can unwind into the host, and
//! the calls that must return promptly run under a deadline: a provider that misses one is
//! quarantined (the host stops using it) and its stuck thread is abandoned, not joined.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use cronhost_provider_api::abi_stable::std_types::{RResult, RStr, RString};
use cronhost_provider_api::ffi::{AnyProvider, StartOptions};
use cronhost_provider_api::{panic_message, FireOutcome};

use super::services::Services;
use super::stop::StopFlag;
use crate::plugins::Discovered;

/// The longest error message kept from a provider; longer ones are cut.
pub const MAX_ERROR_BYTES: usize = 4096;

/// How long a call that must return promptly may take unless configured otherwise.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(5);

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
    /// The call did not return within its deadline; the provider is now quarantined.
    #[error("provider `{provider}` {call} did not return within {}ms; the provider is quarantined", deadline.as_millis())]
    Hung {
        /// The provider.
        provider: String,
        /// The method called.
        call: &'static str,
        /// The deadline it missed.
        deadline: Duration,
    },
    /// The provider was quarantined earlier; it is not called any more.
    #[error("provider `{provider}` is quarantined ({reason}); {call} not called")]
    Quarantined {
        /// The provider.
        provider: String,
        /// The method not called.
        call: &'static str,
        /// Why it was quarantined.
        reason: String,
    },
}

/// Whether a provider is quarantined, shared with the host services handed to it (so an
/// abandoned provider can no longer fire anything).
#[derive(Debug, Default)]
pub struct Quarantine {
    set: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Quarantine {
    /// Whether the provider is quarantined.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Why, if it is.
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Quarantine the provider for `reason`.
    pub fn set(&self, reason: String) {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        self.set.store(true, Ordering::SeqCst);
    }
}

struct Inner {
    name: String,
    start_blocks: bool,
    origin: PathBuf,
    object: AnyProvider,
    deadline: Duration,
    quarantine: Arc<Quarantine>,
}

/// A constructed provider, every call guarded. Cheap to clone.
#[derive(Clone)]
pub struct ProviderHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ProviderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderHandle")
            .field("name", &self.inner.name)
            .field("start_blocks", &self.inner.start_blocks)
            .field("origin", &self.inner.origin)
            .field("quarantined", &self.inner.quarantine.is_set())
            .finish_non_exhaustive()
    }
}

/// Run `body` on a thread of its own and wait at most `deadline`; `None` when it did not
/// finish in time (the thread is abandoned).
fn within<T: Send + 'static>(
    deadline: Duration,
    name: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (done, result) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("provider-{name}"))
        .spawn(move || {
            let _ = done.send(body());
        });
    match spawned {
        Ok(_) => result.recv_timeout(deadline).ok(),
        Err(_) => None,
    }
}

impl ProviderHandle {
    /// Construct a discovered provider from its config section (JSON), with the default
    /// deadline for calls that must return promptly.
    pub fn construct(
        discovered: &Discovered,
        config_json: &str,
    ) -> Result<Self, ProviderCallError> {
        Self::construct_within(discovered, config_json, DEFAULT_CALL_DEADLINE)
    }

    /// Construct a discovered provider; the constructor and every prompt call get `deadline`.
    pub fn construct_within(
        discovered: &Discovered,
        config_json: &str,
        deadline: Duration,
    ) -> Result<Self, ProviderCallError> {
        let name = discovered.name().to_owned();
        let library = Arc::clone(&discovered.library);
        let (constructor_name, config) = (name.clone(), config_json.to_owned());
        let built = within(deadline, "constructor", move || {
            library.new_provider(&constructor_name, &config)
        });
        let object = match built {
            Some(Ok(object)) => object,
            Some(Err(message)) => {
                let error = ProviderCallError::Failed {
                    provider: name,
                    call: "constructor",
                    message: crate::text::truncate(&message, MAX_ERROR_BYTES).into_owned(),
                };
                log::error!("{error}");
                return Err(error);
            }
            None => {
                let error = ProviderCallError::Hung {
                    provider: name,
                    call: "constructor",
                    deadline,
                };
                log::error!("{error}");
                return Err(error);
            }
        };
        let mut handle = Self::from_object(
            name,
            discovered.info.start_blocks,
            &discovered.library.path,
            object,
        );
        if let Some(inner) = Arc::get_mut(&mut handle.inner) {
            inner.deadline = deadline;
        }
        Ok(handle)
    }

    /// Wrap an already built provider object (for providers built into an embedding app).
    pub fn from_object(
        name: String,
        start_blocks: bool,
        origin: &Path,
        object: AnyProvider,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                start_blocks,
                origin: origin.to_path_buf(),
                object,
                deadline: DEFAULT_CALL_DEADLINE,
                quarantine: Arc::new(Quarantine::default()),
            }),
        }
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether `start` blocks like a ticker.
    pub fn start_blocks(&self) -> bool {
        self.inner.start_blocks
    }

    /// The library it came from.
    pub fn origin(&self) -> &Path {
        &self.inner.origin
    }

    /// Its quarantine state, shared with the services handed to it.
    pub fn quarantine(&self) -> &Arc<Quarantine> {
        &self.inner.quarantine
    }

    fn call<T>(
        &self,
        call: &'static str,
        body: impl FnOnce(&AnyProvider) -> RResult<T, RString>,
    ) -> Result<T, ProviderCallError> {
        let inner = &self.inner;
        if let Some(reason) = inner
            .quarantine
            .is_set()
            .then(|| inner.quarantine.reason().unwrap_or_default())
        {
            return Err(ProviderCallError::Quarantined {
                provider: inner.name.clone(),
                call,
                reason,
            });
        }
        let error = match catch_unwind(AssertUnwindSafe(|| body(&inner.object))) {
            Ok(RResult::ROk(value)) => return Ok(value),
            Ok(RResult::RErr(message)) => ProviderCallError::Failed {
                provider: inner.name.clone(),
                call,
                message: crate::text::truncate(&message, MAX_ERROR_BYTES).into_owned(),
            },
            Err(payload) => ProviderCallError::Panicked {
                provider: inner.name.clone(),
                call,
                message: panic_message(&*payload),
            },
        };
        log::error!("{error}");
        Err(error)
    }

    /// A call that must return promptly: guarded, and bounded by the deadline. Missing it
    /// quarantines the provider; the stuck thread is abandoned.
    fn prompt<T: Send + 'static>(
        &self,
        call: &'static str,
        body: impl FnOnce(&AnyProvider) -> RResult<T, RString> + Send + 'static,
    ) -> Result<T, ProviderCallError> {
        let handle = self.clone();
        let deadline = self.inner.deadline;
        match within(deadline, call, move || handle.call(call, body)) {
            Some(result) => result,
            None => {
                let error = ProviderCallError::Hung {
                    provider: self.inner.name.clone(),
                    call,
                    deadline,
                };
                log::error!("{error}");
                self.inner.quarantine.set(format!(
                    "{call} did not return within {}ms",
                    deadline.as_millis()
                ));
                Err(error)
            }
        }
    }

    /// Whether the provider can run here.
    pub fn is_available(&self) -> Result<bool, ProviderCallError> {
        self.prompt("is_available", |p| p.is_available())
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
        self.prompt("stop", |p| p.stop())
    }

    /// Tell the provider the job set changed.
    pub fn on_jobs_changed(&self) -> Result<(), ProviderCallError> {
        self.prompt("on_jobs_changed", |p| p.on_jobs_changed())
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
        self.prompt("reconcile", |p| p.reconcile())
    }

    /// The provider's own status (a JSON object), if it reports one. Not bounded by the prompt
    /// deadline: a cluster provider's status may query its database.
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
