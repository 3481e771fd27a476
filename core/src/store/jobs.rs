//! Jobs: definitions and runtime state; add, find by id or name, list, remove; ids and the
//! rule that keeps names and ids apart.

use super::Cached;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};

use super::{from_ms, sql, to_ms, validate, RunStatus, Store, StoreError};
use crate::schedule::{parse_zone, Schedule};

/// What to do with occurrences missed while nothing was running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CatchUp {
    /// Run once, then continue from the next future occurrence.
    #[default]
    Once,
    /// Record the missed occurrence as skipped and continue from the next future one.
    Skip,
    /// Run every missed occurrence (at most [`CATCH_UP_ALL_CAP`](super::CATCH_UP_ALL_CAP)).
    All,
}

/// What to do when an occurrence is due while the job's previous run is still going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Overlap {
    /// Record the occurrence as skipped (reason `overlap`).
    #[default]
    Skip,
    /// Start it anyway.
    Allow,
    /// Start it when the running one finishes; at most one waits.
    QueueOne,
}

macro_rules! text_enum {
    ($ty:ty { $($variant:ident = $text:literal),+ }) => {
        impl $ty {
            /// The stored and command-line spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Every spelling, for help texts and completion.
            pub const NAMES: &'static [&'static str] = &[$($text),+];
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("`{other}` is not one of: {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}

text_enum!(CatchUp { Once = "once", Skip = "skip", All = "all" });
text_enum!(Overlap { Skip = "skip", Allow = "allow", QueueOne = "queue-one" });

/// How many times a job fires: a number, or forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Repeat {
    /// Until removed.
    Forever,
    /// This many fires, then the job is completed.
    Times(u32),
}

impl std::str::FromStr for Repeat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "forever" => Ok(Self::Forever),
            "once" => Ok(Self::Times(1)),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(Self::Times)
                .ok_or_else(|| {
                    format!("repeat `{text}` must be `forever`, `once` or a positive number")
                }),
        }
    }
}

/// A job as the operator describes it (`jobs add`, `jobs import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobSpec {
    /// Unique name (case-insensitive); generated from the id when absent.
    pub name: Option<String>,
    /// The schedule as written.
    pub schedule: String,
    /// argv, or one shell command line when `shell` is set.
    pub command: Vec<String>,
    /// Run `command` through `sh -c`.
    #[serde(default)]
    pub shell: bool,
    /// Working directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Extra environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// IANA zone; the host's `cron.timezone` when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Fires before completion; one-shots default to once, others to forever.
    #[serde(default)]
    pub repeat: Option<Repeat>,
    /// Kill the run after this many seconds.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Missed-occurrence policy.
    #[serde(default)]
    pub catch_up: CatchUp,
    /// Overlap policy.
    #[serde(default)]
    pub overlap: Overlap,
    /// Runs of this job kept (the newest; 0 = no count limit); the host's
    /// `cron.run_retention` when absent.
    #[serde(default)]
    pub run_retention: Option<u32>,
    /// Days of this job's runs kept (by scheduled instant; 0 = no age limit); the host's
    /// `cron.run_retention_days` when absent.
    #[serde(default)]
    pub run_retention_days: Option<u32>,
    /// Retries of a failed scheduled run, each a run of its own (0: none).
    #[serde(default)]
    pub retries: u32,
    /// Seconds before the first retry, doubled for each one after (at most an hour).
    #[serde(default = "default_retry_delay")]
    pub retry_delay_secs: u64,
    /// The jitter window, in milliseconds: every occurrence fires the job's own fixed offset
    /// within it after its instant ([`jitter_offset`](super::jitter_offset)); 0: none.
    #[serde(default)]
    pub jitter_ms: u64,
    /// A shell command run (`sh -c`) once an occurrence has failed for the last time, with
    /// the failed run's details in its environment.
    #[serde(default)]
    pub on_failure: Option<String>,
    /// Run in-process by the handler of this name the embedding application registered
    /// (`Host::handle`) instead of as a command; `command` is then empty.
    #[serde(default)]
    pub handler: Option<String>,
}

/// Seconds before a first retry, unless the job says otherwise.
pub const DEFAULT_RETRY_DELAY_SECS: u64 = 10;

fn default_retry_delay() -> u64 {
    DEFAULT_RETRY_DELAY_SECS
}

impl JobSpec {
    /// A job running `command` on `schedule`, with every other setting at its default.
    ///
    /// ```
    /// use cronhost_core::store::JobSpec;
    /// let mut spec = JobSpec::new("0 3 * * *", ["backup.sh"]);
    /// spec.name = Some("backup".into());
    /// assert_eq!(spec.command, ["backup.sh"]);
    /// ```
    pub fn new(schedule: &str, command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            name: None,
            schedule: schedule.to_owned(),
            command: command.into_iter().map(Into::into).collect(),
            shell: false,
            workdir: None,
            env: BTreeMap::new(),
            timezone: None,
            repeat: None,
            timeout_secs: None,
            catch_up: CatchUp::default(),
            overlap: Overlap::default(),
            run_retention: None,
            run_retention_days: None,
            retries: 0,
            retry_delay_secs: DEFAULT_RETRY_DELAY_SECS,
            jitter_ms: 0,
            on_failure: None,
            handler: None,
        }
    }

    /// An in-process job: run on `schedule` by the handler registered under `handler`.
    ///
    /// ```
    /// use cronhost_core::store::JobSpec;
    /// let spec = JobSpec::handled_by("0 9 * * 1-5", "greet");
    /// assert_eq!(spec.handler.as_deref(), Some("greet"));
    /// assert_eq!(spec.name.as_deref(), Some("greet"));
    /// assert!(spec.command.is_empty());
    /// ```
    pub fn handled_by(schedule: &str, handler: &str) -> Self {
        let mut spec = Self::new(schedule, Vec::<String>::new());
        spec.name = Some(handler.to_owned());
        spec.handler = Some(handler.to_owned());
        spec
    }
}

/// A stored job, as its row holds it: definition and runtime state. What `jobs export` writes
/// is [`ExportedJob`](super::ExportedJob); what `--json` prints is the CLI's own view.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Job {
    /// Short, stable, never reused.
    pub id: String,
    /// Unique, case-insensitive.
    pub name: String,
    /// argv (or the shell line).
    pub command: Vec<String>,
    /// Through `sh -c`.
    pub shell: bool,
    /// Working directory.
    pub workdir: Option<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// The schedule as written.
    pub schedule_text: String,
    /// Its parsed, canonical form.
    pub schedule: String,
    /// IANA zone.
    pub timezone: String,
    /// `None` = forever.
    pub repeat_limit: Option<u32>,
    /// Fires so far.
    pub completed_count: u32,
    /// False once completed or disabled.
    pub enabled: bool,
    /// When it was paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Why.
    pub pause_reason: Option<String>,
    /// The next scheduled instant.
    pub next_run: Option<DateTime<Utc>>,
    /// The last scheduled instant that was claimed.
    pub last_run: Option<DateTime<Utc>>,
    /// The last run's status.
    pub last_status: Option<RunStatus>,
    /// The last run's error.
    pub last_error: Option<String>,
    /// Consecutive failed runs.
    pub failure_streak: u32,
    /// Seconds before the run is killed.
    pub timeout_secs: Option<u64>,
    /// Missed-occurrence policy.
    pub catch_up: CatchUp,
    /// Overlap policy.
    pub overlap: Overlap,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When its last repeat fired.
    pub completed_at: Option<DateTime<Utc>>,
    /// Runs kept (the newest; 0 = no count limit); `None`: the host's `cron.run_retention`.
    pub run_retention: Option<u32>,
    /// Days of runs kept (0 = no age limit); `None`: the host's `cron.run_retention_days`.
    pub run_retention_days: Option<u32>,
    /// Retries of a failed scheduled run.
    pub retries: u32,
    /// Seconds before the first retry, doubled for each one after.
    pub retry_delay_secs: u64,
    /// The jitter window in milliseconds (0: none).
    pub jitter_ms: u64,
    /// The shell command run after an occurrence's last attempt failed.
    pub on_failure: Option<String>,
    /// The in-process handler that runs it, instead of a command.
    pub handler: Option<String>,
    /// The pending retry: when it is due, which attempt it is, and the occurrence it retries.
    pub retry: Option<PendingRetry>,
}

/// A retry waiting for its instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingRetry {
    /// When it is due.
    pub at: DateTime<Utc>,
    /// Its attempt number (1 for the first retry).
    pub attempt: u32,
    /// The scheduled instant of the occurrence it retries.
    pub of: DateTime<Utc>,
}

impl Job {
    /// The fixed offset after each scheduled instant at which this job fires (its jitter).
    pub fn jitter(&self) -> chrono::Duration {
        super::spread::jitter_shift(&self.id, self.jitter_ms)
    }

    /// The parsed schedule, for this job (what Jenkins' `H` picks comes from its id).
    pub fn parsed_schedule(&self) -> Result<Schedule, crate::schedule::ScheduleError> {
        Schedule::from_canonical(&self.schedule).map(|schedule| schedule.for_job(&self.id))
    }

    /// The parsed zone (UTC if the stored name is somehow invalid).
    pub fn zone(&self) -> chrono_tz::Tz {
        parse_zone(&self.timezone).unwrap_or(chrono_tz::UTC)
    }

    /// Active = enabled, not paused, not completed.
    pub fn is_active(&self) -> bool {
        self.enabled && self.paused_at.is_none() && self.completed_at.is_none()
    }

    /// The argv to execute.
    pub fn argv(&self) -> Vec<String> {
        if self.shell {
            vec!["sh".into(), "-c".into(), self.command.join(" ")]
        } else {
            self.command.clone()
        }
    }
}

/// `last_status` in an export from an earlier cronhost: a run status, or the error names the
/// field.
pub(super) fn last_status<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<RunStatus>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|text| text.parse())
        .transpose()
        .map_err(|e| serde::de::Error::custom(format!("last_status: {e}")))
}

pub(crate) const JOB_COLUMNS: &str = "id, name, command, shell, workdir, env, schedule_text, schedule, timezone, repeat_limit, completed_count, enabled, paused_at, pause_reason, next_run, last_run, last_status, last_error, failure_streak, timeout_secs, catch_up, overlap, created_at, completed_at, run_retention, run_retention_days, retries, retry_delay_secs, jitter_ms, on_failure, retry_at, retry_attempt, retry_of, handler";

pub(crate) fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let json_err = |i: usize, e: serde_json::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let text_err = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let ms = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(from_ms))
    };
    Ok(Job {
        id: row.get(0)?,
        name: row.get(1)?,
        command: serde_json::from_str(&row.get::<_, String>(2)?).map_err(|e| json_err(2, e))?,
        shell: row.get(3)?,
        workdir: row.get(4)?,
        env: serde_json::from_str(&row.get::<_, String>(5)?).map_err(|e| json_err(5, e))?,
        schedule_text: row.get(6)?,
        schedule: row.get(7)?,
        timezone: row.get(8)?,
        repeat_limit: row.get(9)?,
        completed_count: row.get(10)?,
        enabled: row.get(11)?,
        paused_at: ms(12)?,
        pause_reason: row.get(13)?,
        next_run: ms(14)?,
        last_run: ms(15)?,
        last_status: row
            .get::<_, Option<String>>(16)?
            .map(|text| RunStatus::parse(&text)),
        last_error: row.get(17)?,
        failure_streak: row.get(18)?,
        timeout_secs: row.get(19)?,
        catch_up: row
            .get::<_, String>(20)?
            .parse()
            .map_err(|e| text_err(20, e))?,
        overlap: row
            .get::<_, String>(21)?
            .parse()
            .map_err(|e| text_err(21, e))?,
        created_at: from_ms(row.get(22)?),
        completed_at: ms(23)?,
        run_retention: row.get(24)?,
        run_retention_days: row.get(25)?,
        retries: row.get(26)?,
        retry_delay_secs: row.get(27)?,
        jitter_ms: row.get(28)?,
        on_failure: row.get(29)?,
        retry: match (ms(30)?, ms(32)?) {
            (Some(at), Some(of)) => Some(PendingRetry {
                at,
                attempt: row.get(31)?,
                of,
            }),
            _ => None,
        },
        handler: row.get(33)?,
    })
}

/// A job id from a sequence number: `j` and base-36 digits.
pub(super) fn id_for(sequence: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = sequence.max(0) as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!("j{}", String::from_utf8(digits).unwrap_or_default())
}

/// The sequence number inside an id made by [`id_for`], if it is one.
fn sequence_of(id: &str) -> Option<i64> {
    i64::from_str_radix(id.strip_prefix('j')?, 36).ok()
}

/// The largest sequence number an imported id may carry (`j` and 12 base-36 digits). Far
/// below `i64::MAX`, so the store's own allocation can never run out after an import.
const MAX_IMPORTED_SEQUENCE: i64 = 36_i64.pow(12) - 1;

/// The sequence number of `id` when it is a canonical cronhost id (`j`, then lowercase
/// base-36 digits without leading zeros, 1 to [`MAX_IMPORTED_SEQUENCE`]).
pub(super) fn canonical_sequence(id: &str) -> Option<i64> {
    let sequence = sequence_of(id).filter(|n| (1..=MAX_IMPORTED_SEQUENCE).contains(n))?;
    (id_for(sequence) == id).then_some(sequence)
}

/// Whether `id` is a cronhost job id (`j` and lowercase base-36 digits without a leading zero):
/// safe to use as a file name.
///
/// ```
/// assert!(cronhost_core::store::is_job_id("j1z"));
/// assert!(!cronhost_core::store::is_job_id("../etc"));
/// ```
pub fn is_job_id(id: &str) -> bool {
    sequence_of(id).is_some_and(|n| n >= 1 && id_for(n) == id)
}

/// Names and ids never collide, so a word given on the command line finds one job: a name may
/// not be another job's id, and an id may not be another job's name. Any word is a name
/// otherwise, one shaped like an id (`jenkins`, `j2`) included.
pub(super) fn check_apart(tx: &Transaction<'_>, id: &str, name: &str) -> Result<(), StoreError> {
    let name_key = name.to_lowercase();
    let clash = |sql_text: &str, key: &str| -> Result<Option<String>, StoreError> {
        tx.row_cached(sql_text, params![key, id], |r| r.get::<_, String>(0))
            .optional()
            .map_err(sql)
    };
    if let Some(other) = clash("SELECT id FROM jobs WHERE id = ?1 AND id <> ?2", &name_key)? {
        return Err(StoreError::Invalid(format!(
            "job name `{name}` is the id of another job ({other}); choose another name"
        )));
    }
    if let Some(other) = clash("SELECT name FROM jobs WHERE name_key = ?1 AND id <> ?2", id)? {
        return Err(StoreError::Invalid(format!(
            "job id `{id}` is the name of another job here (`{}`); rename that job first",
            other.escape_debug()
        )));
    }
    Ok(())
}

/// A job validated and ready to insert.
pub(super) struct Prepared {
    pub(super) schedule: Schedule,
    pub(super) zone: String,
    pub(super) repeat_limit: Option<u32>,
    tz: chrono_tz::Tz,
    /// The schedule as written, for errors.
    text: String,
}

impl Prepared {
    /// The first run as of `now` of the job with `id` (whose `H` values the id picks), before
    /// its jitter. A one-shot up to the tolerance in the past fires at once. Refused when the
    /// job would never fire (`0 0 H(29-31) 2 *` can pick a day February lacks).
    pub(super) fn first_run(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        match &self.schedule {
            Schedule::Once(at) => Ok(*at),
            other => other
                .clone()
                .for_job(id)
                .next_after(now, self.tz)
                .ok_or_else(|| {
                    crate::schedule::ScheduleError::NeverFires(self.text.clone()).into()
                }),
        }
    }
}

/// Check everything in `spec` but its schedule: the limits `jobs add` applies.
pub(super) fn check_definition(spec: &JobSpec) -> Result<(), StoreError> {
    validate::check(&validate::Definition {
        name: spec.name.as_deref(),
        schedule_text: &spec.schedule,
        command: &spec.command,
        shell: spec.shell,
        workdir: spec.workdir.as_deref(),
        env: &spec.env,
        timeout_secs: spec.timeout_secs,
        repeat_limit: match spec.repeat {
            Some(Repeat::Times(n)) => Some(n),
            _ => None,
        },
        run_retention: spec.run_retention,
        run_retention_days: spec.run_retention_days,
        retries: spec.retries,
        retry_delay_secs: spec.retry_delay_secs,
        jitter_ms: spec.jitter_ms,
        on_failure: spec.on_failure.as_deref(),
        handler: spec.handler.as_deref(),
    })?;
    if let Some(name) = &spec.name {
        validate::check_name(name)?;
    }
    Ok(())
}

/// Check `spec` and work out its schedule, zone, repeats and first run, as of `now`.
pub(super) fn prepare(
    spec: &JobSpec,
    default_zone: &str,
    now: DateTime<Utc>,
) -> Result<Prepared, StoreError> {
    check_definition(spec)?;
    let zone_name = spec
        .timezone
        .clone()
        .unwrap_or_else(|| default_zone.to_owned());
    let zone = parse_zone(&zone_name)?;
    let schedule = Schedule::parse(&spec.schedule, zone, now)?;
    let repeat_limit = match spec.repeat {
        Some(Repeat::Times(n)) => Some(n),
        Some(Repeat::Forever) => None,
        None if schedule.is_one_shot() => Some(1),
        None => None,
    };
    Ok(Prepared {
        schedule,
        zone: zone.name().to_owned(),
        repeat_limit,
        tz: zone,
        text: spec.schedule.trim().to_owned(),
    })
}

/// Insert `spec` (already prepared) as a new job with a new id.
pub(super) fn insert_new(
    tx: &Transaction<'_>,
    spec: &JobSpec,
    prepared: Prepared,
    now: DateTime<Utc>,
) -> Result<Job, StoreError> {
    // An id is never a name already in use: `jobs show j7` must find one job.
    let id = loop {
        let id = id_for(allocate_sequence(tx)?);
        let taken: Option<i64> = tx
            .row_cached("SELECT 1 FROM jobs WHERE name_key = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        if taken.is_none() {
            break id;
        }
    };
    if let Some(name) = &spec.name {
        check_apart(tx, &id, name)?;
    }
    let job = Job {
        name: spec.name.clone().unwrap_or_else(|| id.clone()),
        command: spec.command.clone(),
        shell: spec.shell,
        workdir: spec.workdir.clone(),
        env: spec.env.clone(),
        schedule_text: spec.schedule.trim().to_owned(),
        schedule: prepared.schedule.canonical(),
        timezone: prepared.zone.clone(),
        repeat_limit: prepared.repeat_limit,
        completed_count: 0,
        enabled: true,
        paused_at: None,
        pause_reason: None,
        next_run: Some(prepared.first_run(&id, now)?),
        id,
        last_run: None,
        last_status: None,
        last_error: None,
        failure_streak: 0,
        timeout_secs: spec.timeout_secs,
        catch_up: spec.catch_up,
        overlap: spec.overlap,
        created_at: now,
        completed_at: None,
        run_retention: spec.run_retention,
        run_retention_days: spec.run_retention_days,
        retries: spec.retries,
        retry_delay_secs: spec.retry_delay_secs,
        jitter_ms: spec.jitter_ms,
        on_failure: spec.on_failure.clone(),
        retry: None,
        handler: spec.handler.clone(),
    };
    // The jitter offset comes from the id, known only now.
    let job = Job {
        next_run: job.next_run.map(|at| at + job.jitter()),
        ..job
    };
    insert_row(tx, &job)?;
    get(tx, &job.id)
}

impl Store {
    /// Add a job; returns it with its new id. Refused (nothing stored) on a bad schedule, zone,
    /// command or a name already taken.
    pub fn add_job(
        &self,
        spec: &JobSpec,
        default_zone: &str,
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let prepared = prepare(spec, default_zone, now)?;
        self.write_jobs(|tx| insert_new(tx, spec, prepared, now))
    }

    /// Find a job by id, or by name (case-insensitive).
    pub fn job(&self, id_or_name: &str) -> Result<Job, StoreError> {
        self.read(|conn| resolve(conn, id_or_name))
    }

    /// Every job, active first by next run, then the rest by name, all in memory: for small
    /// sets. Start-up, ticks, `status` and the CLI never call it; they walk the set with
    /// [`Store::each_job`], page it with [`Store::jobs_page`] or count it with
    /// [`Store::job_counts`].
    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs ORDER BY next_run IS NULL, next_run, name_key"
                ))
                .map_err(sql)?;
            let rows = statement.query_map([], job_from_row).map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)
        })
    }

    /// Remove a job; its run history stays.
    pub fn remove_job(&self, id_or_name: &str) -> Result<Job, StoreError> {
        self.write_jobs(|tx| {
            let job = resolve(tx, id_or_name)?;
            tx.exec_cached("DELETE FROM jobs WHERE id = ?1", params![job.id])
                .map_err(sql)?;
            Ok(job)
        })
    }

    /// Delete jobs completed before `cutoff`; returns how many.
    pub fn prune_completed(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        let removed = self.write(|tx| {
            tx.exec_cached(
                "DELETE FROM jobs WHERE completed_at IS NOT NULL AND completed_at < ?1",
                params![to_ms(cutoff)],
            )
            .map_err(sql)
        })?;
        if removed > 0 {
            self.note_job_change();
        }
        Ok(removed)
    }
}

/// The job named `name` (case-insensitively), if any.
pub(super) fn resolve_name(
    conn: &rusqlite::Connection,
    name: &str,
) -> Result<Option<Job>, StoreError> {
    conn.row_cached(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE name_key = ?1"),
        params![name.to_lowercase()],
        job_from_row,
    )
    .optional()
    .map_err(sql)
}

/// The next sequence number for a new id. An old store whose sequence was pushed to the end
/// of the range (by an import before ids were bounded) is repaired from the ids it holds.
fn allocate_sequence(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    let next = tx
        .row_cached(
            "UPDATE sequence SET value = value + 1 WHERE name = 'job' AND typeof(value) = 'integer' AND value < ?1 RETURNING value",
            params![i64::MAX - 1],
            |r| r.get::<_, i64>(0),
        )
        .optional()
        .map_err(sql)?;
    if let Some(next) = next {
        return Ok(next);
    }
    let mut statement = tx
        // A removed job whose runs were all pruned is still known by its floor.
        .prepare_cached(
            "SELECT id FROM jobs UNION SELECT DISTINCT job_id FROM runs UNION SELECT job_id FROM pruned_runs",
        )
        .map_err(sql)?;
    let highest = statement
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(sql)?
        .filter_map(|id| id.ok().and_then(|id| canonical_sequence(&id)))
        .max()
        .unwrap_or(0);
    log::warn!("the job id sequence was out of range; restarting it after the highest id in use");
    tx.exec_cached(
        "UPDATE sequence SET value = ?1 WHERE name = 'job'",
        params![highest + 1],
    )
    .map_err(sql)?;
    Ok(highest + 1)
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub(super) fn insert_row(tx: &Transaction<'_>, job: &Job) -> Result<(), StoreError> {
    let result = tx.exec_cached(
        &format!(
            "INSERT INTO jobs ({JOB_COLUMNS}, name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)"
        ),
        params![
            job.id,
            job.name,
            serde_json::to_string(&job.command).unwrap_or_default(),
            job.shell,
            job.workdir,
            serde_json::to_string(&job.env).unwrap_or_default(),
            job.schedule_text,
            job.schedule,
            job.timezone,
            job.repeat_limit,
            job.completed_count,
            job.enabled,
            job.paused_at.map(to_ms),
            job.pause_reason,
            job.next_run.map(to_ms),
            job.last_run.map(to_ms),
            job.last_status,
            job.last_error,
            job.failure_streak,
            job.timeout_secs,
            job.catch_up.as_str(),
            job.overlap.as_str(),
            to_ms(job.created_at),
            job.completed_at.map(to_ms),
            job.run_retention,
            job.run_retention_days,
            job.retries,
            job.retry_delay_secs,
            job.jitter_ms,
            job.on_failure,
            job.retry.map(|r| to_ms(r.at)),
            job.retry.map_or(0, |r| r.attempt),
            job.retry.map(|r| to_ms(r.of)),
            job.handler,
            job.name.to_lowercase(),
        ],
    );
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::NameTaken(job.name.clone())),
        Err(e) => Err(sql(e)),
    }
}

pub(crate) fn get(conn: &rusqlite::Connection, id: &str) -> Result<Job, StoreError> {
    conn.row_cached(
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
        params![id],
        job_from_row,
    )
    .optional()
    .map_err(sql)?
    .ok_or_else(|| StoreError::NoSuchJob(id.to_owned()))
}

/// By id or by case-insensitive name; an input that is one job's id and another's name is
/// ambiguous.
pub(crate) fn resolve(conn: &rusqlite::Connection, id_or_name: &str) -> Result<Job, StoreError> {
    let by_id = get(conn, id_or_name).ok();
    let by_name = resolve_name(conn, id_or_name)?;
    match (by_id, by_name) {
        (Some(a), Some(b)) if a.id != b.id => Err(StoreError::Ambiguous {
            name: id_or_name.to_owned(),
            ids: format!("{} (by id) and {} (by name)", a.id, b.id),
        }),
        (Some(job), _) | (None, Some(job)) => Ok(job),
        (None, None) => Err(StoreError::NoSuchJob(id_or_name.to_owned())),
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for n in [1, 35, 36, 1_000_000] {
            assert_eq!(sequence_of(&id_for(n)), Some(n));
        }
        assert_eq!(id_for(1), "j1");
        assert_eq!(sequence_of("backup"), None);
    }
}
