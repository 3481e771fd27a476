//! Reading big job sets without holding them: pages in id order, the streamed walk, counts
//! and the jobs `status` names, against real SQLite files.

use std::ops::ControlFlow;

use chrono::{DateTime, Duration, Utc};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

const T0: &str = "2026-05-01T12:00:00Z";

fn store_with(count: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("cron").join(DB_FILE)).unwrap();
    for i in 0..count {
        add(&store, &format!("job-{i}"), &format!("{} 3 * * *", i % 60));
    }
    (dir, store)
}

fn add(store: &Store, name: &str, schedule: &str) -> Job {
    let mut spec = JobSpec::new(schedule, ["true"]);
    spec.name = Some(name.into());
    store.add_job(&spec, "UTC", at(T0)).unwrap()
}

fn sql(store: &Store, statement: &str) {
    store
        .write(|tx| tx.execute_batch(statement).map_err(super::sql))
        .unwrap();
}

fn sequence(id: &str) -> i64 {
    i64::from_str_radix(&id[1..], 36).unwrap()
}

#[test]
fn pages_hold_every_job_once_in_id_order_while_jobs_come_and_go() {
    // 80 jobs: ids j1 ... j28, past `jz`, where text order and id order part.
    let (_dir, store) = store_with(80);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    loop {
        let page = store.jobs_page(after.as_deref(), 7, false).unwrap();
        assert!(page.jobs.len() <= 7);
        seen.extend(page.jobs.iter().map(|j| j.id.clone()));
        // Between pages: one job added, one not listed yet removed, one listed removed.
        if page.next_after.is_some() {
            added.push(add(&store, &format!("late-{}", added.len()), "5 4 * * *").id);
        }
        let ahead = match &page.next_after {
            Some(next) => store.jobs_page(Some(next), 1, false).unwrap().jobs,
            None => Vec::new(),
        };
        if let (Some(job), true) = (ahead.first(), removed.len() < 5) {
            if !added.contains(&job.id) {
                store.remove_job(&job.id).unwrap();
                removed.push(job.id.clone());
            }
        }
        if let Some(first) = page.jobs.first() {
            store.remove_job(&first.id).unwrap();
        }
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert!(
        seen.windows(2).all(|w| sequence(&w[0]) < sequence(&w[1])),
        "id order, every job once: {seen:?}"
    );
    for i in 1..=80 {
        let id = super::jobs::id_for(i);
        assert_eq!(
            seen.contains(&id),
            !removed.contains(&id),
            "{id}: listed unless removed before its page"
        );
    }
    assert!(
        added.iter().all(|id| seen.contains(id)),
        "jobs added while paging come last"
    );
}

#[test]
fn a_page_is_bounded_and_starts_after_a_job_id_only() {
    let (_dir, store) = store_with(3);
    for limit in [0, MAX_PAGE + 1] {
        assert!(matches!(
            store.jobs_page(None, limit, true),
            Err(StoreError::Invalid(_))
        ));
    }
    for after in ["job-1", "j01", "", "../x"] {
        assert!(
            matches!(
                store.jobs_page(Some(after), 5, true),
                Err(StoreError::Invalid(_))
            ),
            "{after:?}"
        );
    }
    // A removed job still marks the place: the page goes on after it.
    store.remove_job("j2").unwrap();
    let page = store.jobs_page(Some("j2"), 5, true).unwrap();
    assert_eq!(
        page.jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["j3"]
    );
    assert_eq!(page.next_after, None);
}

#[test]
fn the_walk_sees_what_jobs_lists_in_the_same_order_and_stops_when_asked() {
    let (_dir, store) = store_with(50);
    store.pause_job("job-7", None, at(T0)).unwrap();
    for all in [true, false] {
        let mut walked = Vec::new();
        store
            .each_job(all, |job| {
                walked.push(job);
                ControlFlow::Continue(())
            })
            .unwrap();
        let listed: Vec<Job> = store
            .jobs()
            .unwrap()
            .into_iter()
            .filter(|j| all || j.is_active())
            .collect();
        assert_eq!(walked, listed, "all: {all}");
    }
    let mut visited = 0;
    store
        .each_job(true, |_| {
            visited += 1;
            if visited == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(visited, 3);
}

#[test]
fn counts_are_taken_in_sql() {
    let (_dir, store) = store_with(4);
    store.pause_job("job-0", None, at(T0)).unwrap();
    sql(
        &store,
        "UPDATE jobs SET completed_at = 1 WHERE name = 'job-1'",
    );
    let counts = store.job_counts().unwrap();
    assert_eq!((counts.total, counts.active), (4, 2));
    let earliest = store
        .jobs()
        .unwrap()
        .into_iter()
        .filter(Job::is_active)
        .filter_map(|j| j.next_run)
        .min();
    assert_eq!(counts.next_run, earliest);
}

#[test]
fn the_jobs_status_names_are_counted_in_full_and_named_up_to_the_limit() {
    let (_dir, store) = store_with(12);
    // job-0..4 failed (job-0 also has a schedule nothing can read: counted once), job-5 timed
    // out but is paused (not watched), job-6's schedule cannot be read and it was paused for
    // it (watched), job-7 is completed with a schedule nothing can read (not watched),
    // job-8 succeeded.
    sql(
        &store,
        "UPDATE jobs SET last_status = 'failed' WHERE name IN ('job-0', 'job-1', 'job-2', 'job-3', 'job-4');
         UPDATE jobs SET schedule = 'cron:not a schedule' WHERE name IN ('job-0', 'job-6', 'job-7');
         UPDATE jobs SET last_status = 'timed_out', paused_at = 1 WHERE name = 'job-5';
         UPDATE jobs SET paused_at = 1 WHERE name = 'job-6';
         UPDATE jobs SET completed_at = 1 WHERE name = 'job-7';
         UPDATE jobs SET last_status = 'succeeded' WHERE name = 'job-8';",
    );
    let all = store.jobs_in_trouble(None, 100).unwrap();
    let mut names: Vec<&str> = all.failing.iter().map(|j| j.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["job-0", "job-1", "job-2", "job-3", "job-4", "job-6"]
    );
    assert_eq!(all.failing_count, 6);
    assert!(
        all.overdue.is_empty() && all.overdue_count == 0,
        "not asked"
    );

    let named = store.jobs_in_trouble(None, 2).unwrap();
    assert_eq!((named.failing.len(), named.failing_count), (2, 6));

    // Overdue: active jobs whose next run is before the instant; job-9 and job-10 are.
    sql(
        &store,
        "UPDATE jobs SET next_run = 1000 WHERE name IN ('job-9', 'job-10', 'job-5')",
    );
    let overdue = store
        .jobs_in_trouble(Some(at(T0) - Duration::minutes(1)), 1)
        .unwrap();
    assert_eq!((overdue.overdue.len(), overdue.overdue_count), (1, 2));
    assert!(["job-9", "job-10"].contains(&overdue.overdue[0].name.as_str()));
}
