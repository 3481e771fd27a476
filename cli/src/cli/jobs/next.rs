//! `jobs next`: when a job or a schedule fires, after now or any instant (like
//! `systemd-analyze calendar --base-time`), and the schedule in plain words.

use chrono::{DateTime, Utc};
use cronhost::schedule::Tz;
use cronhost::schedule::{format_local, parse_instant, parse_zone, Schedule, ScheduleError};
use cronhost::status::relative;
use cronhost::store::{Job, Store, StoreError};
use cronhost::text::for_terminal;
use serde::Serialize;

use crate::cli::{print_document, CliError, Context, EXIT_OK};

/// What was asked.
pub(in crate::cli) struct Preview<'a> {
    /// A job's id or name, or a schedule.
    pub target: &'a str,
    /// `--from`.
    pub from: Option<&'a str>,
    /// `--tz`.
    pub tz: Option<&'a str>,
    /// `--count`.
    pub count: usize,
    /// `--json`.
    pub json: bool,
}

/// The `cronhost-next` document.
#[derive(Serialize)]
struct NextView<'a> {
    /// The job previewed; null for a schedule.
    job: Option<&'a str>,
    schedule: &'a str,
    zone: &'a str,
    description: &'a str,
    /// What to know about these instants (an example for `H`, a paused job, Quartz weekday
    /// numbers); null when nothing.
    note: Option<&'a str>,
    from: DateTime<Utc>,
    next: &'a [DateTime<Utc>],
}

pub(in crate::cli) fn run(context: &Context, ask: &Preview<'_>) -> Result<i32, CliError> {
    let now = Utc::now();
    let (job, lookup_error) = match find_job(context, ask.target) {
        Ok(job) => (job, None),
        Err(e) => (None, Some(e)),
    };
    let (zone, from, description, instants, note) = match &job {
        Some(job) => {
            let zone = job.zone();
            if let Some(tz) = ask.tz {
                if parse_zone(tz).ok() != Some(zone) {
                    return Err(CliError::usage(format!(
                        "job {} runs in its own zone, {}; --tz sets the zone of a schedule, not of a job (change it with `jobs edit {} --tz ZONE`)",
                        for_terminal(&job.name),
                        zone.name(),
                        for_terminal(&job.id)
                    )));
                }
            }
            let from = start(ask.from, zone, now)?;
            let instants = job
                .occurrences_after(from, ask.count)
                .map_err(|e| CliError::failure(e.to_string()))?;
            let note = match (job.completed_at, job.paused_at) {
                (Some(_), _) => Some("completed: it fires no more"),
                (_, Some(_)) => Some("paused: these are the times it would fire"),
                _ => job.parsed_schedule().ok().and_then(|s| s.caution()),
            };
            (zone, from, job.describe_schedule(), instants, note)
        }
        None => {
            let zone_name = ask.tz.unwrap_or(&context.config.cron.timezone);
            let zone = parse_zone(zone_name).map_err(|e| CliError::usage(e.to_string()))?;
            let from = start(ask.from, zone, now)?;
            let schedule = match Schedule::parse(ask.target, zone, from) {
                // A preview of what is over shows that nothing is left, not a refusal.
                Err(ScheduleError::InThePast { .. } | ScheduleError::NeverFires(_)) => {
                    Schedule::parse(ask.target, zone, DateTime::UNIX_EPOCH)
                }
                parsed => parsed,
            }
            .map_err(|e| {
                CliError::usage(match lookup_error {
                    Some(lookup) => format!("{e} (and it is not a job here: {lookup})"),
                    None => e.to_string(),
                })
            })?;
            let note = match &schedule {
                Schedule::Cron(cron) if cron.uses_hash() => Some(
                    "`H` picks its values per job, from the job's id: these instants are an example; `jobs next JOB` shows a job's own",
                ),
                other => other.caution(),
            };
            let mut instants = Vec::new();
            let mut at = match &schedule {
                // A one-shot up to the tolerance before `from` still shows (it would fire).
                Schedule::Once(at)
                    if from - *at
                        <= chrono::Duration::from_std(
                            cronhost::schedule::ONE_SHOT_PAST_TOLERANCE,
                        )
                        .unwrap_or_default() =>
                {
                    (*at).min(from) - chrono::Duration::milliseconds(1)
                }
                _ => from,
            };
            while instants.len() < ask.count {
                let Some(next) = schedule.next_after(at, zone) else {
                    break;
                };
                instants.push(next);
                at = next;
            }
            (zone, from, schedule.describe(zone), instants, note)
        }
    };
    if ask.json {
        print_document(
            "cronhost-next",
            &NextView {
                job: job.as_ref().map(|job| job.id.as_str()),
                schedule: job.as_ref().map_or(ask.target, |job| &job.schedule_text),
                zone: zone.name(),
                description: &description,
                note,
                from,
                next: &instants,
            },
        )?;
        return Ok(EXIT_OK);
    }
    match &job {
        Some(job) => outln!(
            "{} ({}): {}",
            for_terminal(&job.name),
            job.id,
            for_terminal(&description)
        ),
        None => outln!("{}", for_terminal(&description)),
    }
    if let Some(note) = note {
        outln!("({note})");
    }
    if instants.is_empty() && job.as_ref().is_none_or(|job| job.completed_at.is_none()) {
        outln!("no fire time after {}", format_local(from, zone));
    }
    for at in &instants {
        outln!(
            "{}  {}  ({})",
            at.to_rfc3339(),
            format_local(*at, zone),
            relative(*at, now)
        );
    }
    Ok(EXIT_OK)
}

/// `--from`, read in `zone`; now without it.
fn start(from: Option<&str>, zone: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, CliError> {
    let Some(text) = from else {
        return Ok(now);
    };
    parse_instant(text, zone).ok_or_else(|| {
        CliError::usage(format!(
            "--from `{}` is not a time: write RFC 3339 (`2026-03-08T01:30:00-05:00`) or a local time in {} (`2026-03-08 01:30`)",
            for_terminal(text),
            zone.name()
        ))
    })
}

/// The job `target` names, if the home has a store and a job by that id or name; the store is
/// only read, and a home that does not exist is not created.
fn find_job(context: &Context, target: &str) -> Result<Option<Job>, StoreError> {
    let file = context.home.store_file();
    if !file.is_file() {
        return Ok(None);
    }
    match Store::open_read_only(&file)?.job(target) {
        Ok(job) => Ok(Some(job)),
        Err(StoreError::NoSuchJob(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
