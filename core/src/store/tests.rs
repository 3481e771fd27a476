//! Store tests against real SQLite files: CRUD, refusals, concurrent writers, claims and the
//! catch-up, overlap and repeat policies.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::*;

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

fn spec(schedule: &str, name: &str) -> JobSpec {
    JobSpec {
        name: Some(name.into()),
        ..JobSpec::new(schedule, ["true"])
    }
}

fn claimer(pid: u32) -> Claimer {
    Claimer {
        host: "test-host".into(),
        pid,
        max_parallel: 0,
    }
}

const T0: &str = "2026-05-01T12:00:00Z";

#[test]
fn jobs_are_found_by_id_or_case_insensitive_name() {
    let (_dir, store) = temp_store();
    let job = store
        .add_job(&spec("every 5m", "Backup"), "UTC", at(T0))
        .unwrap();
    assert_eq!(job.id, "j1");
    assert_eq!(store.job("j1").unwrap().name, "Backup");
    assert_eq!(store.job("backup").unwrap().id, "j1");
    assert_eq!(store.job("BACKUP").unwrap().id, "j1");
    assert_eq!(job.next_run, Some(at(T0) + Duration::minutes(5)));
    let taken = store
        .add_job(&spec("every 5m", "backup"), "UTC", at(T0))
        .unwrap_err();
    assert!(matches!(taken, StoreError::NameTaken(_)), "{taken}");
    // Ordinary words that look like ids are names; an id is never handed out while a job
    // bears it as a name, and a name may not be another job's id: a word finds one job.
    for word in ["jenkins", "journal", "jira"] {
        store
            .add_job(&spec("every 5m", word), "UTC", at(T0))
            .unwrap();
        assert_eq!(store.job(word).unwrap().name, word);
    }
    let named_j6 = store
        .add_job(&spec("every 5m", "j6"), "UTC", at(T0))
        .unwrap();
    assert_eq!(named_j6.id, "j5");
    assert_eq!(
        store.job("j6").unwrap().id,
        "j5",
        "j6 is a name, found as one"
    );
    let refused = store
        .add_job(&spec("every 5m", "J1"), "UTC", at(T0))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("is the id of another job (j1)"),
        "{refused}"
    );
    let unnamed = store
        .add_job(
            &JobSpec {
                name: None,
                ..spec("every 5m", "x")
            },
            "UTC",
            at(T0),
        )
        .unwrap();
    assert_eq!(
        (unnamed.id.as_str(), unnamed.name.as_str()),
        ("j7", "j7"),
        "j6 is a name, so it is never handed out as an id"
    );
    assert_eq!(store.job("j6").unwrap().id, "j5", "still one job");
    assert!(matches!(store.job("nope"), Err(StoreError::NoSuchJob(_))));
}

#[test]
fn ids_are_never_reused() {
    let (_dir, store) = temp_store();
    let first = store
        .add_job(&spec("every 5m", "a"), "UTC", at(T0))
        .unwrap();
    store.remove_job("a").unwrap();
    let second = store
        .add_job(&spec("every 5m", "a"), "UTC", at(T0))
        .unwrap();
    assert_ne!(first.id, second.id);
}

#[test]
fn bad_input_is_refused_and_nothing_is_stored() {
    let (_dir, store) = temp_store();
    let bad = [
        spec("every fortnight", "a"),
        spec("2026-05-01T11:00:00Z", "past-one-shot"),
        JobSpec {
            timezone: Some("Mars/Base".into()),
            ..spec("every 5m", "b")
        },
        JobSpec {
            command: vec![],
            ..spec("every 5m", "c")
        },
        JobSpec {
            timeout_secs: Some(0),
            ..spec("every 5m", "d")
        },
    ];
    for spec in bad {
        assert!(store.add_job(&spec, "UTC", at(T0)).is_err(), "{spec:?}");
    }
    assert!(store.jobs().unwrap().is_empty());
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let garbage = b"this is not an sqlite database, but it is somebody's file".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let error = Store::open(&path).unwrap_err().to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("not modified"), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
}

#[test]
fn concurrent_writers_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    Store::open(&path).unwrap();
    let writers: Vec<_> = (0..10)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                for n in 0..50 {
                    store
                        .add_job(&spec("every 5m", &format!("w{w}-{n}")), "UTC", Utc::now())
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let jobs = Store::open(&path).unwrap().jobs().unwrap();
    assert_eq!(jobs.len(), 500);
    let mut ids: Vec<_> = jobs.iter().map(|j| j.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 500, "ids are unique");
}

#[test]
fn two_claimers_racing_for_one_occurrence_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    let first = Arc::new(Store::open(&path).unwrap());
    first
        .add_job(&spec("every 1m", "race"), "UTC", at(T0))
        .unwrap();
    let due = at(T0) + Duration::minutes(1);
    let second = Arc::new(Store::open(&path).unwrap());
    let outcomes: Vec<_> = [(first, 1), (second, 2)]
        .into_iter()
        .map(|(store, pid)| {
            std::thread::spawn(move || store.claim("j1", due, &claimer(pid)).unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, ClaimOutcome::Run(_)))
        .count();
    let lost = outcomes
        .iter()
        .filter(|o| matches!(o, ClaimOutcome::Lost))
        .count();
    assert_eq!((won, lost), (1, 1), "{outcomes:?}");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.runs(Some("j1"), 10).unwrap().len(), 1);
    assert_eq!(
        store.job("j1").unwrap().next_run,
        Some(due + Duration::minutes(1)),
        "advanced in the same transaction"
    );
}

#[test]
fn catch_up_once_runs_one_occurrence_and_reanchors() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("0 * * * *", "hourly"), "UTC", at(T0))
        .unwrap();
    let now = at(T0) + Duration::hours(5) + Duration::minutes(30); // 5 occurrences missed
    let ClaimOutcome::Run(claim) = store.claim("j1", now, &claimer(1)).unwrap() else {
        panic!()
    };
    assert_eq!(claim.scheduled_at, at("2026-05-01T13:00:00Z"));
    assert_eq!(
        store.job("j1").unwrap().next_run,
        Some(at("2026-05-01T18:00:00Z"))
    );
    assert_eq!(
        store.claim("j1", now, &claimer(1)).unwrap(),
        ClaimOutcome::Lost
    );
}

#[test]
fn catch_up_skip_records_a_missed_skip_and_reanchors() {
    let (_dir, store) = temp_store();
    store
        .add_job(
            &JobSpec {
                catch_up: CatchUp::Skip,
                ..spec("0 * * * *", "hourly")
            },
            "UTC",
            at(T0),
        )
        .unwrap();
    let now = at(T0) + Duration::hours(5) + Duration::minutes(30);
    let outcome = store.claim("j1", now, &claimer(1)).unwrap();
    assert!(
        matches!(
            outcome,
            ClaimOutcome::Skipped { ref reason, .. } if *reason == RunReason::Missed
        ),
        "{outcome:?}"
    );
    assert_eq!(
        store.job("j1").unwrap().next_run,
        Some(at("2026-05-01T18:00:00Z"))
    );
    let runs = store.runs(Some("j1"), 10).unwrap();
    assert_eq!(runs[0].status, RunStatus::Skipped);
    assert_eq!(runs[0].reason, Some(RunReason::Missed));
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

#[test]
fn catch_up_all_runs_every_missed_occurrence_one_after_another() {
    let (_dir, store) = temp_store();
    store
        .add_job(
            &JobSpec {
                catch_up: CatchUp::All,
                ..spec("0 * * * *", "hourly")
            },
            "UTC",
            at(T0),
        )
        .unwrap();
    // 45 minutes past the fifth missed occurrence: all five are beyond the 30-minute grace.
    let now = at(T0) + Duration::hours(5) + Duration::minutes(45);
    let mut scheduled = Vec::new();
    while let ClaimOutcome::Run(claim) = store.claim("j1", now, &claimer(1)).unwrap() {
        scheduled.push(claim.scheduled_at);
        // While it runs, the next missed occurrence waits (and is not skipped as an overlap).
        assert_eq!(
            store.claim("j1", now, &claimer(1)).unwrap(),
            ClaimOutcome::Lost
        );
        assert!(
            store.next_due(now).unwrap().is_none_or(|at| at > now),
            "a waiting job does not wake the ticker"
        );
        finish(&store, &claim);
    }
    assert_eq!(scheduled.len(), 5);
    assert_eq!(scheduled[4], at("2026-05-01T17:00:00Z"));
    assert_eq!(
        store.job("j1").unwrap().next_run,
        Some(at("2026-05-01T18:00:00Z"))
    );
    assert!(store
        .runs(Some("j1"), 10)
        .unwrap()
        .iter()
        .all(|r| r.status == RunStatus::Succeeded));
}

#[test]
fn catch_up_all_beyond_the_cap_keeps_the_newest_occurrences() {
    let (_dir, store) = temp_store();
    store
        .add_job(
            &JobSpec {
                catch_up: CatchUp::All,
                ..spec("every 1m", "minutely")
            },
            "UTC",
            at(T0),
        )
        .unwrap();
    let now = at(T0) + Duration::minutes(300) + Duration::seconds(30); // 300 missed
    let mut scheduled = Vec::new();
    for _ in 0..400 {
        match store.claim("j1", now, &claimer(1)).unwrap() {
            ClaimOutcome::Run(claim) => {
                scheduled.push(claim.scheduled_at);
                finish(&store, &claim);
            }
            ClaimOutcome::Lost if store.due_job_ids(now).unwrap().is_empty() => break,
            ClaimOutcome::Lost => {} // re-anchored into the window
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        scheduled.len(),
        CATCH_UP_ALL_CAP as usize,
        "the newest {CATCH_UP_ALL_CAP}"
    );
    assert_eq!(*scheduled.last().unwrap(), at(T0) + Duration::minutes(300));
}

#[test]
fn a_slightly_late_fire_is_on_time_and_not_a_miss() {
    let (_dir, store) = temp_store();
    store
        .add_job(
            &JobSpec {
                catch_up: CatchUp::Skip,
                ..spec("0 * * * *", "hourly")
            },
            "UTC",
            at(T0),
        )
        .unwrap();
    let now = at("2026-05-01T13:29:00Z"); // 29 min late, grace is 30 min for an hourly job
    assert!(matches!(
        store.claim("j1", now, &claimer(1)).unwrap(),
        ClaimOutcome::Run(_)
    ));
}

#[test]
fn overlap_policies() {
    let (_dir, store) = temp_store();
    for (name, overlap) in [
        ("skip", Overlap::Skip),
        ("allow", Overlap::Allow),
        ("queue", Overlap::QueueOne),
    ] {
        store
            .add_job(
                &JobSpec {
                    overlap,
                    ..spec("every 1m", name)
                },
                "UTC",
                at(T0),
            )
            .unwrap();
    }
    let first = at(T0) + Duration::minutes(1);
    let second = first + Duration::minutes(1);
    let third = second + Duration::minutes(1);
    for id in ["j1", "j2", "j3"] {
        assert!(matches!(
            store.claim(id, first, &claimer(1)).unwrap(),
            ClaimOutcome::Run(_)
        ));
    }
    // The first runs are still going (claimed, never finished).
    assert!(matches!(
        store.claim("j1", second, &claimer(1)).unwrap(),
        ClaimOutcome::Skipped { ref reason, .. } if *reason == RunReason::Overlap
    ));
    assert!(matches!(
        store.claim("j2", second, &claimer(1)).unwrap(),
        ClaimOutcome::Run(_)
    ));
    assert!(matches!(
        store.claim("j3", second, &claimer(1)).unwrap(),
        ClaimOutcome::Queued(_)
    ));
    assert!(
        matches!(
            store.claim("j3", third, &claimer(1)).unwrap(),
            ClaimOutcome::Skipped { ref reason, .. } if *reason == RunReason::Overlap
        ),
        "one waits at most"
    );
    // Not while the run it waits for is going, and never by another process.
    assert_eq!(store.take_queued("j3", "test-host", 1).unwrap(), None);
    store
        .finish_run(
            &crate::store::run_id("j3", first),
            RunStatus::Succeeded,
            Some(0),
            None,
            second,
        )
        .unwrap();
    assert_eq!(store.queued_ready("test-host", 1).unwrap(), ["j3"]);
    assert_eq!(store.take_queued("j3", "test-host", 2).unwrap(), None);
    let queued = store.take_queued("j3", "test-host", 1).unwrap().unwrap();
    assert_eq!(queued.scheduled_at, second);
    assert_eq!(store.take_queued("j3", "test-host", 1).unwrap(), None);
}

#[test]
fn max_parallel_leaves_the_occurrence_due() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("every 1m", "a"), "UTC", at(T0))
        .unwrap();
    store
        .add_job(&spec("every 1m", "b"), "UTC", at(T0))
        .unwrap();
    let due = at(T0) + Duration::minutes(1);
    let capped = Claimer {
        max_parallel: 1,
        ..claimer(1)
    };
    assert!(matches!(
        store.claim("j1", due, &capped).unwrap(),
        ClaimOutcome::Run(_)
    ));
    assert_eq!(
        store.claim("j2", due, &capped).unwrap(),
        ClaimOutcome::AtCapacity
    );
    assert_eq!(store.due_job_ids(due).unwrap(), ["j2"]);
}

#[test]
fn one_shots_complete_and_never_fire_again() {
    let (_dir, store) = temp_store();
    let job = store
        .add_job(&spec("in 10m", "once"), "UTC", at(T0))
        .unwrap();
    assert_eq!(job.repeat_limit, Some(1));
    let due = at(T0) + Duration::minutes(10);
    assert!(matches!(
        store.claim("j1", due, &claimer(1)).unwrap(),
        ClaimOutcome::Run(_)
    ));
    let job = store.job("j1").unwrap();
    assert_eq!(job.next_run, None);
    assert!(job.completed_at.is_some() && !job.is_active());
    assert_eq!(
        store
            .claim("j1", due + Duration::days(1), &claimer(1))
            .unwrap(),
        ClaimOutcome::Lost
    );
    assert_eq!(store.prune_completed(due + Duration::days(1)).unwrap(), 1);
    assert!(store.jobs().unwrap().is_empty());
}

#[test]
fn repeat_n_completes_after_n_fires() {
    let (_dir, store) = temp_store();
    store
        .add_job(
            &JobSpec {
                repeat: Some(Repeat::Times(2)),
                overlap: Overlap::Allow,
                ..spec("every 1m", "twice")
            },
            "UTC",
            at(T0),
        )
        .unwrap();
    let mut now = at(T0);
    let mut fires = 0;
    for _ in 0..5 {
        now += Duration::minutes(1);
        if let ClaimOutcome::Run(_) = store.claim("j1", now, &claimer(1)).unwrap() {
            fires += 1;
        }
    }
    assert_eq!(fires, 2);
    assert_eq!(store.job("j1").unwrap().completed_count, 2);
}

#[test]
fn paused_jobs_are_not_due_and_resume_from_the_next_occurrence() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("every 1m", "p"), "UTC", at(T0))
        .unwrap();
    let (paused, change) = store.pause_job("p", Some("maintenance"), at(T0)).unwrap();
    assert_eq!(change, StateChange::Changed);
    // Paused again without a reason: the first pause's instant and reason stay.
    let (again, change) = store
        .pause_job("p", None, at(T0) + Duration::minutes(1))
        .unwrap();
    assert_eq!(change, StateChange::Unchanged);
    assert_eq!(
        (again.paused_at, again.pause_reason.as_deref()),
        (paused.paused_at, Some("maintenance"))
    );
    let (renamed, _) = store.pause_job("p", Some("disk full"), at(T0)).unwrap();
    assert_eq!(renamed.pause_reason.as_deref(), Some("disk full"));
    let later = at(T0) + Duration::minutes(10);
    assert!(store.due_job_ids(later).unwrap().is_empty());
    assert_eq!(
        store.claim("j1", later, &claimer(1)).unwrap(),
        ClaimOutcome::Lost
    );
    let (resumed, change) = store.resume_job("p", None, later).unwrap();
    assert_eq!(change, StateChange::Changed);
    assert!(resumed.paused_at.is_none() && resumed.pause_reason.is_none());
    assert!(resumed.next_run.unwrap() > later);
    // Resuming a job that is not paused changes nothing, `at` included.
    let (same, change) = store.resume_job("p", Some(later), later).unwrap();
    assert_eq!(change, StateChange::Unchanged);
    assert_eq!(same, resumed);
}

#[test]
fn a_manual_run_is_the_jobs_last_run_and_leaves_its_schedule_alone() {
    let (_dir, store) = temp_store();
    let job = store
        .add_job(&spec("every 1h", "manual"), "UTC", at(T0))
        .unwrap();
    let now = at(T0) + Duration::minutes(3);
    assert!(matches!(
        store.claim_manual("manual", now, &claimer(1)).unwrap(),
        ClaimOutcome::Run(_)
    ));
    let after = store.job("manual").unwrap();
    assert_eq!(after.last_run, Some(now));
    assert_eq!(
        (after.next_run, after.completed_count),
        (job.next_run, job.completed_count)
    );
}

#[test]
fn orphaned_runs_become_unknown_and_are_not_rerun() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("every 1m", "o"), "UTC", at(T0))
        .unwrap();
    let due = at(T0) + Duration::minutes(1);
    let ClaimOutcome::Run(claim) = store.claim("j1", due, &claimer(4242)).unwrap() else {
        panic!()
    };
    store.mark_started(&claim.run_id, 99, due).unwrap();
    let settled = store
        .settle_orphaned_runs(|run| run.pid != 4242, due)
        .unwrap();
    assert_eq!(settled.len(), 1);
    let run = store.run(&claim.run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Unknown);
    assert!(run.error.unwrap().contains("4242"));
    assert_eq!(
        store.job("j1").unwrap().next_run,
        Some(due + Duration::minutes(1)),
        "not rescheduled to re-run"
    );
}

#[test]
fn export_and_import_keep_ids_and_a_conflict_changes_nothing() {
    let (_dir, source) = temp_store();
    source
        .add_job(&spec("every 5m", "a"), "UTC", at(T0))
        .unwrap();
    source
        .add_job(&spec("0 9 * * *", "b"), "UTC", at(T0))
        .unwrap();
    let exported = JobsExport::new(&source.jobs().unwrap()).jobs;
    let (_dir2, target) = temp_store();
    assert_eq!(
        target
            .import_jobs(&exported, Import::Add, at(T0))
            .unwrap()
            .added
            .len(),
        2
    );
    let again = target.import_jobs(&exported, Import::Add, at(T0)).unwrap();
    assert!(again.added.is_empty(), "idempotent");
    assert_eq!(again.unchanged, 2);
    let ids: Vec<_> = target.jobs().unwrap().into_iter().map(|j| j.id).collect();
    assert!(ids.contains(&"j1".to_owned()) && ids.contains(&"j2".to_owned()));
    let next = target
        .add_job(&spec("every 5m", "c"), "UTC", at(T0))
        .unwrap();
    assert_eq!(next.id, "j3", "imported ids are never handed out again");

    let (_dir3, other) = temp_store();
    other
        .add_job(&spec("every 5m", "clash"), "UTC", at(T0))
        .unwrap(); // takes id j1
    let before = other.jobs().unwrap();
    assert!(other.import_jobs(&exported, Import::Add, at(T0)).is_err());
    assert_eq!(
        other.jobs().unwrap(),
        before,
        "nothing imported, nothing overwritten"
    );
}

#[test]
fn export_and_import_keep_a_jobs_handler() {
    let (_dir, source) = temp_store();
    source
        .add_job(&JobSpec::handled_by("every 5m", "greet"), "UTC", at(T0))
        .unwrap();
    let document = serde_json::to_string(&JobsExport::new(&source.jobs().unwrap())).unwrap();
    let exported = JobsExport::parse(&document).unwrap().jobs;
    let (_dir2, target) = temp_store();
    target.import_jobs(&exported, Import::Add, at(T0)).unwrap();
    let imported = target.job("greet").unwrap();
    assert_eq!(imported.handler.as_deref(), Some("greet"));
    assert!(imported.command.is_empty());
}

#[test]
fn a_backward_clock_jump_never_reruns_an_occurrence() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("every 1m", "b"), "UTC", at(T0))
        .unwrap();
    let due = at(T0) + Duration::minutes(1);
    assert!(matches!(
        store.claim("j1", due, &claimer(1)).unwrap(),
        ClaimOutcome::Run(_)
    ));
    // The wall clock steps back ten minutes: nothing already run is due again.
    let earlier = due - Duration::minutes(10);
    assert!(store.due_job_ids(earlier).unwrap().is_empty());
    assert_eq!(
        store.claim("j1", earlier, &claimer(1)).unwrap(),
        ClaimOutcome::Lost
    );
    assert_eq!(
        store.claim("j1", due, &claimer(1)).unwrap(),
        ClaimOutcome::Lost
    );
    assert_eq!(store.runs(Some("j1"), 10).unwrap().len(), 1);
}

#[test]
fn a_named_occurrence_is_claimed_or_skipped_only_when_it_is_the_due_one() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("every 1m", "o"), "UTC", at(T0))
        .unwrap();
    let due = at(T0) + Duration::minutes(1);
    let now = due + Duration::seconds(1);
    assert_eq!(
        store.due_occurrences(now).unwrap(),
        [("j1".to_owned(), due)]
    );
    let wrong = due - Duration::minutes(1);
    assert_eq!(
        store
            .claim_occurrence("j1", wrong, now, &claimer(1))
            .unwrap(),
        ClaimOutcome::Lost
    );
    let skipped = store
        .skip_occurrence(
            "j1",
            due,
            RunReason::Provider("ran on host-b".into()),
            now,
            &claimer(1),
        )
        .unwrap();
    assert!(
        matches!(skipped, ClaimOutcome::Skipped { ref reason, .. } if *reason == RunReason::Provider("ran on host-b".into())),
        "{skipped:?}"
    );
    assert_eq!(
        store.job("j1").unwrap().next_run,
        Some(due + Duration::minutes(1)),
        "advanced past it"
    );
    assert_eq!(
        store.job("j1").unwrap().completed_count,
        1,
        "an occurrence run elsewhere counts toward the repeat limit"
    );
    let next = due + Duration::minutes(1);
    assert!(matches!(
        store
            .claim_occurrence("j1", next, next, &claimer(1))
            .unwrap(),
        ClaimOutcome::Run(_)
    ));
}

#[test]
fn resuming_an_interval_job_keeps_its_grid() {
    let (_dir, store) = temp_store();
    store
        .add_job(&spec("every 7s", "grid"), "UTC", at(T0))
        .unwrap();
    store.pause_job("grid", None, at(T0)).unwrap();
    let later = at(T0) + Duration::seconds(95) + Duration::milliseconds(123);
    let (resumed, _) = store.resume_job("grid", None, later).unwrap();
    assert_eq!(
        resumed.next_run,
        Some(at(T0) + Duration::seconds(98)),
        "on the original 7 s grid (T0 + 7 + 13 × 7)"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

    /// `jobs import` of damaged exports: an error or an import, never a panic, and a refused
    /// file changes nothing.
    #[test]
    fn importing_damaged_jobs_never_panics(
        id in "(j[0-9a-z]{1,3}|[a-z./]{1,6})",
        name in ".{0,12}",
        schedule in "(cron|every|once|x):.{0,20}",
        zone in "(UTC|Europe/Berlin|Mars/Base|.{0,8})",
        command in proptest::collection::vec(".{0,8}", 0..3),
    ) {
        let (_dir, store) = temp_store();
        let job = serde_json::json!({
            "id": id, "name": name, "command": command, "shell": false, "workdir": null, "env": {},
            "schedule_text": "x", "schedule": schedule, "timezone": zone, "repeat_limit": null,
            "completed_count": 0, "enabled": true, "paused_at": null, "pause_reason": null,
            "next_run": null, "last_run": null, "last_status": null, "last_error": null,
            "failure_streak": 0, "timeout_secs": null, "catch_up": "once", "overlap": "skip",
            "created_at": "2026-01-01T00:00:00Z", "completed_at": null,
        });
        let jobs = JobsExport::parse(&serde_json::json!([job]).to_string()).unwrap().jobs;
        match store.import_jobs(&jobs, Import::Add, at(T0)) {
            Ok(_) => {}
            Err(_) => proptest::prop_assert!(store.jobs().unwrap().is_empty()),
        }
    }
}

#[test]
fn an_import_never_makes_a_name_and_an_id_collide() {
    let (_dir, source) = temp_store();
    for name in ["a", "b", "c"] {
        source
            .add_job(&spec("every 5m", name), "UTC", at(T0))
            .unwrap();
    }
    let mut exported = JobsExport::new(&source.jobs().unwrap()).jobs;
    exported.retain(|job| job.id == "j3");
    // Here a job is named `j3`, which the import would bring in as an id.
    let (_dir2, target) = temp_store();
    target
        .add_job(&spec("every 5m", "j3"), "UTC", at(T0))
        .unwrap();
    let before = target.jobs().unwrap();
    let refused = target
        .import_jobs(&exported, Import::Add, at(T0))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("is the name of another job here"),
        "{refused}"
    );
    assert_eq!(target.jobs().unwrap(), before, "nothing imported");
    // And an imported name may not be a job's id here.
    let (_dir3, other) = temp_store();
    other
        .add_job(&spec("every 5m", "x"), "UTC", at(T0))
        .unwrap(); // id j1
    let mut renamed = JobsExport::new(&source.jobs().unwrap()).jobs;
    renamed.retain(|job| job.id == "j2");
    renamed[0].name = "J1".into();
    let refused = other
        .import_jobs(&renamed, Import::Add, at(T0))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("is the id of another job (j1)"),
        "{refused}"
    );
}

/// Whether a job with `H` fires is the job's own question: `0 0 H(29-31) 2 *` fires (on 29
/// February) for the jobs whose id picks 29 and never for the others, which are refused.
#[test]
fn a_job_whose_h_values_never_fire_is_refused_and_the_others_are_not() {
    let now = at("2026-06-01T00:00:00Z");
    let prepared = super::jobs::prepare(&spec("0 0 H(29-31) 2 *", "leap"), "UTC", now).unwrap();
    let (mut fire, mut never) = (0, 0);
    for i in 1..60 {
        match prepared.first_run(&format!("j{i}"), now) {
            Ok(first) => {
                assert_eq!(first.format("%m-%d").to_string(), "02-29");
                fire += 1;
            }
            Err(StoreError::Schedule(crate::schedule::ScheduleError::NeverFires(text))) => {
                assert_eq!(text, "0 0 H(29-31) 2 *");
                never += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert!(fire > 0 && never > 0, "{fire} fire, {never} never");
}

#[test]
fn a_chunk_of_claims_in_one_transaction_decides_each_job_on_its_own() {
    let (_dir, store) = temp_store();
    let t0 = at(T0);
    let a = store.add_job(&spec("* * * * *", "a"), "UTC", t0).unwrap();
    let b = store.add_job(&spec("* * * * *", "b"), "UTC", t0).unwrap();
    let due = t0 + Duration::minutes(1);
    let ids = [
        a.id.clone(),
        "j-missing".to_owned(),
        b.id.clone(),
        a.id.clone(),
    ];
    let outcomes = store.claim_each(&ids, due, &claimer(1));
    assert!(
        matches!(outcomes[0], Ok(ClaimOutcome::Run(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], Ok(ClaimOutcome::NoSuchJob)),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], Ok(ClaimOutcome::Run(_))),
        "{outcomes:?}"
    );
    // The same occurrence twice in one chunk is claimed once.
    assert!(
        matches!(outcomes[3], Ok(ClaimOutcome::Lost)),
        "{outcomes:?}"
    );
    // The claims were committed: another claimer finds nothing left to claim.
    assert!(matches!(
        store.claim(&a.id, due, &claimer(2)).unwrap(),
        ClaimOutcome::Lost
    ));
}
