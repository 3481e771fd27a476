//! The batch prune against real SQLite files: which runs a retention lets go, that open and
//! recent runs stay, that a job's own retention beats the defaults, and that a pruned
//! occurrence is never claimed again while a manual run's pruning blocks nothing.

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::store::{Claim, ClaimOutcome, Claimer, JobSpec, RunStatus, DB_FILE};

const T0: &str = "2026-05-01T12:00:00Z";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("cron").join(DB_FILE)).unwrap();
    (dir, store)
}

fn claimer() -> Claimer {
    Claimer {
        host: "test-host".into(),
        pid: 1,
        max_parallel: 0,
    }
}

/// A job firing every second from T0 (overlap allowed, so open runs can pile up), with its
/// own retention.
fn every_second(store: &Store, name: &str, runs: Option<u32>, days: Option<u32>) -> String {
    let mut spec = JobSpec::new("every 1s", ["true"]);
    spec.name = Some(name.into());
    spec.overlap = crate::store::Overlap::Allow;
    spec.run_retention = runs;
    spec.run_retention_days = days;
    store.add_job(&spec, "UTC", at(T0)).unwrap().id
}

/// Claim the job's next `count` occurrences (one a second, each at its instant) and return
/// the claims.
fn claim_next(store: &Store, job: &str, count: usize) -> Vec<Claim> {
    (0..count)
        .map(|_| {
            let due = store.job(job).unwrap().next_run.unwrap();
            match store.claim(job, due, &claimer()).unwrap() {
                ClaimOutcome::Run(claim) => claim,
                other => panic!("{other:?}"),
            }
        })
        .collect()
}

fn finish(store: &Store, claim: &Claim) {
    store
        .finish_run(
            &claim.run_id,
            RunStatus::Succeeded,
            Some(0),
            None,
            claim.scheduled_at,
        )
        .unwrap();
}

/// Prune `job` at `now` until nothing is left to prune, in batches of `batch`; returns how
/// many went.
fn prune(store: &Store, job: &str, defaults: RunRetention, now: DateTime<Utc>) -> usize {
    let mut total = 0;
    loop {
        let batch = store.prunable_runs(job, defaults, now, 3).unwrap();
        if batch.runs().is_empty() {
            return total;
        }
        total += store.delete_runs(&batch).unwrap();
    }
}

fn scheduled(store: &Store, job: &str) -> Vec<DateTime<Utc>> {
    let mut instants: Vec<_> = store
        .runs(Some(job), 1000)
        .unwrap()
        .into_iter()
        .map(|r| r.scheduled_at)
        .collect();
    instants.sort();
    instants
}

#[test]
fn the_newest_runs_are_kept_and_open_ones_never_go() {
    let (_dir, store) = temp_store();
    let job = every_second(&store, "tick", None, None);
    let claims = claim_next(&store, &job, 10);
    // The third stays running, the fourth is queued behind it; the rest ended.
    for (i, claim) in claims.iter().enumerate() {
        if i != 2 && i != 3 {
            finish(&store, claim);
        }
    }
    store
        .write(|tx| {
            tx.execute(
                "UPDATE runs SET status = 'queued' WHERE job_id = ?1 AND scheduled_at = ?2",
                rusqlite::params![claims[3].job.id, claims[3].scheduled_at.timestamp_millis()],
            )
            .map_err(sql)
        })
        .unwrap();
    let later = at(T0) + Duration::hours(1);
    let first = store
        .prunable_runs(&job, RunRetention::new(4, 0), later, 2)
        .unwrap();
    assert_eq!(
        first
            .runs()
            .iter()
            .map(|r| r.scheduled_at)
            .collect::<Vec<_>>(),
        [claims[0].scheduled_at, claims[1].scheduled_at],
        "the oldest first, a batch at most"
    );
    assert_eq!(prune(&store, &job, RunRetention::new(4, 0), later), 4);
    let mut kept = vec![claims[2].scheduled_at, claims[3].scheduled_at];
    kept.extend(claims[6..].iter().map(|c| c.scheduled_at));
    assert_eq!(scheduled(&store, &job), kept, "the newest 4 and the open 2");
    assert_eq!(
        store.pruned_through(&job).unwrap(),
        Some(claims[5].scheduled_at)
    );
    assert_eq!(prune(&store, &job, RunRetention::new(4, 0), later), 0);
    assert_eq!(
        prune(&store, &job, RunRetention::new(0, 0), later),
        0,
        "0 and 0 keep everything"
    );
}

#[test]
fn an_age_limit_goes_by_the_scheduled_instant_and_recent_ends_are_kept() {
    let (_dir, store) = temp_store();
    let job = every_second(&store, "tick", None, Some(1));
    let claims = claim_next(&store, &job, 5);
    let day_later = claims[4].scheduled_at + Duration::days(1) - Duration::milliseconds(1);
    // All but the newest were scheduled more than a day before `day_later`; the oldest ended
    // only just before it (a long run, or one caught up late).
    for (i, claim) in claims.iter().enumerate() {
        let ended = match i {
            0 => day_later - Duration::minutes(1),
            _ => claim.scheduled_at,
        };
        store
            .finish_run(&claim.run_id, RunStatus::Succeeded, Some(0), None, ended)
            .unwrap();
    }
    let defaults = RunRetention::new(1000, 0);
    assert_eq!(prune(&store, &job, defaults, day_later), 3);
    assert_eq!(
        scheduled(&store, &job),
        [claims[0].scheduled_at, claims[4].scheduled_at],
        "the run that ended less than the grace ago, and the one scheduled within the day"
    );
    // Once the grace has passed, the oldest goes too (and by then so does the newest).
    let grace = Duration::from_std(RECENT_RUN_GRACE).unwrap();
    assert_eq!(prune(&store, &job, defaults, day_later + grace), 2);
    assert!(scheduled(&store, &job).is_empty());
}

#[test]
fn a_jobs_own_retention_beats_the_defaults_and_a_removed_job_goes_by_them() {
    let (_dir, store) = temp_store();
    let own = every_second(&store, "own", Some(2), None);
    let unlimited = every_second(&store, "unlimited", Some(0), None);
    let default = every_second(&store, "default", None, None);
    let removed = every_second(&store, "removed", Some(1000), None);
    for job in [&own, &unlimited, &default, &removed] {
        claim_next(&store, job, 8)
            .iter()
            .for_each(|c| finish(&store, c));
    }
    store.remove_job(&removed).unwrap();
    let defaults = RunRetention::new(5, 0);
    let later = at(T0) + Duration::hours(1);
    let mut after = None;
    let mut seen = Vec::new();
    while let Some(job) = store.next_job_with_runs(after.as_deref()).unwrap() {
        prune(&store, &job, defaults, later);
        after = Some(job.clone());
        seen.push(job);
    }
    assert_eq!(seen, ["j1", "j2", "j3", "j4"], "removed jobs' history too");
    let count = |job: &str| store.runs(Some(job), 1000).unwrap().len();
    assert_eq!(count(&own), 2, "the job's own count");
    assert_eq!(count(&unlimited), 8, "the job's own 0: no count limit");
    assert_eq!(count(&default), 5, "the default");
    assert_eq!(
        count(&removed),
        5,
        "a removed job's own setting went with it"
    );
}

#[test]
fn a_pruned_occurrence_is_never_claimed_again() {
    let (_dir, store) = temp_store();
    let job = every_second(&store, "tick", None, None);
    let claims = claim_next(&store, &job, 6);
    claims.iter().for_each(|c| finish(&store, c));
    let later = at(T0) + Duration::hours(1);
    assert_eq!(prune(&store, &job, RunRetention::new(2, 0), later), 4);
    let pruned = claims[1].scheduled_at;

    // Resumed at an instant that already ran and whose row is gone: counts as claimed.
    store.pause_job(&job, None, later).unwrap();
    store.resume_job(&job, Some(pruned), later).unwrap();
    assert_eq!(
        store.claim(&job, later, &claimer()).unwrap(),
        ClaimOutcome::Lost
    );
    assert!(store
        .run(&crate::store::run_id(&job, pruned))
        .unwrap()
        .is_none());
    // The job moved on past it, and its next occurrence runs.
    let next = store.job(&job).unwrap().next_run.unwrap();
    assert!(next > later, "{next}");
    assert!(matches!(
        store.claim(&job, next, &claimer()).unwrap(),
        ClaimOutcome::Run(_)
    ));

    // Removed and imported again under its id, with the next run its export had.
    let exported = crate::store::JobsExport::new([&crate::store::Job {
        next_run: Some(claims[0].scheduled_at),
        ..store.job(&job).unwrap()
    }]);
    store.remove_job(&job).unwrap();
    store
        .import_jobs(&exported.jobs, crate::store::Import::Add, later)
        .unwrap();
    assert_eq!(
        store.claim(&job, later, &claimer()).unwrap(),
        ClaimOutcome::Lost,
        "the floor outlives the job"
    );
}

#[test]
fn a_pruned_manual_run_blocks_no_occurrence() {
    let (_dir, store) = temp_store();
    let mut spec = JobSpec::new("every 1h", ["true"]);
    spec.name = Some("hourly".into());
    let job = store.add_job(&spec, "UTC", at(T0)).unwrap();
    let due = job.next_run.unwrap();
    // Nothing fired it (no daemon); someone ran it by hand after it was due.
    let manual = match store
        .claim_manual(&job.id, due + Duration::minutes(30), &claimer())
        .unwrap()
    {
        ClaimOutcome::Run(claim) => claim,
        other => panic!("{other:?}"),
    };
    finish(&store, &manual);
    let days_later = due + Duration::days(3);
    assert_eq!(
        prune(&store, &job.id, RunRetention::new(0, 1), days_later),
        1
    );
    assert_eq!(store.pruned_through(&job.id).unwrap(), None);
    assert!(
        matches!(
            store.claim(&job.id, days_later, &claimer()).unwrap(),
            ClaimOutcome::Run(claim) if claim.scheduled_at == due
        ),
        "the due occurrence is caught up"
    );
}
