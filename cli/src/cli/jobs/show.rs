//! `jobs show`: what runs, when, in the job's own zone; the words `jobs list` shares.

use chrono::Utc;
use cronhost::schedule::format_local;
use cronhost::status::relative;
use cronhost::store::Job;
use cronhost::text::for_terminal;

use crate::cli::Context;

/// The next run in the job's own zone, and how far off it is; `paused` or `completed` when it
/// will not fire.
pub(super) fn describe_next(job: &Job) -> String {
    match (job.paused_at, job.completed_at, job.next_run) {
        (Some(_), _, _) => "none (paused)".into(),
        (_, Some(_), _) => "completed".into(),
        (_, _, Some(at)) => format!(
            "{} ({})",
            format_local(at, job.zone()),
            relative(at, Utc::now())
        ),
        _ => "none".into(),
    }
}

/// The command as a line that pastes back into a shell: each argument quoted where it needs
/// it; a `--shell` job as `sh -c '...'`; an in-process job as its handler.
pub(super) fn command_line(job: &Job) -> String {
    if let Some(handler) = &job.handler {
        format!("(in-process handler `{handler}`)")
    } else if job.shell {
        format!("sh -c {}", shell_quote(&job.command.join(" ")))
    } else {
        shlex::try_join(job.command.iter().map(String::as_str))
            .unwrap_or_else(|_| job.command.join(" "))
    }
}

pub(super) fn print_job(context: &Context, job: &Job) {
    let zone = job.zone();
    let when = |at: Option<chrono::DateTime<Utc>>| {
        at.map(|at| format_local(at, zone))
            .unwrap_or_else(|| "-".into())
    };
    let t = |text: &str| for_terminal(text).into_owned();
    outln!("id:            {}", t(&job.id));
    outln!("name:          {}", t(&job.name));
    match &job.handler {
        Some(handler) => outln!(
            "handler:       {} (in-process: run by the application that registers it)",
            t(handler)
        ),
        None => outln!("command:       {}", t(&command_line(job))),
    }
    outln!(
        "schedule:      {}  ({}, {})",
        t(&job.schedule_text),
        t(&job.schedule),
        job.timezone
    );
    outln!("runs:          {}", t(&job.describe_schedule()));
    outln!(
        "repeat:        {} (fired {})",
        job.repeat_limit
            .map(|n| n.to_string())
            .unwrap_or_else(|| "forever".into()),
        job.completed_count
    );
    outln!("next run:      {}", describe_next(job));
    outln!(
        "last run:      {}  status {}",
        when(job.last_run),
        job.last_status
            .map_or_else(|| "-".to_owned(), |status| status.to_string())
    );
    if let Some(error) = &job.last_error {
        outln!("last error:    {}", t(error));
    }
    outln!("failures:      {} in a row", job.failure_streak);
    if let Some(paused) = job.paused_at {
        outln!(
            "paused:        {} ({})",
            format_local(paused, zone),
            t(job.pause_reason.as_deref().unwrap_or("no reason given"))
        );
    }
    if let Some(done) = job.completed_at {
        outln!("completed:     {}", format_local(done, zone));
    }
    outln!(
        "policies:      catch-up {}, overlap {}, timeout {}",
        job.catch_up.as_str(),
        job.overlap.as_str(),
        job.timeout_secs
            .map(|s| format!("{s}s"))
            .unwrap_or_else(|| "none".into())
    );
    outln!("history:       {}", describe_retention(context, job));
    if job.retries > 0 {
        outln!(
            "retries:       {} (the first {}s after a failure, doubling)",
            job.retries,
            job.retry_delay_secs
        );
    }
    if let Some(retry) = job.retry {
        outln!(
            "retry pending: attempt {} at {} (of the run scheduled {})",
            retry.attempt,
            format_local(retry.at, zone),
            format_local(retry.of, zone)
        );
    }
    if job.jitter_ms > 0 {
        outln!(
            "jitter:        within {}, this job {} after each scheduled time",
            humanize_ms(job.jitter_ms),
            humanize_ms(u64::try_from(job.jitter().num_milliseconds()).unwrap_or(0))
        );
    }
    if let Some(hook) = &job.on_failure {
        outln!("on failure:    sh -c {}", t(&shell_quote(hook)));
    }
    if let Some(dir) = &job.workdir {
        outln!("workdir:       {}", t(dir));
    }
    for (key, value) in &job.env {
        outln!("env:           {}={}", t(key), t(value));
    }
    outln!("created:       {}", format_local(job.created_at, zone));
}

/// `90500` ms as `1m30.5s`, for people.
pub(super) fn humanize_ms(ms: u64) -> String {
    humantime::format_duration(std::time::Duration::from_millis(ms))
        .to_string()
        .replace(' ', "")
}

/// How much of the job's run history is kept; a limit from the host's config names its key.
pub(super) fn describe_retention(context: &Context, job: &Job) -> String {
    let cron = &context.config.cron;
    let limit = |own: Option<u32>, host: u64, key: &str| match own {
        Some(n) => (u64::from(n), String::new()),
        None => (host, format!(" (cron.{key})")),
    };
    let (runs, runs_from) = limit(job.run_retention, cron.run_retention, "run_retention");
    let (days, days_from) = limit(
        job.run_retention_days,
        cron.run_retention_days,
        "run_retention_days",
    );
    let runs = match runs {
        0 => "no count limit".to_owned(),
        n => format!("the newest {n} runs"),
    };
    let days = match days {
        0 => "no age limit".to_owned(),
        n => format!("{n} days"),
    };
    format!("{runs}{runs_from}, {days}{days_from}")
}

/// `text` as one shell word.
pub(super) fn shell_quote(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("{text:?}"))
}
