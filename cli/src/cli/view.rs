//! What `--json` prints: views of jobs and runs, apart from the store's rows, so a field added
//! to a row changes no document until a view adds it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cronhost::store::{CatchUp, Job, Overlap, Run, RunReason, RunStatus};
use serde::Serialize;

/// A job in `jobs list --json` and `jobs show --json`.
#[derive(Serialize)]
pub struct JobView<'a> {
    id: &'a str,
    name: &'a str,
    command: &'a [String],
    shell: bool,
    workdir: Option<&'a str>,
    env: &'a BTreeMap<String, String>,
    schedule_text: &'a str,
    schedule: &'a str,
    /// The schedule in plain words, in the job's zone.
    description: String,
    timezone: &'a str,
    repeat_limit: Option<u32>,
    completed_count: u32,
    enabled: bool,
    paused_at: Option<DateTime<Utc>>,
    pause_reason: Option<&'a str>,
    /// Null while paused: a paused job has no next run (the store keeps the instant to resume
    /// an interval on its grid).
    next_run: Option<DateTime<Utc>>,
    last_run: Option<DateTime<Utc>>,
    last_status: Option<RunStatus>,
    last_error: Option<&'a str>,
    failure_streak: u32,
    timeout_secs: Option<u64>,
    catch_up: CatchUp,
    overlap: Overlap,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    /// The job's own run retention; `null`: the host's `cron.run_retention`.
    run_retention: Option<u32>,
    /// The job's own age limit in days; `null`: the host's `cron.run_retention_days`.
    run_retention_days: Option<u32>,
    retries: u32,
    retry_delay_secs: u64,
    jitter_ms: u64,
    /// This job's fixed offset within its jitter window.
    jitter_offset_ms: i64,
    on_failure: Option<&'a str>,
    /// The in-process handler that runs it, if any (its command is then empty).
    handler: Option<&'a str>,
    /// The pending retry, if any.
    retry: Option<RetryView>,
}

impl<'a> From<&'a Job> for JobView<'a> {
    fn from(job: &'a Job) -> Self {
        Self {
            id: &job.id,
            name: &job.name,
            command: &job.command,
            shell: job.shell,
            workdir: job.workdir.as_deref(),
            env: &job.env,
            schedule_text: &job.schedule_text,
            schedule: &job.schedule,
            description: job.describe_schedule(),
            timezone: &job.timezone,
            repeat_limit: job.repeat_limit,
            completed_count: job.completed_count,
            enabled: job.enabled,
            paused_at: job.paused_at,
            pause_reason: job.pause_reason.as_deref(),
            next_run: job.next_run.filter(|_| job.paused_at.is_none()),
            last_run: job.last_run,
            last_status: job.last_status,
            last_error: job.last_error.as_deref(),
            failure_streak: job.failure_streak,
            timeout_secs: job.timeout_secs,
            catch_up: job.catch_up,
            overlap: job.overlap,
            created_at: job.created_at,
            completed_at: job.completed_at,
            run_retention: job.run_retention,
            run_retention_days: job.run_retention_days,
            retries: job.retries,
            retry_delay_secs: job.retry_delay_secs,
            jitter_ms: job.jitter_ms,
            jitter_offset_ms: job.jitter().num_milliseconds(),
            on_failure: job.on_failure.as_deref(),
            handler: job.handler.as_deref(),
            retry: job.retry.map(|retry| RetryView {
                at: retry.at,
                attempt: retry.attempt,
                of: retry.of,
            }),
        }
    }
}

/// A pending retry in a job's view.
#[derive(Serialize)]
pub struct RetryView {
    at: DateTime<Utc>,
    attempt: u32,
    of: DateTime<Utc>,
}

/// A run in `runs --json`.
#[derive(Serialize)]
pub struct RunView<'a> {
    id: &'a str,
    job_id: &'a str,
    scheduled_at: DateTime<Utc>,
    claimed_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    status: RunStatus,
    reason: Option<&'a RunReason>,
    exit_code: Option<i32>,
    error: Option<&'a str>,
    host: &'a str,
    pid: u32,
    child_pid: Option<u32>,
    lateness_ms: Option<i64>,
    attempt: u32,
    retry_of: Option<DateTime<Utc>>,
}

impl<'a> From<&'a Run> for RunView<'a> {
    fn from(run: &'a Run) -> Self {
        Self {
            id: &run.id,
            job_id: &run.job_id,
            scheduled_at: run.scheduled_at,
            claimed_at: run.claimed_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            status: run.status,
            reason: run.reason.as_ref(),
            exit_code: run.exit_code,
            error: run.error.as_deref(),
            host: &run.host,
            pid: run.pid,
            child_pid: run.child_pid,
            lateness_ms: run.lateness_ms,
            attempt: run.attempt,
            retry_of: run.retry_of,
        }
    }
}
