//! Bounded run history: which of a job's ended runs its retention lets go, deleting them in
//! small batches, and the floor that keeps a pruned occurrence from being claimed again.
//!
//! **Exactly once without the rows.** A claim advances the job's next run (a compare-and-set)
//! and inserts the run under the unique key (job, scheduled instant). On the forward path the
//! compare-and-set is enough: the next run only moves forward from the occurrence claimed (to
//! the next natural or the next future occurrence, also when catching up after downtime or
//! dropping what catch-up `all` cannot run), so every later claim is for a later instant than
//! every run row. The key catches what puts the next run back onto an instant that already
//! ran: `jobs resume --at` an instant in the recent past, a resume after the clock was set
//! back, a removed job imported again under its id with the next run its export had. Deleting
//! a row would take that key away; so deleting scheduled runs raises the job's floor in the
//! same transaction (`pruned_runs.through`: the newest scheduled instant pruned), and a claim
//! of an occurrence at or before the floor is refused as already claimed (`claim.rs`), exactly
//! as the key refused it. It is conservative: an instant at or before the floor that never ran
//! counts as claimed too, which only a resume into the pruned past can ask for. The floor
//! outlives the job, as its runs do.
//!
//! Manual runs (`jobs run`) are keyed by the instant they were started, not by an occurrence,
//! so they do not raise the floor: a manual run at 12:00 of a job whose 10:00 occurrence is
//! still due (the daemon was down) must not make 10:00 look claimed once it is pruned.
//!
//! Nothing else a claim decides reads ended runs: the overlap, capacity and catch-up rules
//! count open runs (claimed, queued, running), which are never pruned; repeats are counted on
//! the job row (`completed_count`), and so is what `jobs list` shows (last run, last status).

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{from_ms, sql, to_ms, Cached, RunReason, Store, StoreError};

/// How long after it ended a run is kept whatever its retention says: whoever started it may
/// still be reading its outcome (`jobs run` prints it; a cluster provider copies it to its
/// database on its next scan, at most a minute later).
pub const RECENT_RUN_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

/// How much of a job's run history is kept: its newest `runs` runs, and the runs scheduled in
/// the last `days` days; 0 switches that limit off. A run goes once either limit lets it go,
/// and only once it has ended (a claimed, queued or running run is never pruned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRetention {
    /// The newest this many runs are kept (0: no count limit).
    pub runs: u32,
    /// Runs scheduled this many days ago or later are kept (0: no age limit).
    pub days: u32,
}

impl RunRetention {
    /// Keep the newest `runs` runs scheduled in the last `days` days (0: no such limit).
    pub fn new(runs: u32, days: u32) -> Self {
        Self { runs, days }
    }
}

/// A run its retention lets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunableRun {
    /// The run's id.
    pub id: String,
    /// Its scheduled instant (which also names its output file).
    pub scheduled_at: DateTime<Utc>,
}

/// The oldest of one job's runs that its retention lets go, for [`Store::delete_runs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneBatch {
    job_id: String,
    runs: Vec<PrunableRun>,
    /// Only runs that ended by then go (epoch ms).
    ended_by: i64,
}

impl PruneBatch {
    /// The job.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The runs, oldest first.
    pub fn runs(&self) -> &[PrunableRun] {
        &self.runs
    }
}

/// The newest scheduled instant of `job_id` whose run was pruned (epoch ms): every occurrence
/// up to it counts as claimed.
pub(crate) fn pruned_through(
    conn: &rusqlite::Connection,
    job_id: &str,
) -> Result<Option<i64>, StoreError> {
    conn.row_cached(
        "SELECT through FROM pruned_runs WHERE job_id = ?1",
        params![job_id],
        |r| r.get(0),
    )
    .optional()
    .map_err(sql)
}

impl Store {
    /// The first job id after `after` (in id order; `None`: the first of all) that has runs
    /// in the store, removed jobs included. One index seek.
    pub fn next_job_with_runs(&self, after: Option<&str>) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            conn.row_cached(
                "SELECT min(job_id) FROM runs WHERE job_id > ?1",
                params![after.unwrap_or("")],
                |r| r.get(0),
            )
            .map_err(sql)
        })
    }

    /// Up to `limit` of `job_id`'s runs that its retention lets go at `now`, oldest first:
    /// the job's own retention where it has one (each limit on its own), else `defaults` (a
    /// removed job's runs go by the defaults). Only runs that have ended, and ended at least
    /// [`RECENT_RUN_GRACE`] before `now`.
    pub fn prunable_runs(
        &self,
        job_id: &str,
        defaults: RunRetention,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<PruneBatch, StoreError> {
        let grace = chrono::Duration::from_std(RECENT_RUN_GRACE).unwrap_or_default();
        let ended_by = to_ms(now - grace);
        let runs = self.read(|conn| {
            let own: Option<(Option<u32>, Option<u32>)> = conn
                .row_cached(
                    "SELECT run_retention, run_retention_days FROM jobs WHERE id = ?1",
                    params![job_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql)?;
            let (runs, days) = own.unwrap_or_default();
            let retention =
                RunRetention::new(runs.unwrap_or(defaults.runs), days.unwrap_or(defaults.days));
            // Runs scheduled before the newest `runs` ones, or before `days` ago.
            let by_count = match retention.runs {
                0 => None,
                n => conn
                    .row_cached(
                        "SELECT scheduled_at FROM runs WHERE job_id = ?1
                         ORDER BY scheduled_at DESC LIMIT 1 OFFSET ?2",
                        params![job_id, i64::from(n) - 1],
                        |r| r.get::<_, i64>(0),
                    )
                    .optional()
                    .map_err(sql)?,
            };
            let by_age = match retention.days {
                0 => None,
                days => Some(to_ms(now - chrono::Duration::days(i64::from(days)))),
            };
            let Some(before) = by_count.max(by_age) else {
                return Ok(Vec::new());
            };
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, scheduled_at FROM runs
                     WHERE job_id = ?1 AND scheduled_at < ?2
                     AND status NOT IN ('claimed', 'queued', 'running')
                     AND coalesce(finished_at, claimed_at) <= ?3
                     ORDER BY scheduled_at LIMIT ?4",
                )
                .map_err(sql)?;
            let rows = statement
                .query_map(params![job_id, before, ended_by, limit as i64], |r| {
                    Ok(PrunableRun {
                        id: r.get(0)?,
                        scheduled_at: from_ms(r.get(1)?),
                    })
                })
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)
        })?;
        Ok(PruneBatch {
            job_id: job_id.to_owned(),
            runs,
            ended_by,
        })
    }

    /// Delete the runs of `batch` (from [`Store::prunable_runs`]) in one transaction, and
    /// raise the job's floor to the newest scheduled one deleted (see the module's notes);
    /// returns how many were deleted. One range delete over the batch's instants, held to the
    /// rules that chose them (ended, by the batch's grace), so the write lock is held for a
    /// few milliseconds: the batch is the oldest such runs, so the range holds no other
    /// (a run claimed since, in a past instant put back, is open and stays).
    pub fn delete_runs(&self, batch: &PruneBatch) -> Result<usize, StoreError> {
        let (Some(first), Some(last)) = (batch.runs.first(), batch.runs.last()) else {
            return Ok(0);
        };
        self.write(|tx| {
            let mut statement = tx
                .prepare_cached(
                    "DELETE FROM runs WHERE job_id = ?1 AND scheduled_at BETWEEN ?2 AND ?3
                     AND status NOT IN ('claimed', 'queued', 'running')
                     AND coalesce(finished_at, claimed_at) <= ?4
                     RETURNING scheduled_at, reason",
                )
                .map_err(sql)?;
            let gone = statement
                .query_map(
                    params![
                        batch.job_id,
                        to_ms(first.scheduled_at),
                        to_ms(last.scheduled_at),
                        batch.ended_by
                    ],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .map_err(sql)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql)?;
            let manual = |reason: &Option<String>| {
                reason
                    .as_deref()
                    .is_some_and(|text| matches!(text.parse(), Ok(RunReason::Manual)))
            };
            let through = gone
                .iter()
                .filter(|(_, reason)| !manual(reason))
                .map(|(scheduled_at, _)| *scheduled_at)
                .max();
            if let Some(through) = through {
                tx.exec_cached(
                    "INSERT INTO pruned_runs (job_id, through) VALUES (?1, ?2)
                     ON CONFLICT (job_id) DO UPDATE SET through = max(through, excluded.through)",
                    params![batch.job_id, through],
                )
                .map_err(sql)?;
            }
            Ok(gone.len())
        })
    }

    /// The newest scheduled instant of `job_id` whose run was pruned: every occurrence up to
    /// it counts as claimed.
    pub fn pruned_through(&self, job_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(|conn| pruned_through(conn, job_id).map(|ms| ms.map(from_ms)))
    }
}

#[cfg(test)]
mod tests;
