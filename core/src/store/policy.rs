//! The claim policy: what claiming a job's due occurrence does under its catch-up, overlap,
//! repeat and capacity rules, decided from plain values. The store reads those values and
//! writes the decision in one transaction; nothing here touches SQLite.

use chrono::{DateTime, Utc};

use super::jobs::{CatchUp, Job, Overlap};
use super::runs::{RunReason, RunStatus};
use super::timeline::Timeline;
use crate::schedule::on_time_grace;

/// Most missed occurrences `catch-up = all` runs after downtime; older ones are dropped.
pub const CATCH_UP_ALL_CAP: u32 = 100;

/// Which occurrence a claim is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Whatever is due.
    Due,
    /// This one only.
    Exactly(DateTime<Utc>),
    /// This one, recorded as skipped with this reason (it ran elsewhere).
    Skip(DateTime<Utc>, RunReason),
}

/// The job's runs that are open now, as the claim's transaction counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OpenRuns {
    /// This job's runs claimed or running.
    pub running: u32,
    /// This job's runs waiting behind one (overlap `queue-one`).
    pub queued: u32,
    /// Runs claimed or running across the job set; counted only under a cap.
    pub active_everywhere: Option<u32>,
}

/// What a claim does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    /// Nothing: the occurrence is not (or no longer) the job's due one, or a catch-up waits
    /// for the job's running run.
    Lost,
    /// Nothing runs; `next_run` moves from `scheduled` to `resume` (catch-up `all` dropping
    /// occurrences older than its cap).
    DropMissed {
        /// The occurrence that was due.
        scheduled: DateTime<Utc>,
        /// The first one kept.
        resume: Option<DateTime<Utc>>,
    },
    /// The cap on parallel runs is reached; the occurrence stays due.
    AtCapacity,
    /// The occurrence is claimed.
    Claim(Verdict),
}

/// A won claim: how the job advances and how the run is recorded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// The occurrence.
    pub scheduled: DateTime<Utc>,
    /// The job's next run after this claim (`None`: it has completed its repeats).
    pub next_run: Option<DateTime<Utc>>,
    /// The job's fire count after this claim.
    pub completed_count: u32,
    /// `Claimed` (start it now), `Queued` (behind the running run) or `Skipped`.
    pub status: RunStatus,
    /// Why it is skipped, for `Skipped`.
    pub reason: Option<RunReason>,
}

impl Verdict {
    /// Whether this occurrence runs (now or when its turn comes).
    pub fn fires(&self) -> bool {
        self.status != RunStatus::Skipped
    }
}

/// The occurrence a claim of `target` is about: the job's due one, if it is active, due at
/// `now`, and the one `target` names.
pub(crate) fn due_occurrence(
    job: &Job,
    now: DateTime<Utc>,
    target: &Target,
) -> Option<DateTime<Utc>> {
    let scheduled = job.next_run.filter(|at| *at <= now && job.is_active())?;
    match target {
        Target::Due => Some(scheduled),
        Target::Exactly(at) | Target::Skip(at, _) => (*at == scheduled).then_some(scheduled),
    }
}

/// The job's pending retry, if it is due at `now` and the one `target` names (a retry is
/// never skipped by name: it belongs to the host whose run failed).
pub(crate) fn due_retry(
    job: &Job,
    now: DateTime<Utc>,
    target: &Target,
) -> Option<super::PendingRetry> {
    let retry = job
        .retry
        .filter(|r| r.at <= now && job.enabled && job.paused_at.is_none())?;
    match target {
        Target::Due => Some(retry),
        Target::Exactly(at) => (*at == retry.at).then_some(retry),
        Target::Skip(..) => None,
    }
}

/// What claiming a due retry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryDecision {
    /// A run of the job goes on and its overlap policy is not `allow`: the retry waits.
    Wait,
    /// The cap on parallel runs is reached; the retry stays due.
    AtCapacity,
    /// It runs.
    Claim,
}

/// Decide the claim of a due retry of `job` with `open` runs going.
pub(crate) fn decide_retry(job: &Job, open: OpenRuns, max_parallel: u32) -> RetryDecision {
    if open.running > 0 && job.overlap != Overlap::Allow {
        return RetryDecision::Wait;
    }
    if max_parallel > 0 && open.active_everywhere.unwrap_or(0) >= max_parallel {
        return RetryDecision::AtCapacity;
    }
    RetryDecision::Claim
}

/// Decide the claim of `job`'s occurrence at `scheduled` (from [`due_occurrence`]) at `now`.
pub(crate) fn decide(
    job: &Job,
    timeline: &Timeline,
    scheduled: DateTime<Utc>,
    now: DateTime<Utc>,
    target: &Target,
    open: OpenRuns,
    max_parallel: u32,
) -> Decision {
    let forced_skip = match target {
        Target::Skip(_, reason) => Some(reason.clone()),
        Target::Due | Target::Exactly(_) => None,
    };
    let late = (now - scheduled).to_std().unwrap_or_default();
    let missed = late > on_time_grace(timeline.period_around(scheduled));
    let natural = timeline.next_after(scheduled);
    let future = timeline.next_future(scheduled, now);

    if missed && job.catch_up == CatchUp::All && forced_skip.is_none() {
        // Catching up runs the missed occurrences one after another, oldest first.
        if open.running > 0 {
            return Decision::Lost;
        }
        let period = timeline.period_around(scheduled).unwrap_or_default();
        let window = period
            .checked_mul(CATCH_UP_ALL_CAP)
            .unwrap_or(std::time::Duration::MAX);
        if !period.is_zero() && late > window {
            // Drop the occurrences older than the cap; continue from the first inside it.
            let window_start = chrono::Duration::from_std(window)
                .ok()
                .and_then(|w| now.checked_sub_signed(w))
                .unwrap_or(scheduled);
            let resume = timeline
                .next_future(scheduled, window_start)
                .filter(|at| *at <= now)
                .or(future);
            return Decision::DropMissed { scheduled, resume };
        }
    }
    // Where next_run goes, and whether this occurrence runs.
    let (mut next_run, mut reason) = match (missed, job.catch_up) {
        (true, CatchUp::Skip) => (future, Some(RunReason::Missed)),
        (_, CatchUp::All) => (natural, None),
        (_, _) => (
            if natural.is_some_and(|n| n > now) {
                natural
            } else {
                future
            },
            None,
        ),
    };
    if forced_skip.is_some() {
        reason = forced_skip;
    }
    let mut status = RunStatus::Claimed;
    if reason.is_none() && open.running > 0 {
        match job.overlap {
            Overlap::Allow => {}
            Overlap::Skip => reason = Some(RunReason::Overlap),
            Overlap::QueueOne if open.queued > 0 => reason = Some(RunReason::Overlap),
            Overlap::QueueOne => status = RunStatus::Queued,
        }
    }
    if status == RunStatus::Claimed
        && reason.is_none()
        && max_parallel > 0
        && open.active_everywhere.unwrap_or(0) >= max_parallel
    {
        return Decision::AtCapacity;
    }
    if reason.is_some() {
        status = RunStatus::Skipped;
    }
    // An occurrence another host ran counts toward the repeat limit here too, so a job with
    // `--repeat N` fires N times across the cluster, not N times per host.
    let counts = status != RunStatus::Skipped || matches!(target, Target::Skip(..));
    let completed_count = job.completed_count + u32::from(counts);
    if job
        .repeat_limit
        .is_some_and(|limit| completed_count >= limit)
    {
        next_run = None;
    }
    Decision::Claim(Verdict {
        scheduled,
        next_run,
        completed_count,
        status,
        reason,
    })
}

/// Why a manual run (`jobs run`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManualRefusal {
    /// The job is paused.
    #[error("job `{0}` is paused; resume it first")]
    Paused(String),
    /// The job has fired its last repeat.
    #[error("job `{0}` has completed its repeats")]
    Completed(String),
    /// The job runs now and its overlap policy does not allow a second run.
    #[error("job `{0}` is running now; wait for it to finish (its overlap policy is {1})")]
    Running(String, &'static str),
}

/// Whether `job` may be run by hand while `running` of its runs are claimed or running.
pub(crate) fn check_manual(job: &Job, running: u32) -> Result<(), ManualRefusal> {
    if job.paused_at.is_some() {
        return Err(ManualRefusal::Paused(job.name.clone()));
    }
    if job.completed_at.is_some() {
        return Err(ManualRefusal::Completed(job.name.clone()));
    }
    if running > 0 && job.overlap != Overlap::Allow {
        return Err(ManualRefusal::Running(
            job.name.clone(),
            job.overlap.as_str(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, s).unwrap()
    }

    /// A job on `schedule` (a cron expression or `every:MS`), due at 12:00:00.
    fn job(schedule: &str) -> Job {
        let parsed = crate::schedule::Schedule::from_canonical(schedule).unwrap();
        Job {
            id: "j1".into(),
            name: "backup".into(),
            command: vec!["true".into()],
            shell: false,
            workdir: None,
            env: Default::default(),
            schedule_text: schedule.into(),
            schedule: parsed.canonical(),
            timezone: "UTC".into(),
            repeat_limit: None,
            completed_count: 0,
            enabled: true,
            paused_at: None,
            pause_reason: None,
            next_run: Some(at(12, 0, 0)),
            last_run: None,
            last_status: None,
            last_error: None,
            failure_streak: 0,
            timeout_secs: None,
            catch_up: CatchUp::default(),
            overlap: Overlap::default(),
            created_at: at(0, 0, 0),
            completed_at: None,
            run_retention: None,
            run_retention_days: None,
            retries: 0,
            retry_delay_secs: 10,
            jitter_ms: 0,
            on_failure: None,
            retry: None,
            handler: None,
        }
    }

    fn claim(job: &Job, now: DateTime<Utc>, open: OpenRuns) -> Decision {
        decide(
            job,
            &timeline(job),
            at(12, 0, 0),
            now,
            &Target::Due,
            open,
            0,
        )
    }

    fn timeline(job: &Job) -> Timeline {
        Timeline::of(job).unwrap()
    }

    fn verdict(decision: Decision) -> Verdict {
        match decision {
            Decision::Claim(verdict) => verdict,
            other => panic!("expected a claim, got {other:?}"),
        }
    }

    const EVERY_MINUTE: &str = "every:60";

    #[test]
    fn an_on_time_claim_runs_and_advances_one_period() {
        let job = job(EVERY_MINUTE);
        let v = verdict(claim(&job, at(12, 0, 0), OpenRuns::default()));
        assert_eq!(v.status, RunStatus::Claimed);
        assert_eq!(v.reason, None);
        assert_eq!(v.next_run, Some(at(12, 1, 0)));
        assert_eq!(v.completed_count, 1);
    }

    #[test]
    fn catch_up_skip_records_a_missed_occurrence_as_skipped_and_jumps_ahead() {
        let mut job = job(EVERY_MINUTE);
        job.catch_up = CatchUp::Skip;
        let v = verdict(claim(&job, at(12, 30, 10), OpenRuns::default()));
        assert_eq!(v.status, RunStatus::Skipped);
        assert_eq!(v.reason, Some(RunReason::Missed));
        assert_eq!(v.next_run, Some(at(12, 31, 0)), "the first future one");
        assert_eq!(v.completed_count, 0, "a skip is not a fire");
    }

    #[test]
    fn catch_up_once_the_default_runs_a_missed_occurrence_once_and_jumps_ahead() {
        let job = job(EVERY_MINUTE);
        let v = verdict(claim(&job, at(12, 30, 10), OpenRuns::default()));
        assert_eq!(v.status, RunStatus::Claimed);
        assert_eq!(v.next_run, Some(at(12, 31, 0)));
    }

    #[test]
    fn catch_up_all_walks_one_period_and_waits_for_the_running_run() {
        let mut job = job(EVERY_MINUTE);
        job.catch_up = CatchUp::All;
        let v = verdict(claim(&job, at(12, 30, 10), OpenRuns::default()));
        assert_eq!(
            (v.status, v.next_run),
            (RunStatus::Claimed, Some(at(12, 1, 0)))
        );
        let running = OpenRuns {
            running: 1,
            ..OpenRuns::default()
        };
        assert_eq!(claim(&job, at(12, 30, 10), running), Decision::Lost);
    }

    #[test]
    fn catch_up_all_drops_what_is_older_than_its_cap() {
        let mut job = job(EVERY_MINUTE);
        job.catch_up = CatchUp::All;
        // 12:00 is 300 minutes before 17:00; only the last 100 are kept.
        match claim(&job, at(17, 0, 0), OpenRuns::default()) {
            Decision::DropMissed { scheduled, resume } => {
                assert_eq!(scheduled, at(12, 0, 0));
                assert_eq!(resume, Some(at(15, 21, 0)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn overlap_skip_queue_one_and_allow() {
        let mut job = job(EVERY_MINUTE);
        let running = OpenRuns {
            running: 1,
            ..OpenRuns::default()
        };
        let v = verdict(claim(&job, at(12, 0, 0), running));
        assert_eq!(
            (v.status, v.reason),
            (RunStatus::Skipped, Some(RunReason::Overlap))
        );
        assert_eq!(v.next_run, Some(at(12, 1, 0)), "a skip still advances");

        job.overlap = Overlap::QueueOne;
        let v = verdict(claim(&job, at(12, 0, 0), running));
        assert_eq!((v.status, v.completed_count), (RunStatus::Queued, 1));
        let full = OpenRuns {
            queued: 1,
            ..running
        };
        let v = verdict(claim(&job, at(12, 0, 0), full));
        assert_eq!(v.reason, Some(RunReason::Overlap), "only one waits");

        job.overlap = Overlap::Allow;
        let v = verdict(claim(&job, at(12, 0, 0), running));
        assert_eq!(v.status, RunStatus::Claimed);
    }

    #[test]
    fn the_cap_on_parallel_runs_leaves_the_occurrence_due() {
        let job = job(EVERY_MINUTE);
        let busy = OpenRuns {
            active_everywhere: Some(4),
            ..OpenRuns::default()
        };
        let decision = decide(
            &job,
            &timeline(&job),
            at(12, 0, 0),
            at(12, 0, 0),
            &Target::Due,
            busy,
            4,
        );
        assert_eq!(decision, Decision::AtCapacity);
        let room = OpenRuns {
            active_everywhere: Some(3),
            ..OpenRuns::default()
        };
        let decision = decide(
            &job,
            &timeline(&job),
            at(12, 0, 0),
            at(12, 0, 0),
            &Target::Due,
            room,
            4,
        );
        assert!(matches!(decision, Decision::Claim(_)));
    }

    #[test]
    fn the_last_repeat_completes_the_job_and_a_skip_elsewhere_counts() {
        let mut job = job(EVERY_MINUTE);
        job.repeat_limit = Some(2);
        job.completed_count = 1;
        let v = verdict(claim(&job, at(12, 0, 0), OpenRuns::default()));
        assert_eq!((v.next_run, v.completed_count), (None, 2));

        job.completed_count = 0;
        let elsewhere = Target::Skip(at(12, 0, 0), RunReason::Provider("ran on host-b".into()));
        let v = verdict(decide(
            &job,
            &timeline(&job),
            at(12, 0, 0),
            at(12, 0, 0),
            &elsewhere,
            OpenRuns::default(),
            0,
        ));
        assert_eq!(v.status, RunStatus::Skipped);
        assert_eq!(v.completed_count, 1, "it fired once in the cluster");
    }

    #[test]
    fn only_the_due_occurrence_of_an_active_job_is_claimed() {
        let mut job = job(EVERY_MINUTE);
        assert_eq!(
            due_occurrence(&job, at(11, 59, 59), &Target::Due),
            None,
            "not yet"
        );
        assert_eq!(
            due_occurrence(&job, at(12, 0, 0), &Target::Due),
            Some(at(12, 0, 0))
        );
        let other = Target::Exactly(at(12, 1, 0));
        assert_eq!(due_occurrence(&job, at(12, 5, 0), &other), None);
        job.paused_at = Some(at(11, 0, 0));
        assert_eq!(
            due_occurrence(&job, at(12, 0, 0), &Target::Due),
            None,
            "paused"
        );
    }

    #[test]
    fn a_manual_run_is_refused_for_paused_completed_or_busy_jobs() {
        let mut job = job(EVERY_MINUTE);
        assert_eq!(check_manual(&job, 0), Ok(()));
        assert!(matches!(
            check_manual(&job, 1),
            Err(ManualRefusal::Running(..))
        ));
        job.overlap = Overlap::Allow;
        assert_eq!(check_manual(&job, 1), Ok(()));
        job.completed_at = Some(at(12, 0, 0));
        assert!(matches!(
            check_manual(&job, 0),
            Err(ManualRefusal::Completed(_))
        ));
        job.paused_at = Some(at(12, 0, 0));
        assert!(matches!(
            check_manual(&job, 0),
            Err(ManualRefusal::Paused(_))
        ));
    }
}
