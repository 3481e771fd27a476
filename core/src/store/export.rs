//! The `jobs export` document: each job's definition and the operator's state (paused,
//! repeats done, next run), versioned, and without runtime state (last status, last error,
//! failure streak), which belongs to the host that ran the job.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::jobs::{CatchUp, Job, Overlap};
use super::RunStatus;

/// The `format` of a `jobs export` document.
pub const EXPORT_FORMAT: &str = "cronhost-jobs";

/// The newest document version this cronhost writes and reads.
pub const EXPORT_VERSION: u32 = 1;

/// A `jobs export` document.
///
/// ```
/// use cronhost_core::store::JobsExport;
///
/// let document = JobsExport::parse(r#"{"format": "cronhost-jobs", "version": 1, "jobs": []}"#)?;
/// assert!(document.jobs.is_empty());
/// assert!(JobsExport::parse(r#"{"format": "cronhost-jobs", "version": 2, "jobs": []}"#).is_err());
/// # Ok::<(), cronhost_core::store::ExportError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobsExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// The document's version ([`EXPORT_VERSION`] when written by this cronhost).
    pub version: u32,
    /// The jobs.
    pub jobs: Vec<ExportedJob>,
}

/// One job in a [`JobsExport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ExportedJob {
    /// Kept on import, so the job has the same id everywhere.
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
    /// Fires so far (counts toward `repeat_limit`).
    pub completed_count: u32,
    /// False once completed or disabled.
    pub enabled: bool,
    /// When it was paused.
    pub paused_at: Option<DateTime<Utc>>,
    /// Why.
    pub pause_reason: Option<String>,
    /// The next scheduled instant (keeps a one-shot's instant and a period's phase).
    pub next_run: Option<DateTime<Utc>>,
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
    /// Runs kept (0 = no count limit); absent: the importing host's `cron.run_retention`.
    /// Optional and written only when set, so documents of jobs without one read the same
    /// in every version 1 reader, and older documents import unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_retention: Option<u32>,
    /// Days of runs kept (0 = no age limit); absent: the host's `cron.run_retention_days`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_retention_days: Option<u32>,
    /// Retries of a failed scheduled run; absent: none. (Like the fields below, written only
    /// when not the default, so documents of jobs without them read the same everywhere.)
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Seconds before the first retry; absent: 10.
    #[serde(
        default = "default_retry_delay",
        skip_serializing_if = "is_default_retry_delay"
    )]
    pub retry_delay_secs: u64,
    /// The jitter window in milliseconds; absent: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub jitter_ms: u64,
    /// The on-failure shell command; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// The in-process handler that runs it (no command then); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
}

fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn default_retry_delay() -> u64 {
    super::DEFAULT_RETRY_DELAY_SECS
}

fn is_default_retry_delay(secs: &u64) -> bool {
    *secs == super::DEFAULT_RETRY_DELAY_SECS
}

/// A `jobs import` file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Not JSON of either form, or a job in it is malformed.
    #[error("{0}")]
    Malformed(#[from] serde_json::Error),
    /// Another kind of document.
    #[error("its format is `{0}`, not `cronhost-jobs`")]
    OtherFormat(String),
    /// Version 0: no cronhost writes it.
    #[error(
        "it claims version 0 of the export format, which no cronhost writes (versions start at 1)"
    )]
    NoSuchVersion,
    /// Written by a newer cronhost.
    #[error("it is version {0} of the export format; this cronhost reads versions up to {EXPORT_VERSION}: upgrade cronhost")]
    TooNew(u32),
}

/// A job as cronhost exported it before documents were versioned: a full row, whose runtime
/// state is read (a malformed `last_status` is still refused) and dropped.
#[derive(Deserialize)]
struct Legacy {
    #[serde(flatten)]
    job: ExportedJob,
    #[serde(
        default,
        rename = "last_status",
        deserialize_with = "super::jobs::last_status"
    )]
    _last_status: Option<RunStatus>,
    #[serde(default, rename = "last_run")]
    _last_run: Option<DateTime<Utc>>,
    #[serde(default, rename = "last_error")]
    _last_error: Option<String>,
    #[serde(default, rename = "failure_streak")]
    _failure_streak: u32,
}

impl JobsExport {
    /// The document for `jobs`.
    pub fn new<'a>(jobs: impl IntoIterator<Item = &'a Job>) -> Self {
        Self::new_from(jobs.into_iter().map(ExportedJob::from).collect())
    }

    /// Read a document, or the bare array of jobs an earlier cronhost wrote.
    pub fn parse(text: &str) -> Result<Self, ExportError> {
        if text.trim_start().starts_with('[') {
            let legacy: Vec<Legacy> = serde_json::from_str(text)?;
            return Ok(Self::new_from(legacy.into_iter().map(|l| l.job).collect()));
        }
        let document: Self = serde_json::from_str(text)?;
        if document.format != EXPORT_FORMAT {
            return Err(ExportError::OtherFormat(
                document.format.escape_debug().to_string(),
            ));
        }
        if document.version > EXPORT_VERSION {
            return Err(ExportError::TooNew(document.version));
        }
        if document.version == 0 {
            return Err(ExportError::NoSuchVersion);
        }
        Ok(document)
    }

    fn new_from(jobs: Vec<ExportedJob>) -> Self {
        Self {
            format: EXPORT_FORMAT.to_owned(),
            version: EXPORT_VERSION,
            jobs,
        }
    }
}

impl From<&Job> for ExportedJob {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id.clone(),
            name: job.name.clone(),
            command: job.command.clone(),
            shell: job.shell,
            workdir: job.workdir.clone(),
            env: job.env.clone(),
            schedule_text: job.schedule_text.clone(),
            schedule: job.schedule.clone(),
            timezone: job.timezone.clone(),
            repeat_limit: job.repeat_limit,
            completed_count: job.completed_count,
            enabled: job.enabled,
            paused_at: job.paused_at,
            pause_reason: job.pause_reason.clone(),
            next_run: job.next_run,
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
            on_failure: job.on_failure.clone(),
            handler: job.handler.clone(),
        }
    }
}

impl ExportedJob {
    /// The row to store: the definition, with no runtime state of its own yet.
    pub(crate) fn to_row(&self) -> Job {
        Job {
            id: self.id.clone(),
            name: self.name.clone(),
            command: self.command.clone(),
            shell: self.shell,
            workdir: self.workdir.clone(),
            env: self.env.clone(),
            schedule_text: self.schedule_text.clone(),
            schedule: self.schedule.clone(),
            timezone: self.timezone.clone(),
            repeat_limit: self.repeat_limit,
            completed_count: self.completed_count,
            enabled: self.enabled,
            paused_at: self.paused_at,
            pause_reason: self.pause_reason.clone(),
            next_run: self.next_run,
            last_run: None,
            last_status: None,
            last_error: None,
            failure_streak: 0,
            timeout_secs: self.timeout_secs,
            catch_up: self.catch_up,
            overlap: self.overlap,
            created_at: self.created_at,
            completed_at: self.completed_at,
            run_retention: self.run_retention,
            run_retention_days: self.run_retention_days,
            retries: self.retries,
            retry_delay_secs: self.retry_delay_secs,
            jitter_ms: self.jitter_ms,
            on_failure: self.on_failure.clone(),
            // A pending retry belongs to the host whose run failed.
            retry: None,
            handler: self.handler.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_legacy_array_is_read_and_its_runtime_state_dropped_but_checked() {
        let row = serde_json::json!({
            "id": "j1", "name": "a", "command": ["true"], "shell": false, "workdir": null,
            "env": {}, "schedule_text": "every 5m", "schedule": "every:300", "timezone": "UTC",
            "repeat_limit": null, "completed_count": 0, "enabled": true, "paused_at": null,
            "pause_reason": null, "next_run": null, "last_run": null,
            "last_status": "succeeded", "last_error": "boom", "failure_streak": 3,
            "timeout_secs": null, "catch_up": "once", "overlap": "skip",
            "created_at": "2026-01-01T00:00:00Z", "completed_at": null,
        });
        let document = JobsExport::parse(&serde_json::json!([row]).to_string()).unwrap();
        let stored = document.jobs[0].to_row();
        assert_eq!((stored.last_status, stored.failure_streak), (None, 0));
        assert_eq!(stored.last_error, None);

        let mut bad = row.clone();
        bad["last_status"] = "\u{1b}]0;owned\u{7}".into();
        let error = JobsExport::parse(&serde_json::json!([bad]).to_string()).unwrap_err();
        assert!(error.to_string().contains("last_status"), "{error}");
    }

    #[test]
    fn a_document_refuses_runtime_state_and_other_formats() {
        let document =
            r#"{"format": "cronhost-jobs", "version": 1, "jobs": [{"last_status": "succeeded"}]}"#;
        assert!(JobsExport::parse(document).is_err());
        let other = r#"{"format": "crontab", "version": 1, "jobs": []}"#;
        assert!(matches!(
            JobsExport::parse(other),
            Err(ExportError::OtherFormat(_))
        ));
        let zero = r#"{"format": "cronhost-jobs", "version": 0, "jobs": []}"#;
        assert!(matches!(
            JobsExport::parse(zero),
            Err(ExportError::NoSuchVersion)
        ));
    }

    fn job_json() -> serde_json::Value {
        serde_json::json!({
            "id": "j1", "name": "a", "command": ["true"], "shell": false, "workdir": null,
            "env": {}, "schedule_text": "every 5m", "schedule": "every:300", "timezone": "UTC",
            "repeat_limit": null, "completed_count": 0, "enabled": true, "paused_at": null,
            "pause_reason": null, "next_run": null, "timeout_secs": null, "catch_up": "once",
            "overlap": "skip", "created_at": "2026-01-01T00:00:00Z", "completed_at": null,
        })
    }

    #[test]
    fn a_run_retention_is_optional_and_written_only_when_set() {
        let document = |job: serde_json::Value| {
            serde_json::json!({"format": "cronhost-jobs", "version": 1, "jobs": [job]}).to_string()
        };
        // A version 1 document from before run retention: read, no retention of its own.
        let old = JobsExport::parse(&document(job_json())).unwrap();
        let row = old.jobs[0].to_row();
        assert_eq!((row.run_retention, row.run_retention_days), (None, None));
        // Written back without the fields, so older readers read it as before.
        let written = serde_json::to_value(JobsExport::new([&row])).unwrap();
        assert!(
            written["jobs"][0].get("run_retention").is_none(),
            "{written}"
        );
        assert_eq!(written["version"], 1);

        let mut with = job_json();
        with["run_retention"] = 10.into();
        with["run_retention_days"] = 0.into();
        let row = JobsExport::parse(&document(with)).unwrap().jobs[0].to_row();
        assert_eq!(
            (row.run_retention, row.run_retention_days),
            (Some(10), Some(0))
        );
        let written = serde_json::to_value(JobsExport::new([&row])).unwrap();
        assert_eq!(written["jobs"][0]["run_retention"], 10);
        assert_eq!(written["jobs"][0]["run_retention_days"], 0);

        let mut negative = job_json();
        negative["run_retention"] = (-1).into();
        assert!(JobsExport::parse(&document(negative)).is_err());
    }
}
