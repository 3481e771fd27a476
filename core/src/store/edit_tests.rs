//! Changing jobs in place: edits, declared job sets (`apply`) and `import --replace`.

use chrono::Duration;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

const T0: &str = "2026-05-01T12:00:30Z";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(DB_FILE)).unwrap();
    (dir, store)
}

fn named(schedule: &str, name: &str) -> JobSpec {
    let mut spec = JobSpec::new(schedule, ["true"]);
    spec.name = Some(name.into());
    spec
}

#[test]
fn an_edit_keeps_the_id_and_runtime_state_and_moves_the_next_run_only_with_the_schedule() {
    let (_dir, store) = store();
    let job = store
        .add_job(&named("0 * * * *", "hourly"), "UTC", at(T0))
        .unwrap();
    assert_eq!(job.next_run, Some(at("2026-05-01T13:00:00Z")));
    let later = at(T0) + Duration::minutes(5);

    let edited = store
        .edit_job("hourly", |spec| spec.timeout_secs = Some(60), "UTC", later)
        .unwrap();
    assert_eq!(
        edited.after.next_run, job.next_run,
        "same schedule, same next run"
    );
    let changes = edited.changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].field, JobField::Timeout);
    assert_eq!(
        (changes[0].before.as_str(), changes[0].after.as_str()),
        ("none", "60s")
    );

    let edited = store
        .edit_job(
            &job.id,
            |spec| spec.schedule = "*/10 * * * *".into(),
            "UTC",
            later,
        )
        .unwrap();
    assert_eq!(edited.after.id, job.id);
    assert_eq!(edited.after.next_run, Some(at("2026-05-01T12:10:00Z")));
    assert_eq!(edited.after.schedule, "cron:*/10 * * * *");
    assert_eq!(edited.after.created_at, job.created_at);
}

#[test]
fn an_edit_is_checked_as_add_checks_and_a_refused_one_changes_nothing() {
    let (_dir, store) = store();
    store
        .add_job(&named("every 1h", "a"), "UTC", at(T0))
        .unwrap();
    let b = store
        .add_job(&named("every 1h", "b"), "UTC", at(T0))
        .unwrap();
    let refused = [
        store.edit_job(
            "b",
            |s| s.schedule = "every fortnight".into(),
            "UTC",
            at(T0),
        ),
        store.edit_job("b", |s| s.name = Some("A".into()), "UTC", at(T0)),
        store.edit_job(
            "b",
            |s| s.timezone = Some("Mars/Base".into()),
            "UTC",
            at(T0),
        ),
        store.edit_job("b", |s| s.command = vec![], "UTC", at(T0)),
        store.edit_job("b", |s| s.name = Some("j1".into()), "UTC", at(T0)),
    ];
    for result in refused {
        assert!(result.is_err(), "{result:?}");
    }
    assert_eq!(store.job("b").unwrap(), b, "nothing changed");
}

#[test]
fn a_completed_job_given_more_repeats_or_a_new_schedule_runs_again() {
    let (_dir, store) = store();
    let mut spec = named("every 1h", "twice");
    spec.repeat = Some(Repeat::Times(1));
    let job = store.add_job(&spec, "UTC", at(T0)).unwrap();
    // Fire its one repeat.
    let due = job.next_run.unwrap();
    let claimer = crate::store::Claimer {
        host: "h".into(),
        pid: 1,
        max_parallel: 0,
    };
    let claimed = store.claim(&job.id, due, &claimer).unwrap();
    assert!(matches!(claimed, crate::store::ClaimOutcome::Run(_)));
    assert!(store.job("twice").unwrap().completed_at.is_some());

    let edited = store
        .edit_job("twice", |s| s.repeat = Some(Repeat::Times(3)), "UTC", due)
        .unwrap();
    assert_eq!(edited.after.completed_at, None);
    assert!(edited.after.next_run.is_some_and(|next| next > due));
    assert!(edited.after.is_active());
}

#[test]
fn apply_adds_changes_prunes_and_a_second_apply_changes_nothing() {
    let (_dir, store) = store();
    store
        .add_job(&named("every 1h", "old"), "UTC", at(T0))
        .unwrap();
    let keep = store
        .add_job(&named("every 5m", "keep"), "UTC", at(T0))
        .unwrap();
    let declared = vec![
        Declared::new(named("every 10m", "keep")),
        Declared::new(named("0 3 * * *", "new")),
    ];
    // A dry run says what would happen and writes nothing.
    let plan = store
        .apply_jobs(&declared, true, true, "UTC", at(T0))
        .unwrap();
    assert_eq!(plan.added.len(), 1);
    assert_eq!(plan.changed.len(), 1);
    assert_eq!(plan.removed.len(), 1);
    assert_eq!(store.jobs().unwrap().len(), 2);
    assert!(store.job("new").is_err());

    let applied = store
        .apply_jobs(&declared, true, false, "UTC", at(T0))
        .unwrap();
    assert_eq!(applied.added[0].name, "new");
    assert_eq!(applied.changed[0].after.id, keep.id, "changed in place");
    assert_eq!(applied.removed[0].name, "old");
    let again = store
        .apply_jobs(&declared, true, false, "UTC", at(T0))
        .unwrap();
    assert!(!again.changes_anything(), "{again:?}");
    assert_eq!(again.unchanged.len(), 2);
}

#[test]
fn apply_is_all_or_nothing() {
    let (_dir, store) = store();
    store
        .add_job(&named("every 1h", "a"), "UTC", at(T0))
        .unwrap();
    let declared = vec![
        Declared::new(named("every 2h", "a")),
        Declared::new(named("every fortnight", "broken")),
    ];
    let error = store
        .apply_jobs(&declared, true, false, "UTC", at(T0))
        .unwrap_err();
    assert!(error.to_string().contains("broken"), "{error}");
    // The refused job is named by its place, with the store's own reason.
    assert!(
        matches!(
            &error,
            StoreError::Declared { index: 1, name, source }
                if name == "broken" && matches!(**source, StoreError::Schedule(_))
        ),
        "{error:?}"
    );
    assert_eq!(store.job("a").unwrap().schedule_text, "every 1h");
    let twice = vec![
        Declared::new(named("every 2h", "x")),
        Declared::new(named("every 3h", "X")),
    ];
    assert!(store
        .apply_jobs(&twice, false, false, "UTC", at(T0))
        .is_err());
}

#[test]
fn apply_pauses_and_resumes_only_when_told() {
    let (_dir, store) = store();
    store
        .add_job(&named("every 1h", "a"), "UTC", at(T0))
        .unwrap();
    store.pause_job("a", Some("incident"), at(T0)).unwrap();
    let untold = vec![Declared::new(named("every 1h", "a"))];
    let applied = store
        .apply_jobs(&untold, false, false, "UTC", at(T0))
        .unwrap();
    assert!(!applied.changes_anything());
    assert!(store.job("a").unwrap().paused_at.is_some(), "left paused");
    let mut resumed = Declared::new(named("every 1h", "a"));
    resumed.paused = Some(false);
    let applied = store
        .apply_jobs(&[resumed], false, false, "UTC", at(T0))
        .unwrap();
    assert_eq!(applied.changed[0].changes()[0].field, JobField::Paused);
    assert!(store.job("a").unwrap().is_active());
}

#[test]
fn import_replace_updates_by_id_or_name_and_keeps_history() {
    let (_dir, source) = store();
    let (_dir2, target) = store();
    source
        .add_job(&named("every 1h", "a"), "UTC", at(T0))
        .unwrap();
    source
        .add_job(&named("every 1h", "b"), "UTC", at(T0))
        .unwrap();
    let exported = JobsExport::new(&source.jobs().unwrap()).jobs;
    target.import_jobs(&exported, Import::Add, at(T0)).unwrap();
    // A job named like one in the document but with another id here.
    target.remove_job("b").unwrap();
    let local_b = target
        .add_job(&named("every 7h", "b"), "UTC", at(T0))
        .unwrap();

    source
        .edit_job("a", |s| s.schedule = "every 2h".into(), "UTC", at(T0))
        .unwrap();
    source
        .edit_job("b", |s| s.timeout_secs = Some(5), "UTC", at(T0))
        .unwrap();
    let exported = JobsExport::new(&source.jobs().unwrap()).jobs;
    // Adding refuses a name held here by another id, and changes nothing.
    let refused = target
        .import_jobs(&exported, Import::Add, at(T0))
        .unwrap_err();
    assert!(matches!(refused, StoreError::NameTaken(_)), "{refused:?}");
    assert_eq!(target.job("a").unwrap().schedule_text, "every 1h");

    let replaced = target
        .import_jobs(&exported, Import::Replace, at(T0))
        .unwrap();
    assert_eq!(replaced.replaced.len(), 2);
    assert_eq!(target.job("a").unwrap().schedule_text, "every 2h");
    let b = target.job("b").unwrap();
    assert_eq!(b.id, local_b.id, "found by name, keeps its id here");
    assert_eq!(b.schedule_text, "every 1h");
    assert_eq!(b.timeout_secs, Some(5));
    let again = target
        .import_jobs(&exported, Import::Replace, at(T0))
        .unwrap();
    assert!(again.replaced.is_empty() && again.added.is_empty());
    assert_eq!(again.unchanged, 2);
}

#[test]
fn a_one_shot_edited_into_a_recurring_job_repeats_forever() {
    let (_dir, store) = store();
    store
        .add_job(&named("in 10m", "tobe"), "UTC", at(T0))
        .unwrap();
    let edited = store
        .edit_job("tobe", |s| s.schedule = "every 2h".into(), "UTC", at(T0))
        .unwrap();
    assert_eq!(edited.after.repeat_limit, None, "{:?}", edited.changes());
    // An explicit count stays.
    let mut spec = named("every 1h", "thrice");
    spec.repeat = Some(Repeat::Times(3));
    store.add_job(&spec, "UTC", at(T0)).unwrap();
    let edited = store
        .edit_job("thrice", |s| s.schedule = "every 2h".into(), "UTC", at(T0))
        .unwrap();
    assert_eq!(edited.after.repeat_limit, Some(3));
}

#[test]
fn a_zone_change_moves_neither_a_one_shot_nor_an_interval_and_reopens_nothing() {
    let (_dir, store) = store();
    let once = store
        .add_job(&named("in 1s", "once"), "UTC", at(T0))
        .unwrap();
    let every = store
        .add_job(&named("every 7m", "every"), "UTC", at(T0))
        .unwrap();
    let claimer = crate::store::Claimer {
        host: "h".into(),
        pid: 1,
        max_parallel: 0,
    };
    let due = once.next_run.unwrap();
    store.claim(&once.id, due, &claimer).unwrap();
    assert!(store.job("once").unwrap().completed_at.is_some());
    let later = at(T0) + Duration::minutes(1);
    let edited = store
        .edit_job(
            "once",
            |s| s.timezone = Some("Europe/Berlin".into()),
            "UTC",
            later,
        )
        .unwrap();
    assert!(edited.after.completed_at.is_some(), "not run again");
    assert_eq!(edited.after.next_run, None);
    assert_eq!(edited.after.timezone, "Europe/Berlin");
    let edited = store
        .edit_job(
            "every",
            |s| s.timezone = Some("Asia/Tokyo".into()),
            "UTC",
            later,
        )
        .unwrap();
    assert_eq!(
        edited.after.next_run, every.next_run,
        "an interval keeps its grid"
    );
}

#[test]
fn a_job_left_with_nothing_to_fire_is_completed_not_active() {
    let (_dir, store) = store();
    let once = store
        .add_job(&named("in 1s", "once"), "UTC", at(T0))
        .unwrap();
    let claimer = crate::store::Claimer {
        host: "h".into(),
        pid: 1,
        max_parallel: 0,
    };
    store
        .claim(&once.id, once.next_run.unwrap(), &claimer)
        .unwrap();
    let edited = store
        .edit_job(
            "once",
            |s| s.repeat = Some(Repeat::Times(3)),
            "UTC",
            at(T0) + Duration::minutes(5),
        )
        .unwrap();
    assert!(
        !edited.after.is_active() || edited.after.next_run.is_some(),
        "{:?}",
        edited.after
    );
}
