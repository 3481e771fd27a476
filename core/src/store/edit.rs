//! Changing jobs in place: `jobs edit`, `jobs import --replace` and `apply` all replace a job's
//! definition through [`Store::edit_job`]'s rules, keep its id and history, and report what
//! changed field by field.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rusqlite::{params, Transaction};

use super::jobs::{check_apart, check_definition, get, insert_new, prepare, resolve, resolve_name};
use super::{sql, to_ms, Cached, Job, JobSpec, Repeat, Store, StoreError};

/// A part of a job's definition, as a change names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum JobField {
    /// The name.
    Name,
    /// The schedule as written.
    Schedule,
    /// The zone.
    Timezone,
    /// The command (argv or shell line).
    Command,
    /// Whether the command runs through `sh -c`.
    Shell,
    /// The working directory.
    Workdir,
    /// The extra environment.
    Env,
    /// How many times it fires.
    Repeat,
    /// The timeout.
    Timeout,
    /// The catch-up policy.
    CatchUp,
    /// The overlap policy.
    Overlap,
    /// Whether it is paused.
    Paused,
    /// Its own count of runs kept.
    RunRetention,
    /// Its own days of runs kept.
    RunRetentionDays,
    /// Retries of a failed run.
    Retries,
    /// The first retry's delay.
    RetryDelay,
    /// The jitter window.
    Jitter,
    /// The on-failure command.
    OnFailure,
    /// The in-process handler.
    Handler,
}

impl JobField {
    /// The field's name as the command line spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Schedule => "schedule",
            Self::Timezone => "timezone",
            Self::Command => "command",
            Self::Shell => "shell",
            Self::Workdir => "workdir",
            Self::Env => "env",
            Self::Repeat => "repeat",
            Self::Timeout => "timeout",
            Self::CatchUp => "catch-up",
            Self::Overlap => "overlap",
            Self::Paused => "paused",
            Self::RunRetention => "run-retention",
            Self::RunRetentionDays => "run-retention-days",
            Self::Retries => "retries",
            Self::RetryDelay => "retry-delay",
            Self::Jitter => "jitter",
            Self::OnFailure => "on-failure",
            Self::Handler => "handler",
        }
    }
}

impl std::fmt::Display for JobField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One field of a job changed: its value before and after, as text for people.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// Which field.
    pub field: JobField,
    /// Its value before.
    pub before: String,
    /// Its value after.
    pub after: String,
}

/// A job before and after an edit.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Edited {
    /// As it was.
    pub before: Job,
    /// As it is now.
    pub after: Job,
}

impl Edited {
    /// What changed, field by field (empty when the edit changed nothing).
    pub fn changes(&self) -> Vec<Change> {
        changes(&self.before, &self.after)
    }
}

/// One job of a declared job set ([`Store::apply_jobs`]): its definition, and whether it should
/// be paused (`None`: as it is).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Declared {
    /// The definition; its name identifies the job.
    pub spec: JobSpec,
    /// Paused or not; `None` leaves the job as it is.
    pub paused: Option<bool>,
}

impl Declared {
    /// A declared job, its pause state left alone.
    pub fn new(spec: JobSpec) -> Self {
        Self { spec, paused: None }
    }
}

/// What [`Store::apply_jobs`] did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Applied {
    /// Jobs added.
    pub added: Vec<Job>,
    /// Jobs changed, with what changed.
    pub changed: Vec<Edited>,
    /// Jobs removed (with `prune`).
    pub removed: Vec<Job>,
    /// Jobs declared and already as declared.
    pub unchanged: Vec<Job>,
}

impl Applied {
    /// Whether the store was (or would be) changed.
    pub fn changes_anything(&self) -> bool {
        !(self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty())
    }
}

/// The definition of `job` as a spec (every setting explicit), the starting point of an edit.
pub fn spec_of(job: &Job) -> JobSpec {
    let mut spec = JobSpec::new(&job.schedule_text, job.command.clone());
    spec.name = Some(job.name.clone());
    spec.shell = job.shell;
    spec.workdir = job.workdir.clone();
    spec.env = job.env.clone();
    spec.timezone = Some(job.timezone.clone());
    // A repeat count that is its schedule's default (a one-shot's once, forever otherwise) is
    // left to the schedule, so an edit to another kind of schedule takes that one's default.
    let one_shot = job.parsed_schedule().is_ok_and(|s| s.is_one_shot());
    spec.repeat = match (job.repeat_limit, one_shot) {
        (Some(1), true) | (None, false) => None,
        (limit, _) => Some(limit.map_or(Repeat::Forever, Repeat::Times)),
    };
    spec.timeout_secs = job.timeout_secs;
    spec.catch_up = job.catch_up;
    spec.overlap = job.overlap;
    spec.run_retention = job.run_retention;
    spec.run_retention_days = job.run_retention_days;
    spec.retries = job.retries;
    spec.retry_delay_secs = job.retry_delay_secs;
    spec.jitter_ms = job.jitter_ms;
    spec.on_failure = job.on_failure.clone();
    spec.handler = job.handler.clone();
    spec
}

/// The changes from `before` to `after`, field by field.
pub fn changes(before: &Job, after: &Job) -> Vec<Change> {
    let command = |job: &Job| {
        shlex::try_join(job.command.iter().map(String::as_str))
            .unwrap_or_else(|_| job.command.join(" "))
    };
    let or_none = |value: Option<String>| value.unwrap_or_else(|| "none".to_owned());
    let env = |job: &Job| {
        job.env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let values = |job: &Job| -> Vec<(JobField, String)> {
        vec![
            (JobField::Name, job.name.clone()),
            (JobField::Schedule, job.schedule_text.clone()),
            (JobField::Timezone, job.timezone.clone()),
            (JobField::Command, command(job)),
            (JobField::Shell, job.shell.to_string()),
            (JobField::Workdir, or_none(job.workdir.clone())),
            (JobField::Env, env(job)),
            (
                JobField::Repeat,
                job.repeat_limit
                    .map_or_else(|| "forever".to_owned(), |n| n.to_string()),
            ),
            (
                JobField::Timeout,
                or_none(job.timeout_secs.map(|s| format!("{s}s"))),
            ),
            (JobField::CatchUp, job.catch_up.as_str().to_owned()),
            (JobField::Overlap, job.overlap.as_str().to_owned()),
            (JobField::Paused, job.paused_at.is_some().to_string()),
            (
                JobField::RunRetention,
                or_none(job.run_retention.map(|n| n.to_string())),
            ),
            (
                JobField::RunRetentionDays,
                or_none(job.run_retention_days.map(|n| n.to_string())),
            ),
            (JobField::Retries, job.retries.to_string()),
            (JobField::RetryDelay, format!("{}s", job.retry_delay_secs)),
            (JobField::Jitter, format!("{}ms", job.jitter_ms)),
            (JobField::OnFailure, or_none(job.on_failure.clone())),
            (JobField::Handler, or_none(job.handler.clone())),
        ]
    };
    values(before)
        .into_iter()
        .zip(values(after))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((field, before), (_, after))| Change {
            field,
            before,
            after,
        })
        .collect()
}

impl Store {
    /// Change a job's definition in place: `edit` gets its definition as a spec
    /// ([`spec_of`]) and changes what it will. The result is checked exactly as `jobs add`
    /// checks a new job. The id, the run history and the runtime state stay; a new schedule
    /// or zone gives a new next run (from now), and a job that had completed its repeats
    /// starts a new series when its schedule or repeat count changes. A running run goes on
    /// with the definition it started with.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use cronhost_core::store::{JobSpec, Store};
    /// let store = Store::open(&dir.path().join("cronhost.db"))?;
    /// let now = chrono::Utc::now();
    /// let job = store.add_job(&JobSpec::new("every 1h", ["true"]), "UTC", now)?;
    /// let edited = store.edit_job(&job.id, |spec| spec.schedule = "every 2h".into(), "UTC", now)?;
    /// assert_eq!(edited.after.id, job.id);
    /// assert_eq!(edited.changes()[0].after, "every 2h");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn edit_job(
        &self,
        id_or_name: &str,
        edit: impl FnOnce(&mut JobSpec),
        default_zone: &str,
        now: DateTime<Utc>,
    ) -> Result<Edited, StoreError> {
        self.write_jobs(|tx| {
            let before = resolve(tx, id_or_name)?;
            let mut spec = spec_of(&before);
            edit(&mut spec);
            replace_in(tx, before, &spec, None, default_zone, now)
        })
    }

    /// Make the job set match `declared`: jobs are matched by name; a declared job that is
    /// missing is added, one that differs is changed as [`Store::edit_job`] changes it, and
    /// with `prune` every job not declared is removed (its history stays). All or nothing, in
    /// one transaction; with `dry_run` nothing is written and the result says what would be.
    /// A declared job the store refuses is [`StoreError::Declared`], with its index in
    /// `declared`.
    pub fn apply_jobs(
        &self,
        declared: &[Declared],
        prune: bool,
        dry_run: bool,
        default_zone: &str,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let mut names = BTreeSet::new();
        for entry in declared {
            let name =
                entry.spec.name.as_deref().ok_or_else(|| {
                    StoreError::Invalid("every declared job needs a name".to_owned())
                })?;
            if !names.insert(name.to_lowercase()) {
                return Err(StoreError::Invalid(format!(
                    "job `{}` is declared twice (names are case-insensitive)",
                    name.escape_debug()
                )));
            }
        }
        let body = |tx: &Transaction<'_>| {
            let mut applied = Applied::default();
            for (index, entry) in declared.iter().enumerate() {
                // A declared job without a zone is in the host's, as a new one would be (an
                // edit, by contrast, leaves the zone it does not name).
                let mut entry = entry.clone();
                entry
                    .spec
                    .timezone
                    .get_or_insert_with(|| default_zone.to_owned());
                let entry = &entry;
                let name = entry.spec.name.as_deref().unwrap_or_default();
                let existing = resolve_name(tx, name)?;
                let described = |e: StoreError| StoreError::Declared {
                    index,
                    name: name.to_owned(),
                    source: Box::new(e),
                };
                match existing {
                    None => {
                        let prepared =
                            prepare(&entry.spec, default_zone, now).map_err(described)?;
                        let mut job =
                            insert_new(tx, &entry.spec, prepared, now).map_err(described)?;
                        if entry.paused == Some(true) {
                            set_paused(tx, &job.id, true, now)?;
                            job = get(tx, &job.id)?;
                        }
                        applied.added.push(job);
                    }
                    Some(before) => {
                        let edited =
                            replace_in(tx, before, &entry.spec, entry.paused, default_zone, now)
                                .map_err(described)?;
                        if edited.changes().is_empty() {
                            applied.unchanged.push(edited.after);
                        } else {
                            applied.changed.push(edited);
                        }
                    }
                }
            }
            if prune {
                let mut statement = tx
                    .prepare_cached(&format!(
                        "SELECT {} FROM jobs ORDER BY name_key",
                        super::jobs::JOB_COLUMNS
                    ))
                    .map_err(sql)?;
                let all = statement
                    .query_map([], super::jobs::job_from_row)
                    .map_err(sql)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql)?;
                for job in all {
                    if !names.contains(&job.name.to_lowercase()) {
                        tx.exec_cached("DELETE FROM jobs WHERE id = ?1", params![job.id])
                            .map_err(sql)?;
                        applied.removed.push(job);
                    }
                }
            }
            Ok(applied)
        };
        if dry_run {
            self.write_then_roll_back(body)
        } else {
            self.write_jobs(body)
        }
    }
}

/// Pause (or resume) a job as part of a definition change.
fn set_paused(
    tx: &Transaction<'_>,
    id: &str,
    paused: bool,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if paused {
        tx.exec_cached(
            "UPDATE jobs SET paused_at = ?2 WHERE id = ?1 AND paused_at IS NULL",
            params![id, to_ms(now)],
        )
    } else {
        tx.exec_cached(
            "UPDATE jobs SET paused_at = NULL, pause_reason = NULL WHERE id = ?1",
            params![id],
        )
    }
    .map_err(sql)?;
    Ok(())
}

/// Replace `before`'s definition with `spec` (and its pause state with `paused`, when given).
pub(super) fn replace_in(
    tx: &Transaction<'_>,
    before: Job,
    spec: &JobSpec,
    paused: Option<bool>,
    default_zone: &str,
    now: DateTime<Utc>,
) -> Result<Edited, StoreError> {
    let mut spec = spec.clone();
    // A spec without a name keeps the job's; without a zone, the job's (not the default:
    // an edit that does not name the zone must not move the job to another one).
    spec.name.get_or_insert_with(|| before.name.clone());
    spec.timezone.get_or_insert_with(|| before.timezone.clone());
    let name = spec.name.clone().unwrap_or_default();
    // The schedule is parsed anew when its text changes, or its zone for a cron schedule (an
    // interval or a one-shot is an instant, whatever the zone): an unchanged one-shot whose
    // instant has passed (or `in 10m`, which would mean another instant now) stays.
    let text_changed = spec.schedule.trim() != before.schedule_text;
    let zone_changed = spec.timezone.as_deref() != Some(before.timezone.as_str());
    let read_in_zone = matches!(
        before.parsed_schedule(),
        Ok(crate::schedule::Schedule::Cron(_))
    );
    let schedule_moved = text_changed || (zone_changed && read_in_zone);
    // The job's jitter offset, before and after (a new window gives a new offset).
    let (old_shift, new_shift) = (
        before.jitter(),
        super::spread::jitter_shift(&before.id, spec.jitter_ms),
    );
    let (schedule, zone, next_run, default_repeat) = if schedule_moved {
        let prepared = prepare(&spec, default_zone, now)?;
        let first_run = Some(prepared.first_run(&before.id, now)?);
        (
            prepared.schedule,
            prepared.zone,
            first_run.map(|at| at + new_shift),
            prepared.repeat_limit,
        )
    } else {
        check_definition(&spec)?;
        (
            before.parsed_schedule()?,
            match &spec.timezone {
                Some(zone) => crate::schedule::parse_zone(zone)?.name().to_owned(),
                None => before.timezone.clone(),
            },
            before.next_run.map(|at| at - old_shift + new_shift),
            before.repeat_limit,
        )
    };
    let repeat_limit = match spec.repeat {
        Some(Repeat::Forever) => None,
        Some(Repeat::Times(n)) => Some(n),
        None if schedule_moved => default_repeat,
        None => match before.parsed_schedule().is_ok_and(|s| s.is_one_shot()) {
            true => Some(1),
            false => None,
        },
    };
    if name.to_lowercase() != before.name.to_lowercase() {
        if resolve_name(tx, &name)?.is_some() {
            return Err(StoreError::NameTaken(name));
        }
        check_apart(tx, &before.id, &name)?;
    }
    let repeats_changed = repeat_limit != before.repeat_limit;
    let mut completed_count = before.completed_count;
    let mut completed_at = before.completed_at;
    let mut next = next_run;
    if before.completed_at.is_some() && (text_changed || repeats_changed) {
        // A completed job given a new schedule or repeat count starts a new series.
        completed_count = 0;
        completed_at = None;
        if next.is_none() {
            next = schedule
                .next_after(now - new_shift, crate::schedule::parse_zone(&zone)?)
                .map(|at| at + new_shift);
        }
    }
    if repeat_limit.is_some_and(|limit| completed_count >= limit) {
        completed_at = completed_at.or(Some(now));
        next = None;
    }
    if next.is_none() && completed_at.is_none() {
        // Nothing left to fire (a one-shot whose instant has passed): completed, not an
        // active job that never fires.
        completed_at = Some(now);
    }
    // Fewer retries than the pending one's attempt: it is called off.
    let cancel_retry = before
        .retry
        .is_some_and(|pending| pending.attempt > spec.retries);
    tx.exec_cached(
        "UPDATE jobs SET name = ?2, name_key = ?3, command = ?4, shell = ?5, workdir = ?6, env = ?7,
            schedule_text = ?8, schedule = ?9, timezone = ?10, repeat_limit = ?11,
            timeout_secs = ?12, catch_up = ?13, overlap = ?14, next_run = ?15,
            completed_count = ?16, completed_at = ?17, run_retention = ?18,
            run_retention_days = ?19, retries = ?20, retry_delay_secs = ?21, jitter_ms = ?22,
            on_failure = ?23, handler = ?25,
            retry_at = CASE WHEN ?24 THEN NULL ELSE retry_at END,
            retry_attempt = CASE WHEN ?24 THEN 0 ELSE retry_attempt END,
            retry_of = CASE WHEN ?24 THEN NULL ELSE retry_of END
         WHERE id = ?1",
        params![
            before.id,
            name,
            name.to_lowercase(),
            serde_json::to_string(&spec.command).unwrap_or_default(),
            spec.shell,
            spec.workdir,
            serde_json::to_string(&spec.env).unwrap_or_default(),
            spec.schedule.trim(),
            schedule.canonical(),
            zone,
            repeat_limit,
            spec.timeout_secs,
            spec.catch_up.as_str(),
            spec.overlap.as_str(),
            next.map(to_ms),
            completed_count,
            completed_at.map(to_ms),
            spec.run_retention,
            spec.run_retention_days,
            spec.retries,
            spec.retry_delay_secs,
            spec.jitter_ms,
            spec.on_failure,
            cancel_retry,
            spec.handler,
        ],
    )
    .map_err(|e| match super::jobs::is_unique_violation(&e) {
        true => StoreError::NameTaken(name.clone()),
        false => sql(e),
    })?;
    if let Some(paused) = paused {
        if paused != before.paused_at.is_some() {
            set_paused(tx, &before.id, paused, now)?;
            if !paused {
                resume_next_run(tx, &before.id, now)?;
            }
        }
    }
    let after = get(tx, &before.id)?;
    Ok(Edited { before, after })
}

/// After a resume: a next run in the past moves to the next future occurrence.
fn resume_next_run(tx: &Transaction<'_>, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    let job = get(tx, id)?;
    if let Some(next) = job.next_run.filter(|next| *next <= now) {
        let future = super::timeline::Timeline::of(&job)?.next_future(next, now);
        tx.exec_cached(
            "UPDATE jobs SET next_run = ?2 WHERE id = ?1",
            params![id, future.map(to_ms)],
        )
        .map_err(sql)?;
    }
    Ok(())
}
