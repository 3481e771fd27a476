//! The engine's housekeeping, off the fire path: completed one-shots and run history pruned on
//! a cadence. Runs go by their job's retention (`cron.run_retention`, `run_retention_days`, or
//! the job's own) in small batches, a transaction each, so a claim waits at most for one
//! batch; a batch's output files are removed before its rows (a failure in between leaves
//! rows to prune again, never files nobody will remove). One call works for a bounded stretch
//! and a pass that is not done goes on at the next call, so a long backlog (a store from
//! before history was bounded) is worked off over many short calls.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::CronEngineSettings;
use crate::store::{RunRetention, Store, StoreError};

/// How often a pass over the run history starts (and completed one-shots are pruned).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Most runs deleted in one transaction.
pub const PRUNE_BATCH: usize = 500;

/// How long one call works before it hands back; the pass goes on at the next call.
const PRUNE_BUDGET: Duration = Duration::from_millis(50);

/// Where the pass over the run history stands.
#[derive(Debug, Default)]
enum Pass {
    /// Done; the next starts when the cadence says so.
    #[default]
    Idle,
    /// Under way: it goes on with the first job after `after` (`None`: the first of all).
    Going {
        after: Option<String>,
        /// Runs pruned so far in this pass.
        pruned: usize,
    },
}

/// How far one call got.
enum Progress {
    /// Every job was seen.
    Done(usize),
    /// The budget ran out; go on with the first job after `after`.
    Stopped {
        after: Option<String>,
        pruned: usize,
    },
}

/// The housekeeping state of one engine.
#[derive(Debug)]
pub(super) struct Housekeeping {
    every: crate::clock::Every,
    pass: Mutex<Pass>,
    /// Whether the last checkpoint failed (told once, and again when it works).
    checkpoint_failing: AtomicBool,
}

impl Housekeeping {
    /// The first pass is due at the first call.
    pub(super) fn new() -> Self {
        Self {
            every: crate::clock::Every::starting_now(PRUNE_EVERY),
            pass: Mutex::new(Pass::Idle),
            checkpoint_failing: AtomicBool::new(false),
        }
    }

    /// One call's worth: start a pass when one is due (pruning completed one-shots first), or
    /// go on with the one under way.
    pub(super) fn run(&self, store: &Store, output_dir: &Path, settings: &CronEngineSettings) {
        self.checkpoint(store);
        let mut pass = self.pass.lock().unwrap_or_else(|p| p.into_inner());
        let (after, so_far) = match std::mem::take(&mut *pass) {
            Pass::Going { after, pruned } => (after, pruned),
            Pass::Idle if self.every.due() => {
                prune_completed(store, settings);
                (None, 0)
            }
            Pass::Idle => return,
        };
        let retention = RunRetention::new(settings.run_retention, settings.run_retention_days);
        let deadline = Instant::now() + PRUNE_BUDGET;
        let now = crate::clock::now();
        match prune_runs(store, output_dir, retention, now, after, deadline) {
            Ok(Progress::Stopped { after, pruned }) => {
                *pass = Pass::Going {
                    after,
                    pruned: so_far + pruned,
                };
            }
            Ok(Progress::Done(pruned)) if so_far + pruned > 0 => log::info!(
                "pruned {} run(s) beyond their jobs' retention, with their output files",
                so_far + pruned
            ),
            Ok(Progress::Done(_)) => {}
            Err(e) => log::warn!("cannot prune the run history: {e}"),
        }
    }

    /// Let the store checkpoint when due; a failure is told once, and its end once.
    fn checkpoint(&self, store: &Store) {
        match store.checkpoint_if_due() {
            Ok(None) => {}
            Ok(Some(_)) => {
                if self.checkpoint_failing.swap(false, Ordering::Relaxed) {
                    log::info!("the job store's write-ahead log is copied into it again");
                }
            }
            Err(e) => {
                if !self.checkpoint_failing.swap(true, Ordering::Relaxed) {
                    log::warn!("cannot copy the job store's write-ahead log into it (it grows until this works): {e}");
                }
            }
        }
    }
}

fn prune_completed(store: &Store, settings: &CronEngineSettings) {
    let retention = chrono::Duration::from_std(settings.completed_retention).unwrap_or_default();
    match store.prune_completed(crate::clock::now() - retention) {
        Ok(0) => {}
        Ok(n) => log::info!("pruned {n} completed job(s)"),
        Err(e) => log::warn!("cannot prune completed jobs: {e}"),
    }
}

/// Prune the jobs after `after`, in id order, until every job was seen or `deadline` passed.
fn prune_runs(
    store: &Store,
    output_dir: &Path,
    defaults: RunRetention,
    now: DateTime<Utc>,
    mut after: Option<String>,
    deadline: Instant,
) -> Result<Progress, StoreError> {
    let mut pruned = 0;
    while let Some(job_id) = store.next_job_with_runs(after.as_deref())? {
        let (count, done) = prune_job(store, output_dir, &job_id, defaults, now, deadline)?;
        pruned += count;
        if !done {
            // This job has more to go: start again from it.
            return Ok(Progress::Stopped { after, pruned });
        }
        after = Some(job_id);
        if Instant::now() >= deadline {
            return Ok(Progress::Stopped { after, pruned });
        }
    }
    Ok(Progress::Done(pruned))
}

/// Prune one job's runs, a batch at a time, until none is left to prune (`true`) or `deadline`
/// passed (`false`). Returns how many went.
fn prune_job(
    store: &Store,
    output_dir: &Path,
    job_id: &str,
    defaults: RunRetention,
    now: DateTime<Utc>,
    deadline: Instant,
) -> Result<(usize, bool), StoreError> {
    let mut pruned = 0;
    loop {
        let batch = store.prunable_runs(job_id, defaults, now, PRUNE_BATCH)?;
        let runs = batch.runs();
        if runs.is_empty() {
            return Ok((pruned, true));
        }
        crate::output_files::remove(output_dir, job_id, runs.iter().map(|r| r.scheduled_at));
        let deleted = store.delete_runs(&batch)?;
        pruned += deleted;
        // A short batch was the last; one that deleted nothing (changed under us) is left
        // to the next pass rather than chosen again and again.
        if runs.len() < PRUNE_BATCH || deleted == 0 {
            return Ok((pruned, true));
        }
        if Instant::now() >= deadline {
            return Ok((pruned, false));
        }
    }
}
