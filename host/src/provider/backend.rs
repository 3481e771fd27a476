//! Where a provider runs, as the guard sees it: one trait, [`ProviderBackend`], with the
//! in-process backend here and the isolated one in [`crate::isolate`]. A new backend
//! implements the trait and touches no guard method.

use cronhost_core::StopFlag;
use cronhost_provider_api::abi_stable::std_types::{RResult, RStr, RString};
use cronhost_provider_api::ffi::{AnyProvider, StartOptions};
use cronhost_provider_api::FireOutcome;

use super::services::Services;

/// Why a backend call failed, before the guard names the provider and the call.
#[derive(Debug)]
pub enum Failure {
    /// The provider returned an error.
    Error(String),
    /// Its process is gone.
    Died(String),
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

    /// Whether the provider can run here.
    fn is_available(&self) -> Result<bool, Failure>;

    /// Start it; blocks until stopped for a blocking provider.
    fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), Failure>;

    /// Tell it to release what it holds.
    fn stop(&self) -> Result<(), Failure>;

    /// Tell it the job set changed.
    fn on_jobs_changed(&self) -> Result<(), Failure>;

    /// Ask it to fire `job_id`.
    fn fire_due(&self, services: &Services, job_id: &str) -> Result<FireOutcome, Failure>;

    /// Ask it to reconcile its external schedule.
    fn reconcile(&self) -> Result<(), Failure>;

    /// Its status JSON (empty: none).
    fn status_json(&self) -> Result<String, Failure>;
}

/// A provider loaded into this process.
pub struct InProcess(pub AnyProvider);

/// An in-process call's result, as the guard takes it.
fn local<T>(result: RResult<T, RString>) -> Result<T, Failure> {
    result
        .into_result()
        .map_err(|e| Failure::Error(e.into_string()))
}

impl ProviderBackend for InProcess {
    fn abandonment(&self) -> Abandonment {
        Abandonment::Quarantine
    }

    fn abandon(&self, _reason: &str) {}

    fn is_available(&self) -> Result<bool, Failure> {
        local(self.0.is_available())
    }

    fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), Failure> {
        local(
            self.0
                .start(services, super::stop::stop_signal(stop), options),
        )
    }

    fn stop(&self) -> Result<(), Failure> {
        local(self.0.stop())
    }

    fn on_jobs_changed(&self) -> Result<(), Failure> {
        local(self.0.on_jobs_changed())
    }

    fn fire_due(&self, services: &Services, job_id: &str) -> Result<FireOutcome, Failure> {
        local(self.0.fire_due(services, RStr::from_str(job_id)))
    }

    fn reconcile(&self) -> Result<(), Failure> {
        local(self.0.reconcile())
    }

    fn status_json(&self) -> Result<String, Failure> {
        Ok(local(self.0.status_json())?.into_string())
    }
}
