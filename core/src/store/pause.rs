//! Pausing and resuming jobs. Pausing a paused job keeps when and why it was paused (a new
//! reason replaces the old one); resuming a job that is not paused changes nothing. Both say
//! which happened, so the CLI can tell the operator.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::jobs::{get, resolve, Job};
use super::Cached;
use super::{sql, to_ms, validate, Store, StoreError};

/// Whether a pause or a resume changed the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateChange {
    /// It was paused, or resumed.
    Changed,
    /// It was paused already (pausing), or not paused (resuming).
    Unchanged,
}

impl Store {
    /// Pause a job. Paused again, it keeps the instant it was first paused, and its reason
    /// unless `reason` gives a new one.
    pub fn pause_job(
        &self,
        id_or_name: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(Job, StateChange), StoreError> {
        if let Some(reason) = reason {
            validate::check_note("the pause reason", reason)?;
        }
        self.write_jobs(|tx| {
            let job = resolve(tx, id_or_name)?;
            let change = match job.paused_at {
                Some(_) => StateChange::Unchanged,
                None => StateChange::Changed,
            };
            tx.exec_cached(
                "UPDATE jobs SET paused_at = COALESCE(paused_at, ?2), pause_reason = COALESCE(?3, pause_reason) WHERE id = ?1",
                params![job.id, to_ms(now), reason],
            )
            .map_err(sql)?;
            Ok((get(tx, &job.id)?, change))
        })
    }

    /// Resume a paused job: from its next future occurrence, at `at`, or at once (`at = now`).
    /// A job that is not paused is left exactly as it is (`at` included).
    pub fn resume_job(
        &self,
        id_or_name: &str,
        at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(Job, StateChange), StoreError> {
        self.write_jobs(|tx| {
            let job = resolve(tx, id_or_name)?;
            if job.paused_at.is_none() {
                return Ok((job, StateChange::Unchanged));
            }
            let timeline = super::timeline::Timeline::of(&job)?;
            let next_run = match at {
                Some(at) => Some(at),
                None => match job.next_run {
                    Some(next) if next > now => Some(next),
                    // Intervals continue on their own grid (from the old next run), so hosts
                    // sharing the job keep the same instants.
                    Some(next) => timeline.next_future(next, now),
                    None => timeline.next_after(now),
                },
            };
            tx.exec_cached(
                "UPDATE jobs SET paused_at = NULL, pause_reason = NULL, next_run = ?2 WHERE id = ?1",
                params![job.id, next_run.map(to_ms)],
            )
            .map_err(sql)?;
            Ok((get(tx, &job.id)?, StateChange::Changed))
        })
    }
}
