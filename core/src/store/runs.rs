//! Run history: one row per occurrence, from claim to outcome.

use super::Cached;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{from_ms, sql, to_ms, Store, StoreError};

/// Where a run stands. Stored (and shown) as its snake_case name (`timed_out`).
///
/// ```
/// use cronhost_core::store::RunStatus;
///
/// assert_eq!("timed_out".parse::<RunStatus>(), Ok(RunStatus::TimedOut));
/// assert_eq!(RunStatus::Succeeded.to_string(), "succeeded");
/// assert!("done".parse::<RunStatus>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunStatus {
    /// Claimed; the command is being started.
    Claimed,
    /// Waiting for the job's previous run to finish (overlap `queue-one`).
    Queued,
    /// The command is running.
    Running,
    /// Exited 0.
    Succeeded,
    /// Exited non-zero, was killed by a signal, or could not start.
    Failed,
    /// Killed at its timeout.
    TimedOut,
    /// Not run, by policy (`reason` says which).
    Skipped,
    /// Its owner died while it was claimed or running; never re-run by itself.
    Unknown,
    /// Ended by the host's shutdown before it finished (an in-process run whose cancellation
    /// token fired as the host stopped). Neither a success nor the job's failure: never
    /// retried, and the failure streak stays as it was.
    Cancelled,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
            Self::Cancelled => "cancelled",
        }
    }

    /// Every status, in the order of a run's life.
    pub const ALL: [Self; 9] = [
        Self::Claimed,
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Skipped,
        Self::Unknown,
        Self::Cancelled,
    ];

    /// A stored status; text no cronhost writes reads as `Unknown`.
    pub(crate) fn parse(text: &str) -> Self {
        text.parse().unwrap_or(Self::Unknown)
    }

    /// Whether the run has an outcome.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Claimed | Self::Queued | Self::Running)
    }

    /// Whether the run ended badly: failed, timed out, or with an unknown end.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut | Self::Unknown)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for RunStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a run was made outside the schedule, or why an occurrence was not run. Stored in the
/// run's `reason` column as its text.
///
/// ```
/// use cronhost_core::store::RunReason;
///
/// assert_eq!("overlap".parse::<RunReason>(), Ok(RunReason::Overlap));
/// let provider: RunReason = "claimed by member 2".parse().unwrap();
/// assert_eq!(provider, RunReason::Provider("claimed by member 2".into()));
/// assert_eq!(provider.label(), "claimed");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunReason {
    /// Started by hand (`cronhost jobs run`), outside the schedule.
    Manual,
    /// Skipped: found later than its grace allows, with catch-up `skip`.
    Missed,
    /// Skipped: the job's previous run was still going (overlap `skip`, or `queue-one` with
    /// one already waiting).
    Overlap,
    /// A retry of a failed scheduled run (`--retries`); the run's attempt says which.
    Retry,
    /// Skipped for a reason a provider gave (e.g. the occurrence ran on another host).
    Provider(String),
}

impl RunReason {
    /// The stored text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Manual => "manual",
            Self::Missed => "missed",
            Self::Overlap => "overlap",
            Self::Retry => "retry",
            Self::Provider(text) => text,
        }
    }

    /// A short label for metrics: the name, or a provider reason's first word, so the label
    /// set stays small.
    pub fn label(&self) -> &str {
        match self {
            Self::Provider(text) => text
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_' && c != '-')
                .next()
                .filter(|word| !word.is_empty())
                .map_or("other", |word| &word[..word.len().min(32)]),
            other => other.as_str(),
        }
    }
}

impl std::fmt::Display for RunReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RunReason {
    type Err = std::convert::Infallible;

    /// Any text is a reason: the names of the host's own, else a provider's.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "manual" => Self::Manual,
            "missed" => Self::Missed,
            "overlap" => Self::Overlap,
            "retry" => Self::Retry,
            other => Self::Provider(other.to_owned()),
        })
    }
}

impl Serialize for RunReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl rusqlite::ToSql for RunReason {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::ToSql for RunStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

/// Text that names no [`RunStatus`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRunStatus(pub String);

impl std::fmt::Display for UnknownRunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "`{}` is not one of: {}",
            self.0.escape_debug(),
            all.join(", ")
        )
    }
}

impl std::error::Error for UnknownRunStatus {}

impl std::str::FromStr for RunStatus {
    type Err = UnknownRunStatus;

    fn from_str(text: &str) -> Result<Self, UnknownRunStatus> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownRunStatus(text.to_owned()))
    }
}

/// One occurrence of a job, as its row holds it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Run {
    /// `JOB-ID@SCHEDULED-MS`: derived from the occurrence, so it is unique per occurrence.
    pub id: String,
    /// The job.
    pub job_id: String,
    /// The nominal instant.
    pub scheduled_at: DateTime<Utc>,
    /// When it was claimed.
    pub claimed_at: DateTime<Utc>,
    /// When the command started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: RunStatus,
    /// Why it ran outside the schedule or was skipped.
    pub reason: Option<RunReason>,
    /// The command's exit code.
    pub exit_code: Option<i32>,
    /// What went wrong.
    pub error: Option<String>,
    /// The host that claimed it.
    pub host: String,
    /// The cronhost process that claimed it.
    pub pid: u32,
    /// The command's process (and process group) once started; for an in-process run, the
    /// host's own pid.
    pub child_pid: Option<u32>,
    /// Started minus scheduled, in milliseconds.
    pub lateness_ms: Option<i64>,
    /// 0 for an occurrence's first run, N for its Nth retry.
    pub attempt: u32,
    /// For a retry: the scheduled instant of the occurrence it retries.
    pub retry_of: Option<DateTime<Utc>>,
}

/// What recording a run's end decided about the occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finished {
    /// It succeeded, or was never the kind that retries (a manual run).
    Done,
    /// It failed and will be retried (this attempt number, at this instant).
    RetryAt {
        /// The retry's attempt number.
        attempt: u32,
        /// When it is due.
        at: DateTime<Utc>,
    },
    /// It failed and no retry is left: the occurrence failed for good (the on-failure hook
    /// runs).
    FailedForGood,
}

/// The run id for an occurrence.
pub fn run_id(job_id: &str, scheduled_at: DateTime<Utc>) -> String {
    format!("{job_id}@{}", to_ms(scheduled_at))
}

/// The key a run is stored under, (job id, scheduled instant in ms), read from its id
/// ([`run_id`]; job ids have no `@`). A string that is no run id gets a key no run has.
fn key_of(run_id: &str) -> (&str, i64) {
    run_id
        .rsplit_once('@')
        .and_then(|(job, ms)| Some((job, ms.parse().ok()?)))
        .unwrap_or(("", i64::MIN))
}

/// The run with id `run_id`, found through its key ([`key_of`]).
fn find_run(conn: &rusqlite::Connection, run_id: &str) -> Result<Option<Run>, StoreError> {
    let (job_id, scheduled_ms) = key_of(run_id);
    conn.row_cached(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ?1 AND scheduled_at = ?2"),
        params![job_id, scheduled_ms],
        run_from_row,
    )
    .optional()
    .map_err(sql)
}

const RUN_COLUMNS: &str = "id, job_id, scheduled_at, claimed_at, started_at, finished_at, status, reason, exit_code, error, host, pid, lateness_ms, child_pid, attempt, retry_of";

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: row.get(0)?,
        job_id: row.get(1)?,
        scheduled_at: from_ms(row.get(2)?),
        claimed_at: from_ms(row.get(3)?),
        started_at: row.get::<_, Option<i64>>(4)?.map(from_ms),
        finished_at: row.get::<_, Option<i64>>(5)?.map(from_ms),
        status: RunStatus::parse(&row.get::<_, String>(6)?),
        reason: row
            .get::<_, Option<String>>(7)?
            .map(|text| text.parse().unwrap_or_else(|never| match never {})),
        exit_code: row.get(8)?,
        error: row.get(9)?,
        host: row.get(10)?,
        pid: row.get(11)?,
        lateness_ms: row.get(12)?,
        child_pid: row.get(13)?,
        attempt: row.get(14)?,
        retry_of: row.get::<_, Option<i64>>(15)?.map(from_ms),
    })
}

/// After a failed run: its occurrence's next retry, if the job has one left (else the
/// occurrence has failed for good). Manual runs and runs of removed jobs do not retry.
/// A run's start or end, written with others in one transaction by [`Store::record_runs`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunRecord {
    /// The command started ([`Store::mark_started`]).
    Started {
        /// The run.
        run_id: String,
        /// Its process group (this process's pid for an in-process run).
        child_pid: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// The run ended ([`Store::finish_run`]).
    Ended {
        /// The run.
        run_id: String,
        /// How.
        status: RunStatus,
        /// The command's exit code, if it exited.
        exit_code: Option<i32>,
        /// What went wrong, if anything.
        error: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Record a run's start: only a run still `claimed` becomes `running` (a start never
/// overwrites an end).
fn started_in(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    child_pid: u32,
    started_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (job_id, scheduled_ms) = key_of(run_id);
    tx.exec_cached(
        "UPDATE runs SET status = 'running', started_at = ?3, child_pid = ?4, lateness_ms = ?3 - scheduled_at
         WHERE job_id = ?1 AND scheduled_at = ?2 AND status = 'claimed'",
        params![job_id, scheduled_ms, to_ms(started_at), child_pid],
    )
    .map_err(sql)?;
    Ok(())
}

/// Record a run's outcome on the run and on its job, and plan the retry it calls for.
fn finished_in(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    status: RunStatus,
    exit_code: Option<i32>,
    error: Option<&str>,
    finished_at: DateTime<Utc>,
) -> Result<Finished, StoreError> {
    let (job_id, scheduled_ms) = key_of(run_id);
    let updated = tx
        .exec_cached(
            "UPDATE runs SET status = ?3, exit_code = ?4, error = ?5, finished_at = ?6
             WHERE job_id = ?1 AND scheduled_at = ?2",
            params![
                job_id,
                scheduled_ms,
                status.as_str(),
                exit_code,
                error,
                to_ms(finished_at)
            ],
        )
        .map_err(sql)?;
    if updated == 0 {
        return Ok(Finished::Done);
    }
    let streak = match status {
        RunStatus::Succeeded => "0",
        // The host stopped it: says nothing of the job's health.
        RunStatus::Cancelled => "failure_streak",
        _ => "failure_streak + 1",
    };
    tx.exec_cached(
        &format!(
            "UPDATE jobs SET last_status = ?2, last_error = ?3, failure_streak = {streak}
             WHERE id = ?1"
        ),
        params![job_id, status.as_str(), error],
    )
    .map_err(sql)?;
    if !matches!(status, RunStatus::Failed | RunStatus::TimedOut) {
        return Ok(Finished::Done);
    }
    plan_retry(tx, run_id, finished_at)
}

fn plan_retry(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    finished_at: DateTime<Utc>,
) -> Result<Finished, StoreError> {
    let Some(run) = find_run(tx, run_id)? else {
        return Ok(Finished::Done);
    };
    if matches!(run.reason, Some(RunReason::Manual)) {
        return Ok(Finished::Done);
    }
    let Ok(job) = super::jobs::get(tx, &run.job_id) else {
        return Ok(Finished::Done);
    };
    let attempt = run.attempt + 1;
    if job.retries < attempt {
        return Ok(Finished::FailedForGood);
    }
    // One retry waits at a time: a failure while another occurrence's retry is pending gets
    // none (it fails for good, so its hook runs) rather than take that one's place.
    let occurrence = run.retry_of.unwrap_or(run.scheduled_at);
    if job.retry.is_some_and(|pending| pending.of != occurrence) {
        log::info!(
            "job={}: a retry of another run is pending; the run scheduled {occurrence} is not retried",
            job.name
        );
        return Ok(Finished::FailedForGood);
    }
    let delay = super::retry_backoff(
        std::time::Duration::from_secs(job.retry_delay_secs),
        attempt,
    );
    // Whole milliseconds, as instants are stored.
    let mut at = from_ms(to_ms(
        finished_at + chrono::Duration::from_std(delay).unwrap_or_default(),
    ));
    // The retry's run key is its instant: never one of the job's occurrences (nor a run
    // already recorded), so it cannot take their key.
    let timeline = super::timeline::Timeline::of(&job).ok();
    let taken = |at: DateTime<Utc>| -> Result<bool, StoreError> {
        let occurrence = timeline
            .as_ref()
            .is_some_and(|t| t.next_after(at - chrono::Duration::milliseconds(1)) == Some(at));
        let recorded = tx
            .row_cached(
                "SELECT 1 FROM runs WHERE job_id = ?1 AND scheduled_at = ?2",
                params![job.id, to_ms(at)],
                |_| Ok(()),
            )
            .optional()
            .map_err(sql)?
            .is_some();
        Ok(occurrence || recorded)
    };
    while taken(at)? {
        at += chrono::Duration::milliseconds(1);
    }
    tx.exec_cached(
        "UPDATE jobs SET retry_at = ?2, retry_attempt = ?3, retry_of = ?4 WHERE id = ?1",
        params![
            job.id,
            to_ms(at),
            attempt,
            to_ms(run.retry_of.unwrap_or(run.scheduled_at))
        ],
    )
    .map_err(sql)?;
    Ok(Finished::RetryAt { attempt, at })
}

impl Store {
    /// The newest `limit` runs, of one job (id or name) or of all.
    pub fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<Run>, StoreError> {
        let job_id = match job {
            Some(job) => Some(self.job(job).map(|j| j.id).or_else(|e| match e {
                // History outlives its job: accept a removed job's id.
                StoreError::NoSuchJob(id) => Ok(id),
                other => Err(other),
            })?),
            None => None,
        };
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE ?1 IS NULL OR job_id = ?1 ORDER BY scheduled_at DESC, id DESC LIMIT ?2"
                ))
                .map_err(sql)?;
            let rows = statement
                .query_map(params![job_id, limit as i64], run_from_row)
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)
        })
    }

    /// One run by id.
    pub fn run(&self, run_id: &str) -> Result<Option<Run>, StoreError> {
        self.read(|conn| find_run(conn, run_id))
    }

    /// The command started: record the start and the lateness.
    pub fn mark_started(
        &self,
        run_id: &str,
        child_pid: u32,
        started_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write(|tx| started_in(tx, run_id, child_pid, started_at))
    }

    /// Write `records` (starts and ends of runs, in order) in one transaction, each on its
    /// own ([`Store::write_each`](super::Store)): what a burst of runs costs is a commit, not
    /// two per run. An end's result is what [`Store::finish_run`] returns; a start's is
    /// [`Finished::Done`].
    pub fn record_runs(&self, records: Vec<RunRecord>) -> Vec<Result<Finished, StoreError>> {
        self.write_each(records, |tx, record| match record {
            RunRecord::Started {
                run_id,
                child_pid,
                at,
            } => started_in(tx, &run_id, child_pid, at).map(|()| Finished::Done),
            RunRecord::Ended {
                run_id,
                status,
                exit_code,
                error,
                at,
            } => finished_in(tx, &run_id, status, exit_code, error.as_deref(), at),
        })
    }

    /// The run ended: record its outcome on the run and on the job.
    pub fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        error: Option<&str>,
        finished_at: DateTime<Utc>,
    ) -> Result<Finished, StoreError> {
        self.write(|tx| finished_in(tx, run_id, status, exit_code, error, finished_at))
    }

    /// Take the job's queued run (overlap `queue-one`), marking it claimed; `None` if none.
    pub fn take_queued(
        &self,
        job_id: &str,
        host: &str,
        pid: u32,
    ) -> Result<Option<Run>, StoreError> {
        self.write(|tx| {
            // Only a run this process queued, and only once nothing of the job runs: a short
            // CLI whose manual run ended must not take (and strand) the daemon's queued run.
            let run = tx
                .row_cached(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM runs INDEXED BY runs_open WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued')
                         AND status = 'queued' AND host = ?2 AND pid = ?3
                         AND NOT EXISTS (SELECT 1 FROM runs WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued')
                                         AND status IN ('claimed', 'running'))
                         ORDER BY scheduled_at LIMIT 1"
                    ),
                    params![job_id, host, pid],
                    run_from_row,
                )
                .optional()
                .map_err(sql)?;
            if let Some(run) = &run {
                tx.exec_cached(
                    "UPDATE runs SET status = 'claimed' WHERE job_id = ?1 AND scheduled_at = ?2",
                    params![run.job_id, to_ms(run.scheduled_at)],
                )
                    .map_err(sql)?;
            }
            Ok(run)
        })
    }

    /// The jobs with a run this process queued and nothing of theirs claimed or running: their
    /// queued run may start (the run it waited for ended, possibly in another process).
    pub fn queued_ready(&self, host: &str, pid: u32) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT DISTINCT q.job_id FROM runs q WHERE q.status IN ('claimed', 'running', 'queued')
                     AND q.status = 'queued' AND q.host = ?1 AND q.pid = ?2
                     AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.job_id = q.job_id AND r.status IN ('claimed', 'running', 'queued')
                                     AND r.status IN ('claimed', 'running'))",
                )
                .map_err(sql)?;
            let rows = statement
                .query_map(params![host, pid], |r| r.get::<_, String>(0))
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)
        })
    }

    /// How many runs process `pid` on `host` has queued.
    pub fn queued_count(&self, host: &str, pid: u32) -> Result<usize, StoreError> {
        self.read(|conn| {
            conn.row_cached(
                "SELECT count(*) FROM runs WHERE status IN ('claimed', 'running', 'queued') AND status = 'queued' AND host = ?1 AND pid = ?2",
                params![host, pid],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(sql)
        })
    }

    /// Hand the runs process `from` queued over to process `to` (a short CLI leaving them to
    /// the daemon, which starts them when their turn comes); returns how many.
    pub fn hand_over_queued(&self, host: &str, from: u32, to: u32) -> Result<usize, StoreError> {
        self.write(|tx| {
            tx.exec_cached(
                "UPDATE runs SET pid = ?3 WHERE status IN ('claimed', 'running', 'queued') AND status = 'queued' AND host = ?1 AND pid = ?2",
                params![host, from, to],
            )
            .map_err(sql)
        })
    }

    /// Runs left claimed, queued or running by a process that is gone become `unknown`; they
    /// are never re-run by themselves. `alive(host, pid, claimed_at)` says whether the process
    /// that claimed the run at `claimed_at` still runs.
    pub fn settle_orphaned_runs(
        &self,
        alive: impl Fn(&Run) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Run>, StoreError> {
        self.write(|tx| {
            let mut statement = tx
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('claimed', 'running', 'queued')"))
                .map_err(sql)?;
            let open = statement
                .query_map([], run_from_row)
                .map_err(sql)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sql)?;
            let mut settled = Vec::new();
            for run in open.into_iter().filter(|r| !alive(r)) {
                tx.exec_cached(
                    "UPDATE runs SET status = 'unknown', finished_at = ?3, error = ?4 WHERE job_id = ?1 AND scheduled_at = ?2",
                    params![run.job_id, to_ms(run.scheduled_at), to_ms(now), format!("its owner (pid {} on {}) died while it was {}", run.pid, run.host, run.status.as_str())],
                )
                .map_err(sql)?;
                tx.exec_cached("UPDATE jobs SET last_status = 'unknown' WHERE id = ?1", params![run.job_id])
                    .map_err(sql)?;
                settled.push(run);
            }
            Ok(settled)
        })
    }
}
