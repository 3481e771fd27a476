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
    spec.repeat = Some(job.repeat_limit.map_or(Repeat::Forever, Repeat::Times));
    spec.timeout_secs = job.timeout_secs;
    spec.catch_up = job.catch_up;
    spec.overlap = job.overlap;
    spec.run_retention = job.run_retention;
    spec.run_retention_days = job.run_retention_days;
    spec.retries = job.retries;
    spec.retry_delay_secs = job.retry_delay_secs;
    spec.jitter_ms = job.jitter_ms;
    spec.on_failure = job.on_failure.clone();
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
            for entry in declared {
                let name = entry.spec.name.as_deref().unwrap_or_default();
                let existing = resolve_name(tx, name)?;
                let described = |e: StoreError| {
                    StoreError::Invalid(format!(
                        "job `{}`: {e}; nothing was applied",
                        name.escape_debug()
                    ))
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
    let schedule_moved = spec.schedule.trim() != before.schedule_text
        || spec.timezone.as_deref() != Some(before.timezone.as_str());
    // The schedule is parsed anew only when it or the zone changes: an unchanged one-shot
    // whose instant has passed (or `in 10m`, which would mean another instant now) stays.
    // The job's jitter offset, before and after (a new window gives a new offset).
    let shift = |jitter_ms: u64| {
        chrono::Duration::from_std(super::jitter_offset(
            &before.id,
            std::time::Duration::from_millis(jitter_ms),
        ))
        .unwrap_or_default()
    };
    let (old_shift, new_shift) = (shift(before.jitter_ms), shift(spec.jitter_ms));
    let (schedule, zone, next_run, default_repeat) = if schedule_moved {
        let prepared = prepare(&spec, default_zone, now)?;
        (
            prepared.schedule,
            prepared.zone,
            prepared.next_run.map(|at| at + new_shift),
            prepared.repeat_limit,
        )
    } else {
        check_definition(&spec)?;
        (
            before.parsed_schedule()?,
            before.timezone.clone(),
            before.next_run.map(|at| at - old_shift + new_shift),
            before.repeat_limit,
        )
    };
    let repeat_limit = match spec.repeat {
        Some(Repeat::Forever) => None,
        Some(Repeat::Times(n)) => Some(n),
        None => default_repeat,
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
    if before.completed_at.is_some() && (schedule_moved || repeats_changed) {
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
    tx.exec_cached(
        "UPDATE jobs SET name = ?2, name_key = ?3, command = ?4, shell = ?5, workdir = ?6, env = ?7,
            schedule_text = ?8, schedule = ?9, timezone = ?10, repeat_limit = ?11,
            timeout_secs = ?12, catch_up = ?13, overlap = ?14, next_run = ?15,
            completed_count = ?16, completed_at = ?17, run_retention = ?18,
            run_retention_days = ?19, retries = ?20, retry_delay_secs = ?21, jitter_ms = ?22,
            on_failure = ?23
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

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::{Import, JobsExport, DB_FILE};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const T0: &str = "2026-05-01T12:00:30Z";

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(DB_FILE)).unwrap();
        (dir, store)
    }

    fn named(schedule: &str, name: &str) -> JobSpec {
        let mut spec = JobSpec::new(schedule, ["true"]);
        spec.name = Some(name.into());
        spec
    }

    #[test]
    fn an_edit_keeps_the_id_and_runtime_state_and_moves_the_next_run_only_with_the_schedule() {
        let (_dir, store) = store();
        let job = store
            .add_job(&named("0 * * * *", "hourly"), "UTC", at(T0))
            .unwrap();
        assert_eq!(job.next_run, Some(at("2026-05-01T13:00:00Z")));
        let later = at(T0) + Duration::minutes(5);

        let edited = store
            .edit_job("hourly", |spec| spec.timeout_secs = Some(60), "UTC", later)
            .unwrap();
        assert_eq!(
            edited.after.next_run, job.next_run,
            "same schedule, same next run"
        );
        let changes = edited.changes();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, JobField::Timeout);
        assert_eq!(
            (changes[0].before.as_str(), changes[0].after.as_str()),
            ("none", "60s")
        );

        let edited = store
            .edit_job(
                &job.id,
                |spec| spec.schedule = "*/10 * * * *".into(),
                "UTC",
                later,
            )
            .unwrap();
        assert_eq!(edited.after.id, job.id);
        assert_eq!(edited.after.next_run, Some(at("2026-05-01T12:10:00Z")));
        assert_eq!(edited.after.schedule, "cron:*/10 * * * *");
        assert_eq!(edited.after.created_at, job.created_at);
    }

    #[test]
    fn an_edit_is_checked_as_add_checks_and_a_refused_one_changes_nothing() {
        let (_dir, store) = store();
        store
            .add_job(&named("every 1h", "a"), "UTC", at(T0))
            .unwrap();
        let b = store
            .add_job(&named("every 1h", "b"), "UTC", at(T0))
            .unwrap();
        let refused = [
            store.edit_job(
                "b",
                |s| s.schedule = "every fortnight".into(),
                "UTC",
                at(T0),
            ),
            store.edit_job("b", |s| s.name = Some("A".into()), "UTC", at(T0)),
            store.edit_job(
                "b",
                |s| s.timezone = Some("Mars/Base".into()),
                "UTC",
                at(T0),
            ),
            store.edit_job("b", |s| s.command = vec![], "UTC", at(T0)),
            store.edit_job("b", |s| s.name = Some("j1".into()), "UTC", at(T0)),
        ];
        for result in refused {
            assert!(result.is_err(), "{result:?}");
        }
        assert_eq!(store.job("b").unwrap(), b, "nothing changed");
    }

    #[test]
    fn a_completed_job_given_more_repeats_or_a_new_schedule_runs_again() {
        let (_dir, store) = store();
        let mut spec = named("every 1h", "twice");
        spec.repeat = Some(Repeat::Times(1));
        let job = store.add_job(&spec, "UTC", at(T0)).unwrap();
        // Fire its one repeat.
        let due = job.next_run.unwrap();
        let claimer = crate::store::Claimer {
            host: "h".into(),
            pid: 1,
            max_parallel: 0,
        };
        let claimed = store.claim(&job.id, due, &claimer).unwrap();
        assert!(matches!(claimed, crate::store::ClaimOutcome::Run(_)));
        assert!(store.job("twice").unwrap().completed_at.is_some());

        let edited = store
            .edit_job("twice", |s| s.repeat = Some(Repeat::Times(3)), "UTC", due)
            .unwrap();
        assert_eq!(edited.after.completed_at, None);
        assert!(edited.after.next_run.is_some_and(|next| next > due));
        assert!(edited.after.is_active());
    }

    #[test]
    fn apply_adds_changes_prunes_and_a_second_apply_changes_nothing() {
        let (_dir, store) = store();
        store
            .add_job(&named("every 1h", "old"), "UTC", at(T0))
            .unwrap();
        let keep = store
            .add_job(&named("every 5m", "keep"), "UTC", at(T0))
            .unwrap();
        let declared = vec![
            Declared::new(named("every 10m", "keep")),
            Declared::new(named("0 3 * * *", "new")),
        ];
        // A dry run says what would happen and writes nothing.
        let plan = store
            .apply_jobs(&declared, true, true, "UTC", at(T0))
            .unwrap();
        assert_eq!(plan.added.len(), 1);
        assert_eq!(plan.changed.len(), 1);
        assert_eq!(plan.removed.len(), 1);
        assert_eq!(store.jobs().unwrap().len(), 2);
        assert!(store.job("new").is_err());

        let applied = store
            .apply_jobs(&declared, true, false, "UTC", at(T0))
            .unwrap();
        assert_eq!(applied.added[0].name, "new");
        assert_eq!(applied.changed[0].after.id, keep.id, "changed in place");
        assert_eq!(applied.removed[0].name, "old");
        let again = store
            .apply_jobs(&declared, true, false, "UTC", at(T0))
            .unwrap();
        assert!(!again.changes_anything(), "{again:?}");
        assert_eq!(again.unchanged.len(), 2);
    }

    #[test]
    fn apply_is_all_or_nothing() {
        let (_dir, store) = store();
        store
            .add_job(&named("every 1h", "a"), "UTC", at(T0))
            .unwrap();
        let declared = vec![
            Declared::new(named("every 2h", "a")),
            Declared::new(named("every fortnight", "broken")),
        ];
        let error = store
            .apply_jobs(&declared, true, false, "UTC", at(T0))
            .unwrap_err();
        assert!(error.to_string().contains("broken"), "{error}");
        assert_eq!(store.job("a").unwrap().schedule_text, "every 1h");
        let twice = vec![
            Declared::new(named("every 2h", "x")),
            Declared::new(named("every 3h", "X")),
        ];
        assert!(store
            .apply_jobs(&twice, false, false, "UTC", at(T0))
            .is_err());
    }

    #[test]
    fn apply_pauses_and_resumes_only_when_told() {
        let (_dir, store) = store();
        store
            .add_job(&named("every 1h", "a"), "UTC", at(T0))
            .unwrap();
        store.pause_job("a", Some("incident"), at(T0)).unwrap();
        let untold = vec![Declared::new(named("every 1h", "a"))];
        let applied = store
            .apply_jobs(&untold, false, false, "UTC", at(T0))
            .unwrap();
        assert!(!applied.changes_anything());
        assert!(store.job("a").unwrap().paused_at.is_some(), "left paused");
        let mut resumed = Declared::new(named("every 1h", "a"));
        resumed.paused = Some(false);
        let applied = store
            .apply_jobs(&[resumed], false, false, "UTC", at(T0))
            .unwrap();
        assert_eq!(applied.changed[0].changes()[0].field, JobField::Paused);
        assert!(store.job("a").unwrap().is_active());
    }

    #[test]
    fn import_replace_updates_by_id_or_name_and_keeps_history() {
        let (_dir, source) = store();
        let (_dir2, target) = store();
        source
            .add_job(&named("every 1h", "a"), "UTC", at(T0))
            .unwrap();
        source
            .add_job(&named("every 1h", "b"), "UTC", at(T0))
            .unwrap();
        let exported = JobsExport::new(&source.jobs().unwrap()).jobs;
        target.import_jobs(&exported, Import::Add, at(T0)).unwrap();
        // A job named like one in the document but with another id here.
        target.remove_job("b").unwrap();
        let local_b = target
            .add_job(&named("every 7h", "b"), "UTC", at(T0))
            .unwrap();

        source
            .edit_job("a", |s| s.schedule = "every 2h".into(), "UTC", at(T0))
            .unwrap();
        source
            .edit_job("b", |s| s.timeout_secs = Some(5), "UTC", at(T0))
            .unwrap();
        let exported = JobsExport::new(&source.jobs().unwrap()).jobs;
        // Adding refuses a name held here by another id, and changes nothing.
        let refused = target
            .import_jobs(&exported, Import::Add, at(T0))
            .unwrap_err();
        assert!(matches!(refused, StoreError::NameTaken(_)), "{refused:?}");
        assert_eq!(target.job("a").unwrap().schedule_text, "every 1h");

        let replaced = target
            .import_jobs(&exported, Import::Replace, at(T0))
            .unwrap();
        assert_eq!(replaced.replaced.len(), 2);
        assert_eq!(target.job("a").unwrap().schedule_text, "every 2h");
        let b = target.job("b").unwrap();
        assert_eq!(b.id, local_b.id, "found by name, keeps its id here");
        assert_eq!(b.schedule_text, "every 1h");
        assert_eq!(b.timeout_secs, Some(5));
        let again = target
            .import_jobs(&exported, Import::Replace, at(T0))
            .unwrap();
        assert!(again.replaced.is_empty() && again.added.is_empty());
        assert_eq!(again.unchanged, 2);
    }
}
