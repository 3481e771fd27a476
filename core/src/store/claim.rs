//! Claiming an occurrence: one transaction reads the job and its open runs, asks the claim
//! policy ([`super::policy`]) what happens, advances the job's next run and records the run.
//! Two claimers racing for one occurrence: exactly one wins (compare-and-set on next_run, plus
//! the unique (job id, scheduled instant) run key).

use super::Cached;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::jobs::{get, Job};
use super::policy::{self, Decision, OpenRuns, Target};
use super::runs::{run_id, RunReason, RunStatus};
use super::{sql, to_ms, Store, StoreError};

/// A claimed occurrence, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The run's id.
    pub run_id: String,
    /// The job as it was when claimed.
    pub job: Job,
    /// The nominal instant (a retry's: when the retry was due).
    pub scheduled_at: DateTime<Utc>,
    /// 0 for an occurrence's first run, N for its Nth retry.
    pub attempt: u32,
}

/// What a claim attempt did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClaimOutcome {
    /// Won: start the command.
    Run(Claim),
    /// Won, but the previous run is still going: it starts when that one ends.
    Queued(Claim),
    /// Won, and recorded as skipped for this reason.
    Skipped {
        /// The job.
        job_id: String,
        /// Its name, for log lines.
        job_name: String,
        /// The occurrence.
        scheduled_at: DateTime<Utc>,
        /// Why.
        reason: RunReason,
    },
    /// Not due (any more): another claimer won, or the job is paused or completed.
    Lost,
    /// `cron.max_parallel_jobs` runs are going; the occurrence stays due.
    AtCapacity,
    /// No such job.
    NoSuchJob,
}

/// Who is claiming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimer {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// `cron.max_parallel_jobs` (0 = no cap).
    pub max_parallel: u32,
}

impl Store {
    /// Ids of the jobs due at `now` (active, next run at or before `now`), earliest first.
    pub fn due_job_ids(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Ok(self
            .due_occurrences(now)?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// The earliest next run among active jobs, leaving out jobs that are due but wait for
    /// their running run (catch-up `all`), so a ticker does not wake for them in a loop.
    ///
    /// The `jobs_due` index is the timer queue: this walks it in order of next run and stops
    /// at the first active job: O(log n) in the number of jobs, plus the paused jobs and the
    /// due jobs waiting for their run that it steps over.
    pub fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.read(|conn| {
            conn.row_cached(
                "SELECT min(at) FROM (
                   SELECT * FROM (SELECT next_run AS at FROM jobs j INDEXED BY jobs_due
                     WHERE next_run IS NOT NULL AND enabled = 1 AND paused_at IS NULL AND completed_at IS NULL
                     AND (next_run > ?1 OR NOT EXISTS (
                         SELECT 1 FROM runs r WHERE r.job_id = j.id AND r.status IN ('claimed', 'running', 'queued')
                           AND r.status IN ('claimed', 'running')))
                     ORDER BY next_run LIMIT 1)
                   UNION ALL
                   SELECT * FROM (SELECT retry_at AS at FROM jobs j INDEXED BY jobs_retry
                     WHERE retry_at IS NOT NULL AND enabled = 1 AND paused_at IS NULL
                     AND (retry_at > ?1 OR NOT EXISTS (
                         SELECT 1 FROM runs r WHERE r.job_id = j.id AND r.status IN ('claimed', 'running', 'queued')
                           AND r.status IN ('claimed', 'running')))
                     ORDER BY retry_at LIMIT 1))
                 WHERE at IS NOT NULL",
                params![to_ms(now)],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(|ms| ms.flatten().map(super::from_ms))
            .map_err(sql)
        })
    }

    /// Claim a manual run of a job (`jobs run`) at `now`: its own occurrence, outside the
    /// schedule, so next_run and the repeat count stay as they are (last_run becomes `now`). Refused for a paused or
    /// completed job, and while the job runs unless its overlap policy is `allow`.
    pub fn claim_manual(
        &self,
        id_or_name: &str,
        now: DateTime<Utc>,
        claimer: &Claimer,
    ) -> Result<ClaimOutcome, StoreError> {
        self.write(|tx| {
            let job = super::jobs::resolve(tx, id_or_name)?;
            policy::check_manual(&job, open_runs(tx, &job.id, 0)?.running)?;
            let run_id = run_id(&job.id, now);
            let inserted = tx.exec_cached(
                "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, status, reason, host, pid)
                 VALUES (?1, ?2, ?3, ?3, 'claimed', 'manual', ?4, ?5)",
                params![run_id, job.id, to_ms(now), claimer.host, claimer.pid],
            );
            match inserted {
                Ok(_) => {
                    // Its last run is this one, as for a scheduled fire; its next run and
                    // repeat count stay.
                    tx.exec_cached(
                        "UPDATE jobs SET last_run = ?2 WHERE id = ?1",
                        params![job.id, to_ms(now)],
                    )
                    .map_err(sql)?;
                    Ok(ClaimOutcome::Run(Claim {
                        run_id,
                        job,
                        scheduled_at: now,
                        attempt: 0,
                    }))
                }
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Ok(ClaimOutcome::Lost)
                }
                Err(e) => Err(sql(e)),
            }
        })
    }

    /// Claim `job_id`'s due occurrence at `now`, applying its catch-up, overlap and repeat
    /// policies, all in one transaction.
    pub fn claim(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
        claimer: &Claimer,
    ) -> Result<ClaimOutcome, StoreError> {
        self.write(|tx| claim_in(tx, job_id, now, claimer, &Target::Due))
    }

    /// Claim the due occurrence of each of `job_ids` at `now`, as [`Store::claim`] does each,
    /// in one transaction: jobs due together cost one commit. One job's error, or a panic
    /// while claiming it, is its own (returned in its place); the others' claims still hold.
    pub fn claim_each(
        &self,
        job_ids: &[String],
        now: DateTime<Utc>,
        claimer: &Claimer,
    ) -> Vec<Result<ClaimOutcome, StoreError>> {
        self.write_each(job_ids, |tx, job_id| {
            claim_in(tx, job_id, now, claimer, &Target::Due)
        })
    }

    /// Claim exactly the occurrence of `job_id` at `scheduled` (it must be the job's due one).
    pub fn claim_occurrence(
        &self,
        job_id: &str,
        scheduled: DateTime<Utc>,
        now: DateTime<Utc>,
        claimer: &Claimer,
    ) -> Result<ClaimOutcome, StoreError> {
        self.write(|tx| claim_in(tx, job_id, now, claimer, &Target::Exactly(scheduled)))
    }

    /// Claim each of `occurrences` (job id, its due instant), as [`Store::claim_occurrence`]
    /// does one, in one transaction: occurrences due together cost one commit. One
    /// occurrence's error, or a panic while claiming it, is its own (returned in its place);
    /// the others' claims still hold.
    pub fn claim_occurrences(
        &self,
        occurrences: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
        claimer: &Claimer,
    ) -> Vec<Result<ClaimOutcome, StoreError>> {
        self.write_each(occurrences, |tx, (job_id, scheduled)| {
            claim_in(tx, job_id, now, claimer, &Target::Exactly(*scheduled))
        })
    }

    /// Move past the occurrence of `job_id` at `scheduled` without running it: it advances as
    /// if claimed, and is recorded as `skipped` with `reason` (e.g. it ran on another host).
    pub fn skip_occurrence(
        &self,
        job_id: &str,
        scheduled: DateTime<Utc>,
        reason: RunReason,
        now: DateTime<Utc>,
        claimer: &Claimer,
    ) -> Result<ClaimOutcome, StoreError> {
        self.write(|tx| claim_in(tx, job_id, now, claimer, &Target::Skip(scheduled, reason)))
    }

    /// The due occurrences at `now`: (job id, scheduled instant), earliest first; a job's due
    /// retry is one too (its instant is the retry's).
    pub fn due_occurrences(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT id, next_run AS at FROM jobs WHERE enabled = 1 AND paused_at IS NULL AND completed_at IS NULL
                     AND next_run IS NOT NULL AND next_run <= ?1
                     UNION ALL
                     SELECT id, retry_at AS at FROM jobs INDEXED BY jobs_retry WHERE enabled = 1 AND paused_at IS NULL
                     AND retry_at IS NOT NULL AND retry_at <= ?1
                     ORDER BY at",
                )
                .map_err(sql)?;
            let rows = statement
                .query_map(params![to_ms(now)], |r| Ok((r.get::<_, String>(0)?, super::from_ms(r.get(1)?))))
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)
        })
    }
}

/// This job's open runs, and with a cap (`max_parallel` > 0) those of every job.
fn open_runs(
    tx: &Transaction<'_>,
    job_id: &str,
    max_parallel: u32,
) -> Result<OpenRuns, StoreError> {
    let (running, queued) = tx
        .row_cached(
            "SELECT count(*) FILTER (WHERE status IN ('claimed', 'running')),
                    count(*) FILTER (WHERE status = 'queued')
             FROM runs WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued')",
            params![job_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(sql)?;
    let active_everywhere = if max_parallel > 0 {
        Some(
            tx.row_cached(
                "SELECT count(*) FROM runs WHERE status IN ('claimed', 'running', 'queued') AND status IN ('claimed', 'running')",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?,
        )
    } else {
        None
    };
    Ok(OpenRuns {
        running,
        queued,
        active_everywhere,
    })
}

fn claim_in(
    tx: &Transaction<'_>,
    job_id: &str,
    now: DateTime<Utc>,
    claimer: &Claimer,
    target: &Target,
) -> Result<ClaimOutcome, StoreError> {
    let job = match get(tx, job_id) {
        Ok(job) => job,
        Err(StoreError::NoSuchJob(_)) => return Ok(ClaimOutcome::NoSuchJob),
        Err(e) => return Err(e),
    };
    let regular = policy::due_occurrence(&job, now, target);
    // A due retry goes before an occurrence due at or after it, as long as it can run now
    // (else the occurrence is claimed under the usual rules and the retry waits its turn).
    if let Some(retry) = policy::due_retry(&job, now, target) {
        let first = regular.is_none_or(|scheduled| retry.at <= scheduled);
        let open = open_runs(tx, &job.id, claimer.max_parallel)?;
        let can_run =
            policy::decide_retry(&job, open, claimer.max_parallel) == policy::RetryDecision::Claim;
        if first && (can_run || regular.is_none()) {
            return claim_retry(tx, job, retry, now, claimer);
        }
    }
    let Some(scheduled) = regular else {
        return Ok(ClaimOutcome::Lost);
    };
    let timeline = match super::timeline::Timeline::of(&job) {
        Ok(timeline) => timeline,
        // A schedule this version cannot read (stored by another version, or edited by hand)
        // never fires: the job is paused, saying why, so the others fire and every listing
        // and `status` show it, instead of an error on every tick.
        Err(e) => {
            let reason = format!(
                "cannot fire: {e}; give it a schedule with `cronhost jobs edit {} --schedule ...`, then `cronhost jobs resume {}`",
                job.id, job.id
            );
            log::error!("job={}: {reason}", job.name);
            tx.exec_cached(
                "UPDATE jobs SET paused_at = ?2, pause_reason = ?3 WHERE id = ?1 AND paused_at IS NULL",
                params![job.id, to_ms(now), reason],
            )
            .map_err(sql)?;
            return Ok(ClaimOutcome::Lost);
        }
    };
    let open = open_runs(tx, &job.id, claimer.max_parallel)?;
    let verdict = match policy::decide(
        &job,
        &timeline,
        scheduled,
        now,
        target,
        open,
        claimer.max_parallel,
    ) {
        Decision::Claim(verdict) => verdict,
        Decision::Lost => return Ok(ClaimOutcome::Lost),
        Decision::AtCapacity => return Ok(ClaimOutcome::AtCapacity),
        Decision::DropMissed { scheduled, resume } => {
            log::warn!(
                "job={} scheduled={scheduled}: more than {} occurrences missed; the older ones are dropped",
                job.name,
                policy::CATCH_UP_ALL_CAP
            );
            tx.exec_cached(
                "UPDATE jobs SET next_run = ?3 WHERE id = ?1 AND next_run = ?2",
                params![job.id, to_ms(scheduled), resume.map(to_ms)],
            )
            .map_err(sql)?;
            return Ok(ClaimOutcome::Lost);
        }
    };
    record(tx, job, now, claimer, verdict)
}

/// Claim a job's due retry: the run of attempt `retry.attempt`, keyed by the retry's own
/// instant, which is never one of the job's occurrences ([`super::runs`] moves it off them),
/// so it never takes another's key. It keeps to the overlap and capacity rules: while a run
/// of the job goes on it waits; the job's next occurrences go on beside it.
fn claim_retry(
    tx: &Transaction<'_>,
    job: Job,
    retry: super::PendingRetry,
    now: DateTime<Utc>,
    claimer: &Claimer,
) -> Result<ClaimOutcome, StoreError> {
    let open = open_runs(tx, &job.id, claimer.max_parallel)?;
    match policy::decide_retry(&job, open, claimer.max_parallel) {
        policy::RetryDecision::Wait => return Ok(ClaimOutcome::Lost),
        policy::RetryDecision::AtCapacity => return Ok(ClaimOutcome::AtCapacity),
        policy::RetryDecision::Claim => {}
    }
    let updated = tx
        .exec_cached(
            "UPDATE jobs SET retry_at = NULL, retry_attempt = 0, retry_of = NULL, last_run = ?2
             WHERE id = ?1 AND retry_at = ?2",
            params![job.id, to_ms(retry.at)],
        )
        .map_err(sql)?;
    if updated != 1 {
        return Ok(ClaimOutcome::Lost);
    }
    let run_id = run_id(&job.id, retry.at);
    let inserted = tx.exec_cached(
        "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, status, reason, host, pid, attempt, retry_of)
         VALUES (?1, ?2, ?3, ?4, 'claimed', 'retry', ?5, ?6, ?7, ?8)",
        params![run_id, job.id, to_ms(retry.at), to_ms(now), claimer.host, claimer.pid, retry.attempt, to_ms(retry.of)],
    );
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            log::warn!(
                "job={}: retry {run_id} was already claimed; not running it again",
                job.name
            );
            return Ok(ClaimOutcome::Lost);
        }
        Err(e) => return Err(sql(e)),
    }
    Ok(ClaimOutcome::Run(Claim {
        run_id,
        scheduled_at: retry.at,
        attempt: retry.attempt,
        job,
    }))
}

/// Write a won claim: advance the job (compare-and-set on its next run) and insert the run.
fn record(
    tx: &Transaction<'_>,
    job: Job,
    now: DateTime<Utc>,
    claimer: &Claimer,
    verdict: policy::Verdict,
) -> Result<ClaimOutcome, StoreError> {
    let scheduled = verdict.scheduled;
    let fires = verdict.fires();
    let completed_at = verdict.next_run.is_none().then_some(now);
    let updated = tx
        .exec_cached(
            "UPDATE jobs SET next_run = ?3, completed_count = ?4, completed_at = ?5, last_run = CASE WHEN ?6 THEN ?2 ELSE last_run END
             WHERE id = ?1 AND next_run = ?2",
            params![job.id, to_ms(scheduled), verdict.next_run.map(to_ms), verdict.completed_count, completed_at.map(to_ms), fires],
        )
        .map_err(sql)?;
    if updated != 1 {
        return Ok(ClaimOutcome::Lost);
    }
    // An occurrence whose run row was pruned counts as claimed, as the row did (see
    // store/history.rs): the floor stands in for the unique key below.
    if let Some(through) = super::history::pruned_through(tx, &job.id)? {
        if to_ms(scheduled) <= through {
            log::warn!(
                "job={} scheduled={scheduled}: the job's run history up to {} was pruned, so this occurrence counts as claimed; not running it again",
                job.name,
                super::from_ms(through)
            );
            return Ok(ClaimOutcome::Lost);
        }
    }
    let run_id = run_id(&job.id, scheduled);
    let inserted = tx.exec_cached(
        "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, status, reason, host, pid, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?5 = 'skipped' THEN ?4 END)",
        params![run_id, job.id, to_ms(scheduled), to_ms(now), verdict.status, verdict.reason, claimer.host, claimer.pid],
    );
    match inserted {
        Ok(_) => {}
        // Someone already has this occurrence (e.g. after a backward clock jump, or an
        // instant given again by `jobs resume --at`): never twice. The advance of next_run
        // stays, so the job does not stay stuck on it.
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            log::warn!("job={} scheduled={scheduled}: occurrence {run_id} was already claimed; not running it again", job.name);
            return Ok(ClaimOutcome::Lost);
        }
        Err(e) => return Err(sql(e)),
    }
    if let Some(reason) = verdict.reason {
        tx.exec_cached(
            "UPDATE jobs SET last_status = 'skipped' WHERE id = ?1",
            params![job.id],
        )
        .map_err(sql)?;
        return Ok(ClaimOutcome::Skipped {
            job_id: job.id,
            job_name: job.name,
            scheduled_at: scheduled,
            reason,
        });
    }
    let claim = Claim {
        run_id,
        job,
        scheduled_at: scheduled,
        attempt: 0,
    };
    Ok(match verdict.status {
        RunStatus::Queued => ClaimOutcome::Queued(claim),
        _ => ClaimOutcome::Run(claim),
    })
}
