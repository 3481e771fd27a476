//! How a claimed run is executed: by default the job's command as a child process; an
//! application embedding the host can run jobs in-process instead, with a [`JobRunner`].

use chrono::{DateTime, Utc};

use crate::store::Job;

/// One occurrence handed to a [`JobRunner`].
#[derive(Debug)]
pub struct JobRun<'a> {
    /// The job, as it was when the occurrence was claimed.
    pub job: &'a Job,
    /// The nominal instant of the occurrence.
    pub scheduled_at: DateTime<Utc>,
    /// The run's id in the history (`job-id@epoch-ms`).
    pub run_id: &'a str,
}

/// How an in-process run went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobOutcome {
    /// It did its work.
    Succeeded,
    /// It failed; the text is recorded on the run and shown by `cronhost runs`.
    Failed(String),
}

/// Runs jobs in the embedding application's process instead of as child processes.
///
/// `run` is called on a thread of its own for every occurrence the host claims, with the
/// same exactly-once, overlap and catch-up rules as command jobs; it blocks until the work is
/// done. A panic is caught and recorded as a failed run. A job's `--timeout` cannot stop a
/// thread: an in-process job is expected to bound its own work. Closures implement it:
///
/// ```
/// use cronhost_core::{JobOutcome, JobRun, JobRunner};
///
/// let runner = |run: &JobRun<'_>| match run.job.name.as_str() {
///     "report" => JobOutcome::Succeeded,
///     other => JobOutcome::Failed(format!("no in-process job named {other}")),
/// };
/// fn takes(_: impl JobRunner) {}
/// takes(runner);
/// ```
pub trait JobRunner: Send + Sync + 'static {
    /// Run one occurrence to completion and say how it went.
    fn run(&self, run: &JobRun<'_>) -> JobOutcome;
}

impl<F> JobRunner for F
where
    F: Fn(&JobRun<'_>) -> JobOutcome + Send + Sync + 'static,
{
    fn run(&self, run: &JobRun<'_>) -> JobOutcome {
        self(run)
    }
}
