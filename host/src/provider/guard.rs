//! The guard: every call into a provider goes through here. None can unwind into the host, and
//! the calls that must return promptly run under a deadline, which the backend keeps (an
//! in-process provider's prompt calls run on its worker thread): a provider that misses one is
//! quarantined (the host stops using it) and its stuck thread is abandoned, not joined; an
//! isolated one's process is killed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cronhost_core::text::panic_message;
use cronhost_core::StopFlag;
use cronhost_provider_api::abi_stable::std_types::RString;
use cronhost_provider_api::ffi::{AnyProvider, StartOptions};
use cronhost_provider_api::FireOutcome;

use super::backend::{Abandonment, Failure, InProcess, ProviderBackend};
use super::quarantine::Quarantine;
use super::services::Services;
use crate::plugins::Discovered;

/// The longest error message kept from a provider; longer ones are cut.
pub const MAX_ERROR_BYTES: usize = 4096;

/// The largest status JSON a provider may report (256 KiB: a cluster provider's 500 recent
/// runs take about half of it); a larger one is refused.
pub const MAX_STATUS_BYTES: usize = 256 * 1024;

/// A provider's status text, refused when it is over [`MAX_STATUS_BYTES`].
pub fn bound_status(text: String) -> Result<String, RString> {
    if text.len() > MAX_STATUS_BYTES {
        return Err(format!(
            "its status JSON is {} bytes, over the {MAX_STATUS_BYTES}-byte limit",
            text.len()
        )
        .into());
    }
    Ok(text)
}

/// How long a call that must return promptly may take unless configured otherwise.
pub const DEFAULT_CALL_DEADLINE: Duration = Duration::from_secs(5);

/// A call into a provider failed. Already logged at ERROR by the guard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// The call did not return within its deadline: an in-process provider is quarantined,
    /// an isolated one's process is killed (and restarted by the next `start`).
    #[error("provider `{provider}` {call} did not return within {}ms; {consequence}", deadline.as_millis())]
    Hung {
        /// The provider.
        provider: String,
        /// The method called.
        call: &'static str,
        /// The deadline it missed.
        deadline: Duration,
        /// What the host did about it.
        consequence: &'static str,
    },
    /// The isolated provider's process died (or was killed) during the call or before it.
    #[error("provider `{provider}` {call} failed: {reason}")]
    Died {
        /// The provider.
        provider: String,
        /// The method called.
        call: &'static str,
        /// How the process ended, with its last stderr line.
        reason: String,
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

const QUARANTINED: &str = "the provider is quarantined";
/// What the guard did to an isolated provider that missed a deadline.
pub const KILLED: &str = "its process was killed";

struct Inner {
    name: String,
    start_blocks: bool,
    origin: PathBuf,
    backend: Box<dyn ProviderBackend>,
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
        let backend = match InProcess::construct(discovered, config_json, deadline) {
            Ok(backend) => backend,
            Err(failure) => {
                let error = match failure {
                    Failure::Missed => ProviderCallError::Hung {
                        provider: name,
                        call: "constructor",
                        deadline,
                        consequence: QUARANTINED,
                    },
                    Failure::Panicked(message) => ProviderCallError::Panicked {
                        provider: name,
                        call: "constructor",
                        message,
                    },
                    Failure::Error(message) | Failure::Died(message) => ProviderCallError::Failed {
                        provider: name,
                        call: "constructor",
                        message: cronhost_core::text::truncate(&message, MAX_ERROR_BYTES)
                            .into_owned(),
                    },
                };
                log::error!("{error}");
                return Err(error);
            }
        };
        Ok(Self::with_backend(
            name,
            discovered.info.start_blocks,
            &discovered.file.path,
            Box::new(backend),
            deadline,
        ))
    }

    /// Construct a discovered provider in a child process: `program provider-host` (the
    /// `cronhost` binary, or any program calling [`crate::isolate::serve_if_asked`]).
    pub fn isolated(
        discovered: &Discovered,
        config_json: &str,
        deadline: Duration,
        program: PathBuf,
    ) -> Result<Self, ProviderCallError> {
        let remote = crate::isolate::spawn_provider(discovered, config_json, deadline, program)?;
        Ok(Self::with_backend(
            discovered.name().to_owned(),
            remote.start_blocks(),
            &discovered.file.path,
            Box::new(remote),
            deadline,
        ))
    }

    /// Wrap an already built provider object (for providers built into an embedding app).
    pub fn from_object(
        name: String,
        start_blocks: bool,
        origin: &Path,
        object: AnyProvider,
    ) -> Self {
        let backend = InProcess::new(object, &name);
        Self::with_backend(
            name,
            start_blocks,
            origin,
            Box::new(backend),
            DEFAULT_CALL_DEADLINE,
        )
    }

    fn with_backend(
        name: String,
        start_blocks: bool,
        origin: &Path,
        backend: Box<dyn ProviderBackend>,
        deadline: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                start_blocks,
                origin: origin.to_path_buf(),
                backend,
                deadline,
                quarantine: Arc::new(Quarantine::default()),
            }),
        }
    }

    /// Whether the provider runs in a child process.
    pub fn is_isolated(&self) -> bool {
        self.inner.backend.abandonment() == Abandonment::KillProcess
    }

    /// The isolated provider's running process, if there is one.
    pub fn process_id(&self) -> Option<u32> {
        self.inner.backend.process_id()
    }

    /// Make the provider ready for `start`: for an isolated provider whose process died, start
    /// a fresh process and construct the provider in it (in-process: nothing to do). The
    /// supervisor does this while the built-in ticker still stands in.
    pub fn prepare(&self) -> Result<(), ProviderCallError> {
        self.call("restart", |backend| backend.prepare())
    }

    /// Give up on the provider's current run for `reason`: an in-process provider is
    /// quarantined for good (its threads cannot be stopped); an isolated one's process is
    /// killed, and the next `start` runs a fresh one.
    pub fn abandon(&self, reason: String) {
        match self.inner.backend.abandonment() {
            Abandonment::Quarantine => self.inner.quarantine.set(reason),
            Abandonment::KillProcess => self.inner.backend.abandon(&reason),
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
        body: impl FnOnce(&dyn ProviderBackend) -> Result<T, Failure>,
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
        let error = match catch_unwind(AssertUnwindSafe(|| body(&*inner.backend))) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(Failure::Error(message))) => ProviderCallError::Failed {
                provider: inner.name.clone(),
                call,
                message: cronhost_core::text::truncate(&message, MAX_ERROR_BYTES).into_owned(),
            },
            Ok(Err(Failure::Died(reason))) => ProviderCallError::Died {
                provider: inner.name.clone(),
                call,
                reason,
            },
            Ok(Err(Failure::Missed)) => {
                let deadline = inner.deadline;
                let error = ProviderCallError::Hung {
                    provider: inner.name.clone(),
                    call,
                    deadline,
                    consequence: if self.is_isolated() {
                        KILLED
                    } else {
                        QUARANTINED
                    },
                };
                log::error!("{error}");
                self.abandon(format!(
                    "{call} did not return within {}ms",
                    deadline.as_millis()
                ));
                return Err(error);
            }
            Ok(Err(Failure::Panicked(message))) => ProviderCallError::Panicked {
                provider: inner.name.clone(),
                call,
                message,
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

    /// A call that must return promptly: guarded, and bounded by the deadline, which the
    /// backend keeps (the in-process one on the provider's worker thread). Missing it
    /// quarantines the provider (or kills an isolated one's process); the stuck thread is
    /// abandoned.
    fn prompt<T>(
        &self,
        call: &'static str,
        body: impl FnOnce(&dyn ProviderBackend, Duration) -> Result<T, Failure>,
    ) -> Result<T, ProviderCallError> {
        let deadline = self.inner.deadline;
        self.call(call, |backend| body(backend, deadline))
    }

    /// Whether the provider can run here.
    pub fn is_available(&self) -> Result<bool, ProviderCallError> {
        self.prompt("is_available", |backend, deadline| {
            backend.is_available(deadline)
        })
    }

    /// Start the provider: blocks until stopped for a blocking provider.
    pub fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), ProviderCallError> {
        self.call("start", |backend| backend.start(services, stop, options))
    }

    /// Tell the provider to release what it holds.
    pub fn stop(&self) -> Result<(), ProviderCallError> {
        self.prompt("stop", |backend, deadline| backend.stop(deadline))
    }

    /// Tell the provider the job set changed.
    pub fn on_jobs_changed(&self) -> Result<(), ProviderCallError> {
        self.prompt("on_jobs_changed", |backend, deadline| {
            backend.on_jobs_changed(deadline)
        })
    }

    /// Ask the provider to fire `job_id` (an external trigger arrived).
    pub fn fire_due(
        &self,
        services: &Services,
        job_id: &str,
    ) -> Result<FireOutcome, ProviderCallError> {
        self.call("fire_due", |backend| backend.fire_due(services, job_id))
    }

    /// Ask the provider to reconcile its external schedule.
    pub fn reconcile(&self) -> Result<(), ProviderCallError> {
        self.prompt("reconcile", |backend, deadline| backend.reconcile(deadline))
    }

    /// The provider's own status (a JSON object), if it reports one. Not bounded by the prompt
    /// deadline: a cluster provider's status may query its database.
    pub fn status(&self) -> Result<Option<serde_json::Value>, ProviderCallError> {
        let text = self.call("status", |backend| {
            bound_status(backend.status_json()?).map_err(|e| Failure::Error(e.into_string()))
        })?;
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        ))
    }
}
