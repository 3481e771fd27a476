//! Reading a job set of any size without holding it: counts in SQL, pages in id order, a walk
//! row by row, and the few jobs `status` names. Nothing here loads every job at once (see the
//! invariant "no path holds every job" in `docs/ARCHITECTURE.md`).

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::jobs::{is_job_id, job_from_row, Job, JOB_COLUMNS};
use super::{from_ms, sql, to_ms, RunStatus, Store, StoreError};
use crate::schedule::Schedule;

/// A job that fires: enabled, not paused, not completed ([`Job::is_active`] in SQL).
const ACTIVE: &str = "enabled = 1 AND paused_at IS NULL AND completed_at IS NULL";

/// The most jobs one page holds ([`Store::jobs_page`]).
pub const MAX_PAGE: usize = 100_000;

/// Counts over the job set, taken in SQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobCounts {
    /// Every job.
    pub total: u64,
    /// Enabled, unpaused, uncompleted jobs.
    pub active: u64,
    /// The earliest next run among the active ones.
    pub next_run: Option<DateTime<Utc>>,
}

/// One page of jobs in id order ([`Store::jobs_page`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct JobsPage {
    /// The jobs, oldest id first.
    pub jobs: Vec<Job>,
    /// The id to page on from (`--after`), when more jobs follow.
    pub next_after: Option<String>,
}

/// The jobs `status` names, at most a limit of each kind, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct JobsInTrouble {
    /// Jobs that should fire whose last run failed or whose stored schedule cannot be read
    /// (active ones, and uncompleted ones paused because of their schedule).
    pub failing: Vec<Job>,
    /// How many such jobs there are.
    pub failing_count: u64,
    /// Active jobs whose next run is before the instant asked about.
    pub overdue: Vec<Job>,
    /// How many such jobs there are.
    pub overdue_count: u64,
}

/// Every run status that counts as a failure, as stored, in a JSON array (for `json_each`).
fn failure_statuses() -> String {
    let failures: Vec<&str> = RunStatus::ALL
        .into_iter()
        .filter(|s| s.is_failure())
        .map(RunStatus::as_str)
        .collect();
    serde_json::to_string(&failures).unwrap_or_else(|_| "[]".into())
}

impl Store {
    /// How many jobs there are, how many are active and the earliest next run among those:
    /// one aggregate query, whatever the job count.
    pub fn job_counts(&self) -> Result<JobCounts, StoreError> {
        self.read(|conn| {
            let total: i64 = conn
                .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
                .map_err(sql)?;
            let (active, next_run): (i64, Option<i64>) = conn
                .query_row(
                    &format!("SELECT count(*), min(next_run) FROM jobs WHERE {ACTIVE}"),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(sql)?;
            Ok(JobCounts {
                total: total.max(0) as u64,
                active: active.max(0) as u64,
                next_run: next_run.map(from_ms),
            })
        })
    }

    /// At most `limit` jobs (1 to [`MAX_PAGE`]) in id order (the order they were created in),
    /// starting after the job with id `after` (which need not exist any more); only active
    /// ones unless `all`. A job keeps its place between pages (ids never change), so paging
    /// on with [`JobsPage::next_after`] sees every job that was there throughout exactly once.
    pub fn jobs_page(
        &self,
        after: Option<&str>,
        limit: usize,
        all: bool,
    ) -> Result<JobsPage, StoreError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(StoreError::Invalid(format!(
                "a page holds 1 to {MAX_PAGE} jobs, not {limit}"
            )));
        }
        if let Some(after) = after.filter(|id| !is_job_id(id)) {
            return Err(StoreError::Invalid(format!(
                "`{}` is not a job id (`j` and base-36 digits, as `jobs list` prints them)",
                after.escape_debug()
            )));
        }
        let after = after.unwrap_or("");
        let filter = if all { "1" } else { ACTIVE };
        // Two index ranges, the rest of the ids as long as `after` and then the longer ones
        // (a row-value comparison on the expression index would scan it from the start).
        let mut jobs = self.read(|conn| {
            let mut jobs = Vec::with_capacity(limit + 1);
            for (range, order) in [
                ("length(id) = length(?1) AND id > ?1", "id"),
                ("length(id) > length(?1)", "length(id), id"),
            ] {
                let mut statement = conn
                    .prepare_cached(&format!(
                        "SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_in_id_order
                         WHERE {range} AND {filter} ORDER BY {order} LIMIT ?2"
                    ))
                    .map_err(sql)?;
                let wanted = (limit + 1 - jobs.len()) as i64;
                let rows = statement
                    .query_map(params![after, wanted], job_from_row)
                    .map_err(sql)?;
                for row in rows {
                    jobs.push(row.map_err(sql)?);
                }
                if jobs.len() > limit {
                    break;
                }
            }
            Ok(jobs)
        })?;
        let more = jobs.len() > limit;
        jobs.truncate(limit);
        let next_after = more.then(|| jobs.last().map(|j| j.id.clone())).flatten();
        Ok(JobsPage { jobs, next_after })
    }

    /// Hand every job (only active ones unless `all`) to `visit`, one row at a time, active
    /// first by next run, then the rest by name; `visit` stops the walk by breaking. Memory
    /// stays flat whatever the job count (SQLite sorts in its own bounded space), but the
    /// store's connection is held for the walk: for commands, never the daemon's store.
    pub fn each_job(
        &self,
        all: bool,
        mut visit: impl FnMut(Job) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let filter = if all { "1" } else { ACTIVE };
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE {filter}
                     ORDER BY next_run IS NULL, next_run, name_key"
                ))
                .map_err(sql)?;
            let mut rows = statement.query([]).map_err(sql)?;
            while let Some(row) = rows.next().map_err(sql)? {
                if visit(job_from_row(row).map_err(sql)?).is_break() {
                    break;
                }
            }
            Ok(())
        })
    }

    /// The jobs `status` names: failing ones (see [`JobsInTrouble::failing`]) and, when
    /// `overdue_before` is given, active ones due before it; at most `limit` of each, with
    /// the full counts. Each stored schedule is parsed once however many jobs share it.
    pub fn jobs_in_trouble(
        &self,
        overdue_before: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<JobsInTrouble, StoreError> {
        self.read(|conn| {
            let mut unreadable = Vec::new();
            {
                let mut statement = conn
                    .prepare("SELECT DISTINCT schedule FROM jobs WHERE completed_at IS NULL")
                    .map_err(sql)?;
                let mut rows = statement.query([]).map_err(sql)?;
                while let Some(row) = rows.next().map_err(sql)? {
                    let schedule: String = row.get(0).map_err(sql)?;
                    if Schedule::from_canonical(&schedule).is_err() {
                        unreadable.push(schedule);
                    }
                }
            }
            let unreadable = serde_json::to_string(&unreadable).unwrap_or_else(|_| "[]".into());
            let failing_where = format!(
                "completed_at IS NULL AND (({ACTIVE} AND last_status IN (SELECT value FROM json_each(?1)))
                 OR schedule IN (SELECT value FROM json_each(?2)))"
            );
            let statuses = failure_statuses();
            let limit = limit as i64;
            let failing = select(
                conn,
                &format!("{failing_where} ORDER BY name_key LIMIT ?3"),
                params![statuses, unreadable, limit],
            )?;
            let failing_count = count(conn, &failing_where, params![statuses, unreadable])?;
            let (overdue, overdue_count) = match overdue_before {
                Some(before) => {
                    let overdue_where = format!("{ACTIVE} AND next_run < ?1");
                    (
                        select(
                            conn,
                            &format!("{overdue_where} ORDER BY next_run LIMIT ?2"),
                            params![to_ms(before), limit],
                        )?,
                        count(conn, &overdue_where, params![to_ms(before)])?,
                    )
                }
                None => (Vec::new(), 0),
            };
            Ok(JobsInTrouble {
                failing,
                failing_count,
                overdue,
                overdue_count,
            })
        })
    }
}

/// The jobs matching `condition` (with its order and limit).
fn select(
    conn: &rusqlite::Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Job>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {condition}"))
        .map_err(sql)?;
    let rows = statement.query_map(params, job_from_row).map_err(sql)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql)
}

/// How many jobs match `condition`.
fn count(
    conn: &rusqlite::Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<u64, StoreError> {
    conn.prepare_cached(&format!("SELECT count(*) FROM jobs WHERE {condition}"))
        .map_err(sql)?
        .query_row(params, |r| r.get::<_, i64>(0))
        .optional()
        .map_err(sql)
        .map(|n| n.unwrap_or(0).max(0) as u64)
}
