//! `jobs import`: jobs from a `jobs export` document, kept under their ids, added or (with
//! `--replace`) given the document's definition through the edit's rules.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::jobs::{canonical_sequence, check_apart, get, insert_row, resolve_name, Job};
use super::{sql, validate, Cached, Store, StoreError};
use crate::schedule::{parse_zone, Schedule};

impl Store {
    /// Import jobs exported by `jobs export`, keeping their ids. All or nothing: a file with a
    /// bad job, or a job whose id or name is taken here by a different job, changes nothing.
    /// A job already here with the same id is left as it is ([`Import::Add`]: import is
    /// idempotent) or given the document's definition and pause state ([`Import::Replace`],
    /// found by id, else by name; it keeps its id here, its history and its runtime state).
    pub fn import_jobs(
        &self,
        exported: &[super::ExportedJob],
        mode: Import,
        now: DateTime<Utc>,
    ) -> Result<Imported, StoreError> {
        // One entry per job: a document naming one twice (by id, or by names equal but for
        // case) would have the last entry win silently. (A set of keys, so a million jobs
        // cost a million lookups, not a scan per job.)
        let mut seen = std::collections::HashSet::with_capacity(exported.len() * 2);
        for job in exported {
            for key in [
                format!("id {}", job.id),
                format!("name {}", job.name.to_lowercase()),
            ] {
                if !seen.insert(key) {
                    return Err(StoreError::Invalid(format!(
                        "job `{}` (id `{}`) appears twice in the document (ids and case-insensitive names must be unique); nothing was imported",
                        job.name.escape_debug(),
                        job.id.escape_debug()
                    )));
                }
            }
        }
        drop(seen);
        // Each job's row is made where it is needed, so the document is never held twice.
        for (index, job) in exported.iter().enumerate() {
            check_imported(&job.to_row(), now).map_err(|e| {
                StoreError::Invalid(format!(
                    "job {} (id `{}`): {e}; nothing was imported",
                    index + 1,
                    job.id.escape_debug()
                ))
            })?;
        }
        self.write_jobs(|tx| {
            let mut imported = Imported::default();
            let mut highest_sequence = None;
            for job in exported {
                let job = &job.to_row();
                let by_id = get(tx, &job.id).ok();
                let here = match (&by_id, mode) {
                    (Some(_), Import::Replace) => by_id,
                    (None, Import::Replace) => resolve_name(tx, &job.name)?,
                    (Some(here), Import::Add) if here.name.to_lowercase() == job.name.to_lowercase() => {
                        imported.unchanged += 1;
                        continue;
                    }
                    (Some(_), Import::Add) => {
                        return Err(StoreError::Invalid(format!(
                            "job id `{}` exists here with another name; nothing was imported (`--replace` renames it)",
                            job.id
                        )))
                    }
                    (None, Import::Add) => None,
                };
                if let Some(here) = here {
                    let paused = Some(job.paused_at.is_some());
                    let edited = super::edit::replace_in(
                        tx,
                        here,
                        &super::edit::spec_of(job),
                        paused,
                        &job.timezone,
                        now,
                    )
                    .map_err(|e| {
                        StoreError::Invalid(format!(
                            "job `{}` (id `{}`): {e}; nothing was imported",
                            job.name.escape_debug(),
                            job.id
                        ))
                    })?;
                    if edited.changes().is_empty() {
                        imported.unchanged += 1;
                    } else {
                        imported.replaced.push(edited);
                    }
                    continue;
                }
                check_apart(tx, &job.id, &job.name)?;
                let timeline = super::timeline::Timeline::of(job)?;
                let next_run = if job.completed_at.is_some() {
                    None
                } else {
                    job.next_run.or_else(|| timeline.next_after(now))
                };
                insert_row(
                    tx,
                    &Job {
                        next_run,
                        ..job.clone()
                    },
                )?;
                imported.added.push(get(tx, &job.id)?);
                highest_sequence = highest_sequence.max(canonical_sequence(&job.id));
            }
            // Never hand out an imported id again.
            if let Some(sequence) = highest_sequence {
                tx.exec_cached(
                    "UPDATE sequence SET value = max(value, ?1) WHERE name = 'job'",
                    params![sequence],
                )
                .map_err(sql)?;
            }
            Ok(imported)
        })
    }
}

/// What `jobs import` does with a job whose id (or, replacing, name) is already here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Import {
    /// Leave it as it is; add only the new jobs.
    #[default]
    Add,
    /// Give it the document's definition and pause state.
    Replace,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Imported {
    /// Jobs added.
    pub added: Vec<Job>,
    /// Jobs given the document's definition, with what changed.
    pub replaced: Vec<super::Edited>,
    /// Jobs already here as the document has them (or, adding, already here at all).
    pub unchanged: usize,
}

/// A job from an export file, held to exactly the rules of `jobs add` (the one validator),
/// plus what only an import can get wrong: the id, the stored schedule and the runtime state.
fn check_imported(job: &Job, now: DateTime<Utc>) -> Result<(), StoreError> {
    if canonical_sequence(&job.id).is_none() {
        return Err(StoreError::Invalid(format!(
            "`{}` is not a cronhost id (`j` and 1 to 12 lowercase base-36 digits, no leading zero)",
            job.id.escape_debug()
        )));
    }
    validate::check(&validate::Definition {
        name: Some(&job.name),
        schedule_text: &job.schedule_text,
        command: &job.command,
        shell: job.shell,
        workdir: job.workdir.as_deref(),
        env: &job.env,
        timeout_secs: job.timeout_secs,
        repeat_limit: job.repeat_limit,
        run_retention: job.run_retention,
        run_retention_days: job.run_retention_days,
        retries: job.retries,
        retry_delay_secs: job.retry_delay_secs,
        jitter_ms: job.jitter_ms,
        on_failure: job.on_failure.as_deref(),
        handler: job.handler.as_deref(),
    })?;
    validate::check_name(&job.name)?;
    let zone = parse_zone(&job.timezone)?;
    let stored = job.parsed_schedule()?;
    // What fires is the stored form; it must be what the text says (and so within the bounds
    // `jobs add` applies). A one-shot's text may be relative (`in 10m`): its instant stands.
    if !stored.is_one_shot() {
        let forms = Schedule::stored_forms(&job.schedule_text, zone, now)?;
        if !forms.iter().any(|form| form.canonical() == job.schedule) {
            return Err(StoreError::Invalid(format!(
                "schedule `{}` does not match its text `{}` (which means `{}`)",
                job.schedule.escape_debug(),
                job.schedule_text.escape_debug(),
                forms[0].canonical()
            )));
        }
    }
    for (what, text) in [
        ("pause_reason", job.pause_reason.as_deref()),
        ("last_error", job.last_error.as_deref()),
    ] {
        if let Some(text) = text {
            validate::check_note(what, text)?;
        }
    }
    Ok(())
}
