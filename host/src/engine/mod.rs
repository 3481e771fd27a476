//! The engine: what firing means — due scan, claims, running jobs — shared by every provider.

mod cron;

use std::time::SystemTime;

pub use cron::{host_name, CronEngine, CronEngineSettings};
pub use cronhost_provider_api::{FireOutcome, TickReport};

/// An engine operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// One job could not be run.
    #[error("job `{job}`: {message}")]
    Job {
        /// The job's id.
        job: String,
        /// What failed.
        message: String,
    },
    /// Anything else an engine reports.
    #[error("{0}")]
    Failed(String),
}

/// What the trigger drives. Every method may be called from any thread.
pub trait Engine: Send + Sync {
    /// Claim and start every due occurrence. One failing job never stops the scan of the others.
    fn tick(&self) -> Result<TickReport, EngineError>;

    /// Claim and start `job_id`'s due occurrence.
    fn fire_due(&self, job_id: &str) -> Result<FireOutcome, EngineError>;

    /// The ids of the jobs due now.
    fn due_job_ids(&self) -> Result<Vec<String>, EngineError>;

    /// The earliest instant a job is due, if known; the built-in ticker wakes for it.
    fn next_due(&self) -> Option<SystemTime> {
        None
    }

    /// The host is stopping: give running jobs until `deadline` to finish, then end them.
    fn shutdown(&self, _deadline: std::time::Instant) {}

    /// Whether the job set changed since the last call (another process wrote to the store).
    /// The daemon polls this to tell the provider.
    fn refresh(&self) -> Result<bool, EngineError> {
        Ok(false)
    }
}
