//! The honest status: is the daemon running, is its ticker alive, are ticks succeeding.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::heartbeat::{Heartbeat, HeartbeatState};
use crate::home::Home;
use crate::lock::DaemonLock;
use cronhost_core::store::{Job, Store, StoreError};

/// The verdict, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// No daemon holds the home's lock: nothing fires.
    NotRunning,
    /// The daemon runs but its ticker's heartbeat is stale or missing.
    Stalled,
    /// The ticker is alive but no tick has succeeded recently.
    Failing,
    /// Alive and firing, but jobs fail (their last run failed) or are overdue.
    JobsFailing,
    /// Alive and ticking cleanly, and no job is failing: jobs will fire.
    Healthy,
}

impl Verdict {
    /// The exit code of `cronhost status`: 0 healthy, 1 jobs do not fire (not running,
    /// stalled, ticks failing), 3 jobs fire but some fail. (2 is the CLI's bad usage.)
    pub fn exit_code(self) -> i32 {
        match self {
            Self::Healthy => 0,
            Self::JobsFailing => 3,
            Self::NotRunning | Self::Stalled | Self::Failing => 1,
        }
    }
}

/// An active job whose last run did not succeed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FailingJob {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// How its last run ended.
    pub last_status: Option<cronhost_core::store::RunStatus>,
    /// Why.
    pub last_error: Option<String>,
    /// Failed runs in a row.
    pub failure_streak: u32,
    /// Its last scheduled run.
    pub last_run: Option<DateTime<Utc>>,
}

/// An active job whose next run is long past while the built-in ticker fires: it is not
/// being fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct OverdueJob {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was due.
    pub next_run: DateTime<Utc>,
}

/// Everything `cronhost status` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatusReport {
    /// The verdict.
    pub verdict: Verdict,
    /// Whether a daemon holds the lock.
    pub running: bool,
    /// Its pid.
    pub pid: Option<u32>,
    /// The trigger beating the heartbeat (`builtin` or a provider).
    pub provider: Option<String>,
    /// Seconds since the last heartbeat.
    pub heartbeat_age_secs: Option<f64>,
    /// Seconds since the last clean tick.
    pub success_age_secs: Option<f64>,
    /// The last tick error, while no clean tick has followed it.
    pub last_error: Option<String>,
    /// Why the built-in ticker stands in for the selected provider.
    pub fallback: Option<String>,
    /// Enabled, unpaused, uncompleted jobs.
    pub active_jobs: usize,
    /// The earliest next run among them.
    pub next_run: Option<DateTime<Utc>>,
    /// Heartbeats older than this many seconds count as stale.
    pub stale_after_secs: f64,
    /// Providers that took a host down and run isolated because of it.
    pub crash_verdicts: Vec<crate::crash_guard::CrashVerdict>,
    /// Bytes free for cronhost on the file system holding the state directory.
    pub free_bytes: Option<u64>,
    /// Inodes (new files) free there; 0 stops new files as surely as 0 bytes.
    pub free_inodes: Option<u64>,
    /// Active jobs whose last run failed, timed out or ended unknown.
    pub failing_jobs: Vec<FailingJob>,
    /// Active jobs the built-in ticker should have fired by now and has not.
    pub overdue_jobs: Vec<OverdueJob>,
    /// How many jobs are failing; `failing_jobs` names at most [`NAMED_JOBS`] of them.
    pub failing_count: usize,
    /// How many jobs are overdue; `overdue_jobs` names at most [`NAMED_JOBS`] of them.
    pub overdue_count: usize,
}

/// The most failing (and overdue) jobs a status report names; the counts say how many there
/// are in all, so a home of a million failing jobs still answers `status` in bounded memory.
pub const NAMED_JOBS: usize = 100;

/// Below this many free bytes the state directory's file system counts as full: SQLite cannot
/// add a page to its log, nor the heartbeat a file.
pub const FULL_BELOW_BYTES: u64 = 64 * 1024;

/// Bytes and inodes available to this user on the file system holding `dir`.
pub fn free_space(dir: &std::path::Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: statvfs fills the zeroed struct from a NUL-terminated path.
        let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
            return None;
        }
        let bytes = (stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64);
        // A file system without an inode limit reports 0 of 0.
        let inodes = if stats.f_files == 0 {
            u64::MAX
        } else {
            stats.f_favail as u64
        };
        Some((bytes, inodes))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Gather the status of `home`.
pub fn gather(home: &Home, config: &Config, store: &Store) -> Result<StatusReport, StoreError> {
    let pid = DaemonLock::holder(&home.state_dir());
    let heartbeat = Heartbeat::read(&home.state_dir()).unwrap_or_default();
    // Counted and picked in SQL: `status` never holds the job set.
    let counts = store.job_counts()?;
    let since = pid.and(DaemonLock::started_at(&home.state_dir()));
    let mut report = judge(
        pid,
        since,
        &heartbeat,
        config.stale_after(),
        usize::try_from(counts.active).unwrap_or(usize::MAX),
        counts.next_run,
        SystemTime::now(),
    );
    let now = Utc::now();
    let overdue_before = watches_overdue(&report).map(|stale| now - stale);
    // A job whose stored schedule cannot be read is paused by its first claim; it is still
    // one that should fire (the store counts it as failing).
    let trouble = store.jobs_in_trouble(overdue_before, NAMED_JOBS)?;
    let mut watched: Vec<&Job> = trouble.failing.iter().collect();
    watched.extend(
        trouble
            .overdue
            .iter()
            .filter(|job| !trouble.failing.iter().any(|f| f.id == job.id)),
    );
    judge_jobs(&mut report, &watched, now);
    report.failing_count = usize::try_from(trouble.failing_count).unwrap_or(usize::MAX);
    report.overdue_count = usize::try_from(trouble.overdue_count).unwrap_or(usize::MAX);
    report.crash_verdicts = crate::crash_guard::CrashGuard::new(&home.state_dir()).verdicts();
    let space = free_space(&home.state_dir());
    report.free_bytes = space.map(|(bytes, _)| bytes);
    report.free_inodes = space.map(|(_, inodes)| inodes).filter(|n| *n != u64::MAX);
    // A full disk stops the store and the heartbeat from being written, so the files cannot
    // say so themselves (they only go stale): a running daemon on a full disk is failing.
    if let (Some((bytes, inodes)), true) = (space, report.running) {
        let full = if bytes < FULL_BELOW_BYTES {
            Some(format!("{bytes} bytes free"))
        } else if inodes == 0 {
            Some("no inodes free: no new file can be made".to_owned())
        } else {
            None
        };
        if let Some(full) = full {
            if matches!(
                report.verdict,
                Verdict::Healthy | Verdict::JobsFailing | Verdict::Stalled
            ) {
                report.verdict = Verdict::Failing;
            }
            report.last_error = Some(format!(
                "the file system holding {} is full ({full}): claims, outcomes and heartbeats cannot be written; firing resumes by itself once space is freed",
                home.state_dir().display()
            ));
        }
    }
    Ok(report)
}

/// The verdict from the facts (pure, for testing every branch).
pub fn judge(
    pid: Option<u32>,
    running_since: Option<SystemTime>,
    heartbeat: &HeartbeatState,
    stale_after: Duration,
    active_jobs: usize,
    next_run: Option<DateTime<Utc>>,
    now: SystemTime,
) -> StatusReport {
    let alive_age = heartbeat.alive_age(now);
    let success_age = heartbeat.success_age(now);
    let verdict = if pid.is_none() {
        Verdict::NotRunning
    } else if alive_age.is_none_or(|age| age > stale_after) {
        Verdict::Stalled
    } else if success_age.map_or_else(
        // No clean tick yet: failing once there is an error, or once the daemon has run longer
        // than the stale limit without one.
        || {
            heartbeat.last_error.is_some()
                || running_since.is_some_and(|since| {
                    now.duration_since(since).unwrap_or_default() > stale_after
                })
        },
        |age| age > stale_after,
    ) {
        Verdict::Failing
    } else {
        Verdict::Healthy
    };
    StatusReport {
        verdict,
        running: pid.is_some(),
        pid,
        provider: Some(heartbeat.trigger.clone()).filter(|t| !t.is_empty()),
        heartbeat_age_secs: alive_age.map(|a| a.as_secs_f64()),
        success_age_secs: success_age.map(|a| a.as_secs_f64()),
        last_error: heartbeat.last_error.clone(),
        fallback: heartbeat.fallback.clone(),
        active_jobs,
        next_run,
        stale_after_secs: stale_after.as_secs_f64(),
        crash_verdicts: Vec::new(),
        free_bytes: None,
        free_inodes: None,
        failing_jobs: Vec::new(),
        overdue_jobs: Vec::new(),
        failing_count: 0,
        overdue_count: 0,
    }
}

/// How long past its next run an active job counts as overdue, when the report's trigger
/// is the built-in ticker (another trigger, a cluster's, may fire a job on another host, so
/// its local next run says nothing here).
fn watches_overdue(report: &StatusReport) -> Option<chrono::Duration> {
    let builtin = report.provider.as_deref() == Some(crate::provider::BUILTIN_NAME);
    builtin.then(|| {
        chrono::Duration::from_std(Duration::from_secs_f64(report.stale_after_secs))
            .unwrap_or_else(|_| chrono::Duration::minutes(1))
    })
}

/// The jobs' part of the verdict (pure): jobs that should fire (`active`: active ones, and
/// those paused because their stored schedule cannot be read) are failing when their last run
/// did not succeed or their schedule cannot be read; while the built-in ticker fires, an active job due longer ago than the stale limit
/// is overdue. Either turns a healthy verdict into [`Verdict::JobsFailing`]. (Another trigger,
/// a cluster's, may fire a job on another host, so its local next run says nothing here.)
pub fn judge_jobs(report: &mut StatusReport, active: &[&Job], now: DateTime<Utc>) {
    report.failing_jobs = active
        .iter()
        .filter_map(|job| {
            let unreadable = job.parsed_schedule().err().map(|e| {
                format!(
                    "cannot fire: {e}; give it a schedule with `cronhost jobs edit {} --schedule ...`",
                    job.id
                )
            });
            let failed = job.last_status.is_some_and(|status| status.is_failure());
            (failed || unreadable.is_some()).then(|| FailingJob {
                id: job.id.clone(),
                name: job.name.clone(),
                last_status: job.last_status,
                last_error: unreadable.or_else(|| job.last_error.clone()),
                failure_streak: job.failure_streak,
                last_run: job.last_run,
            })
        })
        .collect();
    let stale = watches_overdue(report);
    report.overdue_jobs = active
        .iter()
        .filter(|job| job.is_active())
        .filter_map(|job| Some((job, job.next_run?, stale?)))
        .filter(|(_, next, stale)| *next < now - *stale)
        .map(|(job, next, _)| (job, next))
        .map(|(job, next)| OverdueJob {
            id: job.id.clone(),
            name: job.name.clone(),
            next_run: next,
        })
        .collect();
    report.failing_count = report.failing_jobs.len();
    report.overdue_count = report.overdue_jobs.len();
    let jobs_in_trouble = !(report.failing_jobs.is_empty() && report.overdue_jobs.is_empty());
    if report.verdict == Verdict::Healthy && jobs_in_trouble {
        report.verdict = Verdict::JobsFailing;
    }
}

fn secs(age: Option<f64>) -> String {
    age.map_or_else(|| "never".to_owned(), |a| format!("{a:.0}s ago"))
}

impl StatusReport {
    /// The report for people. The first line is the verdict.
    pub fn render(&self, zone: chrono_tz::Tz, now: DateTime<Utc>) -> String {
        let pid = self.pid.unwrap_or(0);
        let mut lines = vec![match self.verdict {
            Verdict::NotRunning => "cronhost is not running — jobs will NOT fire. Start it with `cronhost run`.".to_owned(),
            Verdict::Stalled => format!(
                "STALLED: cronhost runs (pid {pid}) but its ticker's last heartbeat was {} (stale after {:.0}s) — jobs may not fire; restart the daemon.",
                secs(self.heartbeat_age_secs),
                self.stale_after_secs
            ),
            Verdict::Failing => format!(
                "cronhost runs (pid {pid}) and its ticker is alive, but no tick has succeeded (last success {}); last error: {}",
                secs(self.success_age_secs),
                self.last_error.as_deref().unwrap_or("none recorded")
            ),
            Verdict::JobsFailing => format!(
                "cronhost runs (pid {pid}) and fires jobs, but {} of {} active job(s) are failing{}:",
                self.failing_count + self.overdue_count,
                self.active_jobs,
                if self.overdue_jobs.is_empty() { "" } else { " or overdue" }
            ),
            Verdict::Healthy => format!("cronhost runs (pid {pid}) — jobs will fire automatically."),
        }];
        for job in &self.failing_jobs {
            let status = job
                .last_status
                .map_or_else(|| "failed".to_owned(), |s| s.to_string());
            lines.push(format!(
                "failing:     {} ({}): {status}, {} in a row{}{}",
                job.name,
                job.id,
                job.failure_streak.max(1),
                job.last_run
                    .map(|at| format!(", last {}", relative(at, now)))
                    .unwrap_or_default(),
                job.last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        }
        for job in &self.overdue_jobs {
            lines.push(format!(
                "overdue:     {} ({}): due {} and not fired",
                job.name,
                job.id,
                relative(job.next_run, now)
            ));
        }
        let unnamed = (self.failing_count + self.overdue_count)
            .saturating_sub(self.failing_jobs.len() + self.overdue_jobs.len());
        if unnamed > 0 {
            lines.push(format!(
                "             and {unnamed} more (`cronhost jobs list --json` has every job's last status and next run)"
            ));
        }
        if let Some(provider) = &self.provider {
            lines.push(format!("provider:    {provider}"));
        }
        if let Some(fallback) = &self.fallback {
            // With `cron.fallback = "none"` nothing stands in: the trigger is `paused`.
            let standing_in = match self.provider.as_deref() {
                Some("paused") => "nothing fires (cron.fallback = \"none\")",
                _ => "the built-in ticker stands in",
            };
            lines.push(format!("fallback:    {standing_in}: {fallback}"));
        }
        for verdict in &self.crash_verdicts {
            lines.push(format!(
                "crash:       {verdict}; it runs isolated until its file changes or `cronhost providers clear {}`",
                verdict.provider
            ));
        }
        if let (Some(error), Verdict::Healthy) = (&self.last_error, self.verdict) {
            lines.push(format!("last error:  {error}"));
        }
        lines.push(format!("heartbeat:   {}", secs(self.heartbeat_age_secs)));
        lines.push(format!("last success: {}", secs(self.success_age_secs)));
        lines.push(format!("active jobs: {}", self.active_jobs));
        lines.push(format!(
            "next run:    {}",
            self.next_run
                .map(|at| format!(
                    "{} ({})",
                    cronhost_core::schedule::format_local(at, zone),
                    relative(at, now)
                ))
                .unwrap_or_else(|| "none".into())
        ));
        lines.join("\n")
    }
}

/// "in 3m", "5s ago", "now".
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = (at - now).num_seconds();
    let span = |s: i64| match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    };
    match delta {
        0 => "now".into(),
        d if d > 0 => format!("in {}", span(d)),
        d => format!("{} ago", span(-d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cronhost_core::store::RunStatus;

    fn beat(
        alive_ago: Option<u64>,
        success_ago: Option<u64>,
        error: Option<&str>,
        now: SystemTime,
    ) -> HeartbeatState {
        let ms = |ago: u64| {
            (now - Duration::from_secs(ago))
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        HeartbeatState {
            trigger: "builtin".into(),
            alive_at_ms: alive_ago.map(ms),
            success_at_ms: success_ago.map(ms),
            last_error: error.map(str::to_owned),
            fallback: None,
        }
    }

    #[test]
    fn the_four_verdicts() {
        let now = SystemTime::now();
        let stale = Duration::from_secs(23);
        let utc_now = Utc::now();
        let verdict = |pid, hb: HeartbeatState| judge(pid, None, &hb, stale, 1, None, now);

        let report = verdict(None, beat(Some(1), Some(1), None, now));
        assert_eq!(report.verdict, Verdict::NotRunning);
        assert!(report
            .render(chrono_tz::UTC, utc_now)
            .contains("cronhost is not running — jobs will NOT fire"));

        for hb in [
            beat(Some(9_999), Some(9_999), None, now),
            beat(None, None, None, now),
        ] {
            let report = verdict(Some(42), hb);
            assert_eq!(report.verdict, Verdict::Stalled);
            let text = report.render(chrono_tz::UTC, utc_now);
            assert!(
                text.contains("STALLED") && !text.contains("will fire automatically"),
                "{text}"
            );
        }

        let report = verdict(
            Some(42),
            beat(Some(5), Some(9_999), Some("store locked"), now),
        );
        assert_eq!(report.verdict, Verdict::Failing);
        let text = report.render(chrono_tz::UTC, utc_now);
        assert!(
            text.contains("no tick has succeeded") && text.contains("store locked"),
            "{text}"
        );
        assert!(!text.contains("will fire automatically"));

        // Alive but never a clean tick, for longer than the stale limit: failing, not healthy.
        let long_ago = now - Duration::from_secs(600);
        let report = judge(
            Some(42),
            Some(long_ago),
            &beat(Some(5), None, None, now),
            stale,
            1,
            None,
            now,
        );
        assert_eq!(report.verdict, Verdict::Failing);
        let just_started = judge(
            Some(42),
            Some(now),
            &beat(Some(0), None, None, now),
            stale,
            1,
            None,
            now,
        );
        assert_eq!(
            just_started.verdict,
            Verdict::Healthy,
            "the first tick is moments away"
        );

        let report = verdict(Some(42), beat(Some(5), Some(5), None, now));
        assert_eq!(report.verdict, Verdict::Healthy);
        assert!(report
            .render(chrono_tz::UTC, utc_now)
            .contains("will fire automatically"));
    }

    #[test]
    fn failing_jobs_make_a_healthy_daemon_jobs_failing_and_are_named() {
        let now = SystemTime::now();
        let utc_now = Utc::now();
        let mut report = judge(
            Some(42),
            None,
            &beat(Some(1), Some(1), None, now),
            Duration::from_secs(23),
            3,
            None,
            now,
        );
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cronhost.db")).unwrap();
        let job = |name: &str, status: Option<RunStatus>, next: i64| {
            let mut spec = cronhost_core::store::JobSpec::new("every 1h", ["true"]);
            spec.name = Some(name.into());
            let mut job = store.add_job(&spec, "UTC", utc_now).unwrap();
            job.last_status = status;
            job.failure_streak = u32::from(status.is_some_and(|s| s.is_failure())) * 4;
            job.last_error = status
                .filter(|s| s.is_failure())
                .map(|_| "exited with 3".into());
            job.next_run = Some(utc_now + chrono::Duration::seconds(next));
            job
        };
        let fine = job("fine", Some(RunStatus::Succeeded), 60);
        let broken = job("broken", Some(RunStatus::Failed), 60);
        let slow = job("slow", Some(RunStatus::TimedOut), 60);
        let late = job("late", None, -600);
        judge_jobs(&mut report, &[&fine, &broken, &slow], utc_now);
        assert_eq!(report.verdict, Verdict::JobsFailing);
        assert_eq!(report.verdict.exit_code(), 3);
        let names: Vec<_> = report
            .failing_jobs
            .iter()
            .map(|j| j.name.as_str())
            .collect();
        assert_eq!(names, ["broken", "slow"]);
        let text = report.render(chrono_tz::UTC, utc_now);
        assert!(!text.contains("will fire automatically"), "{text}");
        assert!(
            text.contains(&format!("broken ({}): failed, 4 in a row", broken.id)),
            "{text}"
        );
        assert!(text.contains("exited with 3"), "{text}");

        // Overdue counts only while the built-in ticker fires.
        report.failing_jobs.clear();
        report.verdict = Verdict::Healthy;
        judge_jobs(&mut report, &[&fine, &late], utc_now);
        assert_eq!(report.overdue_jobs.len(), 1);
        assert_eq!(report.verdict, Verdict::JobsFailing);
        report.verdict = Verdict::Healthy;
        report.provider = Some("postgres".into());
        judge_jobs(&mut report, &[&fine, &late], utc_now);
        assert!(report.overdue_jobs.is_empty());
        assert_eq!(report.verdict, Verdict::Healthy);

        // A failing job never makes a daemon that does not fire look better.
        report.verdict = Verdict::Stalled;
        judge_jobs(&mut report, &[&broken], utc_now);
        assert_eq!(report.verdict, Verdict::Stalled);
    }

    #[test]
    fn relative_times() {
        let now = Utc::now();
        assert_eq!(relative(now + chrono::Duration::seconds(180), now), "in 3m");
        assert_eq!(relative(now - chrono::Duration::seconds(5), now), "5s ago");
        assert_eq!(relative(now, now), "now");
    }
}
