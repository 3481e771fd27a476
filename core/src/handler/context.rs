//! What an in-process run is handed: its job and occurrence, its cancellation token, and its
//! output, which lands in the same per-run file as a command's (`cronhost logs` shows it).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::CancelToken;
use crate::store::Job;

/// One occurrence of an in-process job. Writing to it (it is an [`std::io::Write`]) adds to the
/// run's output, kept and capped as a command's standard output is; writes after the run was
/// recorded (a handler abandoned at its timeout that goes on) are dropped.
///
/// ```
/// use std::io::Write;
/// use cronhost_core::handler::RunContext;
///
/// fn handler(run: &mut RunContext) -> std::io::Result<()> {
///     writeln!(run, "started")?;
///     // `output()` writes to the same place, beside borrows of the context.
///     writeln!(run.output(), "{} (attempt {})", run.job().name, run.attempt())?;
///     if run.cancel_token().is_cancelled() {
///         return Err(std::io::Error::other("stopped early"));
///     }
///     Ok(())
/// }
/// ```
pub struct RunContext {
    pub(crate) job: Job,
    pub(crate) run_id: String,
    pub(crate) scheduled_at: DateTime<Utc>,
    pub(crate) attempt: u32,
    pub(crate) token: CancelToken,
    pub(crate) output: Arc<Mutex<dyn OutputTarget>>,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("job", &self.job.name)
            .field("run_id", &self.run_id)
            .field("scheduled_at", &self.scheduled_at)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl RunContext {
    /// The job, as it was when the occurrence was claimed.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The run's id in the history (`job-id@epoch-ms`).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The nominal instant of the occurrence (a retry's: when the retry was due).
    pub fn scheduled_at(&self) -> DateTime<Utc> {
        self.scheduled_at
    }

    /// 0 for an occurrence's first run, N for its Nth retry.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Fires at the job's timeout and when the host stops; a handler that returns soon after
    /// is recorded as `timed_out` or `cancelled`.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.token
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The run's output, as a handle of its own: it writes beside borrows of the context, and
    /// can be handed to another thread or task of the run.
    pub fn output(&self) -> RunOutput {
        RunOutput(Arc::clone(&self.output))
    }
}

impl std::io::Write for RunContext {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.output().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes to a run's output ([`RunContext::output`]).
#[derive(Clone)]
pub struct RunOutput(Arc<Mutex<dyn OutputTarget>>);

/// Where a run's output goes: the runner's per-run output (`run/in_process.rs`), kept behind
/// this so that handlers need nothing of the runner.
pub(crate) trait OutputTarget: Send {
    /// Add `bytes` to the run's output (dropped once the run is recorded).
    fn write(&mut self, bytes: &[u8]);
}

impl std::fmt::Debug for RunOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunOutput")
    }
}

impl std::io::Write for RunOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
