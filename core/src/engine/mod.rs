//! The engine: what firing means — due scan, claims, running jobs — shared by every provider.

mod cron;
mod housekeeping;
mod processes;
mod together;

use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::store::Run;

pub use cron::{host_name, CronEngine, CronEngineSettings};
pub use housekeeping::PRUNE_BATCH;

/// What firing one job's due occurrence came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FireOutcome {
    /// This caller won the claim and the job was started.
    Fired,
    /// The occurrence was already claimed (another ticker or host won), or is not due.
    ClaimLost,
    /// No job has that id (it was removed, or exhausted its repeats).
    NoSuchJob,
    /// The claim was won but the run was skipped by policy (for example an overlap).
    Skipped,
}

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TickReport {
    /// Jobs whose occurrence was claimed and started.
    pub fired: u32,
    /// Due occurrences skipped by policy.
    pub skipped: u32,
    /// Jobs that could not be evaluated or started; the scan went on past them.
    pub errors: u32,
}

/// An engine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// One job could not be started (recorded on its run as failed).
    #[error("job `{job}`: {source}")]
    Job {
        /// The job's name.
        job: String,
        /// What failed.
        #[source]
        source: crate::run::StartError,
    },
    /// Run outcomes wait to be recorded: the store refuses them for now.
    #[error(transparent)]
    Unrecorded(#[from] crate::run::Unrecorded),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Anything else an engine reports.
    #[error("{0}")]
    Failed(String),
    /// The store's file was deleted, moved, replaced or made unusable under the engine.
    #[error(transparent)]
    StoreLost(#[from] crate::store::StoreLost),
}

/// What the trigger drives. Every method may be called from any thread.
pub trait Engine: Send + Sync {
    /// Claim and start every due occurrence. One failing job never stops the scan of the others.
    fn tick(&self) -> Result<TickReport, EngineError>;

    /// Claim and start `job_id`'s due occurrence.
    fn fire_due(&self, job_id: &str) -> Result<FireOutcome, EngineError>;

    /// The ids of the jobs due now.
    fn due_job_ids(&self) -> Result<Vec<String>, EngineError>;

    /// What the engine counts for `[metrics]`, if it counts anything.
    fn metrics(&self) -> Option<std::sync::Arc<crate::metrics::Metrics>> {
        None
    }

    /// The earliest instant a job is due, if known; the built-in ticker wakes for it.
    fn next_due(&self) -> Option<SystemTime> {
        None
    }

    /// The due occurrences: (job id, nominal instant), earliest first.
    fn due_occurrences(&self) -> Result<Vec<(String, DateTime<Utc>)>, EngineError> {
        Err(EngineError::Failed(
            "this engine does not list occurrences".into(),
        ))
    }

    /// Claim and run exactly this occurrence, if it is the job's due one.
    fn fire_occurrence(
        &self,
        job_id: &str,
        scheduled_at: DateTime<Utc>,
    ) -> Result<FireOutcome, EngineError> {
        let _ = (job_id, scheduled_at);
        Err(EngineError::Failed(
            "this engine does not fire single occurrences".into(),
        ))
    }

    /// Claim and run each of `occurrences` (a job and the instant it is due for), as
    /// [`fire_occurrence`](Engine::fire_occurrence) does one; the outcomes come back in their
    /// order, one occurrence's failure in its own place. An engine with a store claims
    /// occurrences due together in shared transactions and starts them side by side.
    fn fire_occurrences(
        &self,
        occurrences: &[(String, DateTime<Utc>)],
    ) -> Vec<Result<FireOutcome, EngineError>> {
        occurrences
            .iter()
            .map(|(job_id, scheduled_at)| self.fire_occurrence(job_id, *scheduled_at))
            .collect()
    }

    /// Move past this occurrence without running it, recorded as skipped with `reason`.
    fn skip_occurrence(
        &self,
        job_id: &str,
        scheduled_at: DateTime<Utc>,
        reason: crate::store::RunReason,
    ) -> Result<FireOutcome, EngineError> {
        let _ = (job_id, scheduled_at, reason);
        Err(EngineError::Failed(
            "this engine does not skip single occurrences".into(),
        ))
    }

    /// The run of this occurrence on this host, if any.
    fn run_report(
        &self,
        job_id: &str,
        scheduled_at: DateTime<Utc>,
    ) -> Result<Option<Run>, EngineError> {
        let _ = (job_id, scheduled_at);
        Err(EngineError::Failed(
            "this engine keeps no run history".into(),
        ))
    }

    /// The host is stopping: give running jobs until `deadline` to finish, then end them;
    /// whether every run ended in time.
    fn shutdown(&self, _deadline: std::time::Instant) -> bool {
        true
    }

    /// Housekeeping off the fire path (pruning run history and completed one-shots), on the
    /// engine's own cadence and a bounded stretch of work per call; the daemon calls it from
    /// its supervising thread, `cronhost tick` once after its fires.
    fn housekeep(&self) {}

    /// Whether the engine's store is still the file it opened and usable (see
    /// [`Store::check_identity`](crate::store::Store::check_identity)); the daemon checks this
    /// on every supervision round and stops when it is not.
    fn check_store(&self) -> Result<(), crate::store::StoreLost> {
        Ok(())
    }

    /// Whether the job set changed since the last call (another process wrote to the store).
    /// The daemon polls this to tell the provider.
    fn refresh(&self) -> Result<bool, EngineError> {
        Ok(false)
    }
}
