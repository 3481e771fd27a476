//! Where a provider runs, as the guard sees it: one trait, [`ProviderBackend`], with the
//! in-process backend here and the isolated one in [`crate::isolate`]. A new backend
//! implements the trait and touches no guard method.
//!
//! The calls that must return promptly get their deadline, and each backend keeps it its own
//! way: in-process, the call runs on the provider's worker thread and the caller stops
//! waiting at the deadline; isolated, the caller stops waiting for the child's answer.

use std::sync::Arc;
use std::time::Duration;

use cronhost_core::StopFlag;
use cronhost_provider_api::abi_stable::std_types::{RResult, RStr, RString};
use cronhost_provider_api::ffi::{AnyProvider, StartOptions};
use cronhost_provider_api::FireOutcome;

use super::services::Services;
use crate::plugins::Discovered;
use crate::workers::{Lost, Workers};

/// Why a backend call failed, before the guard names the provider and the call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The provider returned an error.
    Error(String),
    /// Its process is gone.
    Died(String),
    /// The call did not return within its deadline; the guard abandons the provider.
    Missed,
    /// Unwinding reached the host's side of the call (on the thread that ran it).
    Panicked(String),
}

/// What the guard does to a provider that missed a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandonment {
    /// Stop calling it for good: its threads live in this process and cannot be stopped.
    Quarantine,
    /// Kill its process; the next `start` runs a fresh one.
    KillProcess,
}

/// One provider, wherever it runs. Every method may block; the guard bounds and contains them.
pub trait ProviderBackend: Send + Sync {
    /// What abandoning this provider means.
    fn abandonment(&self) -> Abandonment;

    /// Give up on the provider's current run (for [`Abandonment::KillProcess`]: kill it).
    fn abandon(&self, reason: &str);

    /// The provider's process, if it runs in one of its own.
    fn process_id(&self) -> Option<u32> {
        None
    }

    /// Make the provider ready for `start` (restart a process that died).
    fn prepare(&self) -> Result<(), Failure> {
        Ok(())
    }

    /// Whether the provider can run here; within `deadline`.
    fn is_available(&self, deadline: Duration) -> Result<bool, Failure>;

    /// Start it; blocks until stopped for a blocking provider.
    fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), Failure>;

    /// Tell it to release what it holds; within `deadline`.
    fn stop(&self, deadline: Duration) -> Result<(), Failure>;

    /// Tell it the job set changed; within `deadline`.
    fn on_jobs_changed(&self, deadline: Duration) -> Result<(), Failure>;

    /// Ask it to fire `job_id`.
    fn fire_due(&self, services: &Services, job_id: &str) -> Result<FireOutcome, Failure>;

    /// Ask it to reconcile its external schedule; within `deadline`.
    fn reconcile(&self, deadline: Duration) -> Result<(), Failure>;

    /// Its status JSON (empty: none).
    fn status_json(&self) -> Result<String, Failure>;
}

/// A provider loaded into this process, with its worker: the one long-lived thread its prompt
/// calls run on (a call made while the worker is busy gets a thread of its own, so no call
/// waits behind a hung one; a worker stuck in a call that missed its deadline is abandoned,
/// and the provider with it).
pub struct InProcess {
    provider: Arc<AnyProvider>,
    worker: Workers,
}

/// An in-process call's result, as the guard takes it.
fn local<T>(result: RResult<T, RString>) -> Result<T, Failure> {
    result
        .into_result()
        .map_err(|e| Failure::Error(e.into_string()))
}

/// The worker's verdict on a call, as the guard takes it.
fn worked<T>(result: Result<Result<T, Failure>, Lost>) -> Result<T, Failure> {
    match result {
        Ok(result) => result,
        Err(Lost::Missed) => Err(Failure::Missed),
        Err(Lost::Panicked(message)) => Err(Failure::Panicked(message)),
        Err(Lost::NoThread(e)) => Err(Failure::Error(format!(
            "the host cannot start a thread for the call: {e}"
        ))),
    }
}

impl InProcess {
    /// A provider object built in this process (for providers built into an application).
    pub fn new(provider: AnyProvider, name: &str) -> Self {
        Self {
            provider: Arc::new(provider),
            worker: Workers::new(format!("provider-{name}"), 1),
        }
    }

    /// Load `discovered`'s library and construct the provider from `config_json`, on what
    /// becomes the provider's worker, within `deadline` (loading runs the library's
    /// initialisers, so it counts too).
    pub(crate) fn construct(
        discovered: &Discovered,
        config_json: &str,
        deadline: Duration,
    ) -> Result<Self, Failure> {
        let worker = Workers::new(format!("provider-{}", discovered.name()), 1);
        let (found, config) = (discovered.clone(), config_json.to_owned());
        let provider = worked(worker.within(deadline, move || {
            let library = found.load().map_err(|e| {
                Failure::Error(format!("cannot load {}: {e}", found.file.path.display()))
            })?;
            library
                .new_provider(found.name(), &config)
                .map_err(Failure::Error)
        }))?;
        Ok(Self {
            provider: Arc::new(provider),
            worker,
        })
    }

    /// Run a prompt call on the worker, waiting at most `deadline`.
    fn prompt<T: Send + 'static>(
        &self,
        deadline: Duration,
        call: impl FnOnce(&AnyProvider) -> RResult<T, RString> + Send + 'static,
    ) -> Result<T, Failure> {
        let provider = Arc::clone(&self.provider);
        worked(self.worker.within(deadline, move || local(call(&provider))))
    }
}

impl ProviderBackend for InProcess {
    fn abandonment(&self) -> Abandonment {
        Abandonment::Quarantine
    }

    fn abandon(&self, _reason: &str) {}

    fn is_available(&self, deadline: Duration) -> Result<bool, Failure> {
        self.prompt(deadline, AnyProvider::is_available)
    }

    fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), Failure> {
        local(
            self.provider
                .start(services, super::stop::stop_signal(stop), options),
        )
    }

    fn stop(&self, deadline: Duration) -> Result<(), Failure> {
        self.prompt(deadline, AnyProvider::stop)
    }

    fn on_jobs_changed(&self, deadline: Duration) -> Result<(), Failure> {
        self.prompt(deadline, AnyProvider::on_jobs_changed)
    }

    fn fire_due(&self, services: &Services, job_id: &str) -> Result<FireOutcome, Failure> {
        local(self.provider.fire_due(services, RStr::from_str(job_id)))
    }

    fn reconcile(&self, deadline: Duration) -> Result<(), Failure> {
        self.prompt(deadline, AnyProvider::reconcile)
    }

    fn status_json(&self) -> Result<String, Failure> {
        Ok(local(self.provider.status_json())?.into_string())
    }
}
