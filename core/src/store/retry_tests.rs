//! Retries and jitter through the store: planning a retry when a run fails, claiming it once,
//! dropping it when the next occurrence comes first, and a job's fixed jitter offset.

use chrono::{DateTime, Duration, Utc};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(DB_FILE)).unwrap();
    (dir, store)
}

fn claimer() -> Claimer {
    Claimer {
        host: "h".into(),
        pid: 1,
        max_parallel: 0,
    }
}

fn hourly_with_retries(store: &Store, retries: u32) -> Job {
    let mut spec = JobSpec::new("0 * * * *", ["false"]);
    spec.name = Some("flaky".into());
    spec.retries = retries;
    spec.retry_delay_secs = 30;
    store
        .add_job(&spec, "UTC", at("2026-05-01T11:59:00Z"))
        .unwrap()
}

fn claimed(outcome: ClaimOutcome) -> Claim {
    match outcome {
        ClaimOutcome::Run(claim) => claim,
        other => panic!("expected a run, got {other:?}"),
    }
}

#[test]
fn a_failed_run_is_retried_with_backoff_each_attempt_a_run_of_its_own_then_fails_for_good() {
    let (_dir, store) = store();
    let job = hourly_with_retries(&store, 2);
    let noon = at("2026-05-01T12:00:00Z");
    let first = claimed(store.claim(&job.id, noon, &claimer()).unwrap());
    assert_eq!(first.attempt, 0);
    let failed_at = noon + Duration::seconds(5);
    let finished = store
        .finish_run(
            &first.run_id,
            RunStatus::Failed,
            Some(3),
            Some("exited with 3"),
            failed_at,
        )
        .unwrap();
    let retry_at = failed_at + Duration::seconds(30);
    assert_eq!(
        finished,
        Finished::RetryAt {
            attempt: 1,
            at: retry_at
        }
    );
    // Not due before its time; due at it, once.
    assert!(matches!(
        store
            .claim(&job.id, retry_at - Duration::seconds(1), &claimer())
            .unwrap(),
        ClaimOutcome::Lost
    ));
    assert!(store.due_job_ids(retry_at).unwrap().contains(&job.id));
    assert_eq!(store.next_due(noon).unwrap(), Some(retry_at));
    let retry = claimed(store.claim(&job.id, retry_at, &claimer()).unwrap());
    assert_eq!((retry.attempt, retry.scheduled_at), (1, retry_at));
    assert!(matches!(
        store.claim(&job.id, retry_at, &claimer()).unwrap(),
        ClaimOutcome::Lost
    ));
    let failed_again = retry_at + Duration::seconds(1);
    let finished = store
        .finish_run(
            &retry.run_id,
            RunStatus::Failed,
            Some(3),
            None,
            failed_again,
        )
        .unwrap();
    // The second retry waits twice as long.
    assert_eq!(
        finished,
        Finished::RetryAt {
            attempt: 2,
            at: failed_again + Duration::seconds(60)
        }
    );
    let second = claimed(
        store
            .claim(&job.id, failed_again + Duration::seconds(60), &claimer())
            .unwrap(),
    );
    let finished = store
        .finish_run(
            &second.run_id,
            RunStatus::TimedOut,
            None,
            None,
            failed_again + Duration::seconds(61),
        )
        .unwrap();
    assert_eq!(finished, Finished::FailedForGood);

    let runs = store.runs(Some(&job.id), 10).unwrap();
    let attempts: Vec<(u32, Option<RunReason>)> = runs
        .iter()
        .rev()
        .map(|r| (r.attempt, r.reason.clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (0, None),
            (1, Some(RunReason::Retry)),
            (2, Some(RunReason::Retry))
        ]
    );
    assert!(runs[..2].iter().all(|r| r.retry_of == Some(noon)));
    assert_eq!(store.job(&job.id).unwrap().failure_streak, 3);
}

#[test]
fn success_ends_the_retries_and_a_retry_never_takes_an_occurrences_key() {
    let (_dir, store) = store();
    let job = hourly_with_retries(&store, 5);
    let noon = at("2026-05-01T12:00:00Z");
    let first = claimed(store.claim(&job.id, noon, &claimer()).unwrap());
    store
        .finish_run(&first.run_id, RunStatus::Failed, Some(1), None, noon)
        .unwrap();
    let retry = claimed(
        store
            .claim(&job.id, noon + Duration::seconds(30), &claimer())
            .unwrap(),
    );
    assert_eq!(
        store
            .finish_run(
                &retry.run_id,
                RunStatus::Succeeded,
                Some(0),
                None,
                noon + Duration::seconds(31)
            )
            .unwrap(),
        Finished::Done
    );
    assert_eq!(store.job(&job.id).unwrap().retry, None);

    // A retry due after the next occurrence still runs, beside it, never under its key.
    let one = at("2026-05-01T13:00:00Z");
    let failed = claimed(store.claim(&job.id, one, &claimer()).unwrap());
    let failed_at = at("2026-05-01T13:59:30Z");
    let planned = store
        .finish_run(&failed.run_id, RunStatus::Failed, Some(1), None, failed_at)
        .unwrap();
    // 13:59:30 + 30 s is 14:00:00, the next occurrence's instant: the retry moves off it.
    let retry_at = at("2026-05-01T14:00:00.001Z");
    assert_eq!(
        planned,
        Finished::RetryAt {
            attempt: 1,
            at: retry_at
        }
    );
    let two = at("2026-05-01T14:00:00Z");
    let next = claimed(store.claim(&job.id, two, &claimer()).unwrap());
    assert_eq!((next.attempt, next.scheduled_at), (0, two));
    assert!(
        store.job(&job.id).unwrap().retry.is_some(),
        "the retry stays pending"
    );
    store
        .finish_run(&next.run_id, RunStatus::Succeeded, Some(0), None, two)
        .unwrap();
    let retry = claimed(store.claim(&job.id, retry_at, &claimer()).unwrap());
    assert_eq!((retry.attempt, retry.scheduled_at), (1, retry_at));
}

#[test]
fn manual_runs_do_not_retry() {
    let (_dir, store) = store();
    let job = hourly_with_retries(&store, 3);
    let now = at("2026-05-01T12:10:00Z");
    let manual = claimed(store.claim_manual(&job.id, now, &claimer()).unwrap());
    assert_eq!(
        store
            .finish_run(&manual.run_id, RunStatus::Failed, Some(1), None, now)
            .unwrap(),
        Finished::Done
    );
    assert_eq!(store.job(&job.id).unwrap().retry, None);
}

#[test]
fn a_retry_waits_while_a_run_of_its_job_goes_on() {
    let (_dir, store) = store();
    let job = hourly_with_retries(&store, 1);
    let noon = at("2026-05-01T12:00:00Z");
    let first = claimed(store.claim(&job.id, noon, &claimer()).unwrap());
    store
        .finish_run(&first.run_id, RunStatus::Failed, Some(1), None, noon)
        .unwrap();
    let retry_at = noon + Duration::seconds(30);
    // A manual run goes on when the retry comes due: overlap `skip` makes the retry wait.
    let manual = claimed(
        store
            .claim_manual(&job.id, noon + Duration::seconds(10), &claimer())
            .unwrap(),
    );
    assert!(matches!(
        store.claim(&job.id, retry_at, &claimer()).unwrap(),
        ClaimOutcome::Lost
    ));
    assert_eq!(
        store.job(&job.id).unwrap().retry.map(|r| r.at),
        Some(retry_at)
    );
    store
        .finish_run(
            &manual.run_id,
            RunStatus::Succeeded,
            Some(0),
            None,
            retry_at,
        )
        .unwrap();
    let retry = claimed(
        store
            .claim(&job.id, retry_at + Duration::seconds(1), &claimer())
            .unwrap(),
    );
    assert_eq!((retry.attempt, retry.scheduled_at), (1, retry_at));
}

#[test]
fn jitter_is_a_fixed_offset_per_job_within_its_window() {
    let (_dir, store) = store();
    let t0 = at("2026-05-01T11:00:30Z");
    let mut offsets = Vec::new();
    for n in 0..5 {
        let mut spec = JobSpec::new("0 * * * *", ["true"]);
        spec.name = Some(format!("fleet-{n}"));
        spec.jitter_ms = 600_000;
        let job = store.add_job(&spec, "UTC", t0).unwrap();
        let offset = job.next_run.unwrap() - at("2026-05-01T12:00:00Z");
        assert!(
            offset >= Duration::zero() && offset < Duration::minutes(10),
            "{offset}"
        );
        assert_eq!(offset, job.jitter());
        // Claimed at its shifted instant, the next run keeps the same offset.
        let claim = claimed(
            store
                .claim(&job.id, job.next_run.unwrap(), &claimer())
                .unwrap(),
        );
        assert_eq!(claim.scheduled_at, job.next_run.unwrap());
        let after = store.job(&job.id).unwrap();
        assert_eq!(after.next_run, Some(at("2026-05-01T13:00:00Z") + offset));
        offsets.push(offset);
    }
    offsets.sort();
    offsets.dedup();
    assert_eq!(offsets.len(), 5, "each job its own offset");

    // A new window moves the offset; none puts the job back on the hour.
    let edited = store
        .edit_job("fleet-0", |spec| spec.jitter_ms = 0, "UTC", t0)
        .unwrap();
    assert_eq!(edited.after.next_run, Some(at("2026-05-01T13:00:00Z")));
}

#[test]
fn fewer_retries_call_off_a_pending_one() {
    let (_dir, store) = store();
    let job = hourly_with_retries(&store, 2);
    let noon = at("2026-05-01T12:00:00Z");
    let first = claimed(store.claim(&job.id, noon, &claimer()).unwrap());
    store
        .finish_run(&first.run_id, RunStatus::Failed, Some(1), None, noon)
        .unwrap();
    assert!(store.job(&job.id).unwrap().retry.is_some());
    store
        .edit_job(&job.id, |spec| spec.retries = 0, "UTC", noon)
        .unwrap();
    assert_eq!(store.job(&job.id).unwrap().retry, None);
}
