//! The isolated provider as a [`ProviderBackend`]: each guard call becomes a wire call to the
//! provider's process, so only this module and its siblings speak the protocol.

use std::time::Duration;

use cronhost_core::StopFlag;
use cronhost_provider_api::ffi::StartOptions;
use cronhost_provider_api::FireOutcome;

use super::protocol::{Answer, Call};
use super::remote::{unexpected, RemoteError, RemoteProvider};
use crate::provider::{Abandonment, Failure, ProviderBackend, Services};

impl From<RemoteError> for Failure {
    fn from(error: RemoteError) -> Self {
        match error {
            RemoteError::Failed(message) => Failure::Error(message),
            RemoteError::Died(reason) => Failure::Died(reason),
            RemoteError::Hung => Failure::Died("it hung while constructing the provider".into()),
            RemoteError::Missed => Failure::Missed,
        }
    }
}

/// Send `call`, take the answer `pick` expects; wait at most `deadline` when there is one.
fn ask<T>(
    provider: &RemoteProvider,
    call: Call,
    deadline: Option<Duration>,
    pick: impl FnOnce(Answer) -> Result<T, Answer>,
) -> Result<T, Failure> {
    let answer = provider.call(call, deadline)?;
    pick(answer).map_err(|other| unexpected(&other).into())
}

/// For calls that answer nothing.
fn done(answer: Answer) -> Result<(), Answer> {
    match answer {
        Answer::Done => Ok(()),
        other => Err(other),
    }
}

impl ProviderBackend for RemoteProvider {
    fn abandonment(&self) -> Abandonment {
        Abandonment::KillProcess
    }

    fn abandon(&self, reason: &str) {
        RemoteProvider::abandon(self, reason);
    }

    fn process_id(&self) -> Option<u32> {
        self.pid()
    }

    fn prepare(&self) -> Result<(), Failure> {
        Ok(self.ensure_running()?)
    }

    fn is_available(&self, deadline: Duration) -> Result<bool, Failure> {
        ask(
            self,
            Call::IsAvailable,
            Some(deadline),
            |answer| match answer {
                Answer::Available(available) => Ok(available),
                other => Err(other),
            },
        )
    }

    fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), Failure> {
        Ok(RemoteProvider::start(self, services, stop, options)?)
    }

    fn stop(&self, deadline: Duration) -> Result<(), Failure> {
        ask(self, Call::Stop, Some(deadline), done)
    }

    fn on_jobs_changed(&self, deadline: Duration) -> Result<(), Failure> {
        ask(self, Call::OnJobsChanged, Some(deadline), done)
    }

    fn fire_due(&self, services: &Services, job_id: &str) -> Result<FireOutcome, Failure> {
        Ok(RemoteProvider::fire_due(self, services, job_id)?)
    }

    fn reconcile(&self, deadline: Duration) -> Result<(), Failure> {
        ask(self, Call::Reconcile, Some(deadline), done)
    }

    fn status_json(&self) -> Result<String, Failure> {
        ask(self, Call::Status, None, |answer| match answer {
            Answer::Status(text) => Ok(text),
            other => Err(other),
        })
    }
}
