//! A per-second job's store stays bounded, at the default retention (the newest 1,000 runs):
//!
//! 1. steady state: a day of its runs added a minute at a time (60 rows), each minute followed
//!    by the prune a daemon's pass does; the store file's size and rows through the day, and
//!    how long each prune batch holds the write lock;
//! 2. a backlog (a store from before history was bounded): a day of runs at once, each with its
//!    output file, pruned the way the daemon does it (`Engine::housekeep`, called again and
//!    again while a pass is under way) while another thread claims and finishes a second
//!    per-second job through the same store handle, as the daemon's ticker does; how long the
//!    claims took meanwhile;
//! 3. a second day's backlog (rows only) pruned batch by batch: how long each full batch holds
//!    the write lock;
//! 4. what a pass costs when there is nothing to prune: 10,000 jobs with 10 runs each.
//!
//! `cargo bench -p cronhost-e2e --bench history` (`-- --quick`: an hour of runs, not a day).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cronhost::engine::{CronEngine, CronEngineSettings, Engine, PRUNE_BATCH};
use cronhost::store::{ClaimOutcome, Claimer, JobSpec, RunRetention, RunStatus, Store};

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "n {} p50 {:.2} p99 {:.2} max {:.2} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    )
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The store file's size once its write-ahead log is checkpointed into it.
fn store_size(db: &Path) -> u64 {
    let conn = rusqlite::Connection::open(db).expect("open store");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    std::fs::metadata(db).expect("store").len()
}

fn rows(db: &Path, job: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open store");
    conn.query_row("SELECT count(*) FROM runs WHERE job_id = ?1", [job], |r| {
        r.get(0)
    })
    .expect("count")
}

fn files(output: &Path, job: &str) -> usize {
    std::fs::read_dir(output.join(job)).map_or(0, |d| d.count())
}

/// `count` ended runs of `job`, one a second up to `end`, each with a small output file when
/// `output` is given.
fn insert_runs(db: &Path, output: Option<&Path>, job: &str, end: DateTime<Utc>, count: i64) {
    if let Some(output) = output {
        std::fs::create_dir_all(output.join(job)).expect("output dir");
    }
    let mut conn = rusqlite::Connection::open(db).expect("open store");
    let tx = conn.transaction().expect("transaction");
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, started_at, finished_at,
                                   status, exit_code, host, pid, child_pid, lateness_ms)
                 VALUES (?1, ?2, ?3, ?3, ?3 + 1, ?3 + 40, 'succeeded', 0, 'bench', 1, 2, 1)",
            )
            .expect("prepare");
        for i in 0..count {
            let at = end - chrono::Duration::seconds(count - 1 - i);
            let ms = at.timestamp_millis();
            insert
                .execute(rusqlite::params![format!("{job}@{ms}"), job, ms])
                .expect("insert");
            if let Some(output) = output {
                std::fs::write(cronhost::run::output_path(output, job, at), "ok\n").expect("file");
            }
        }
    }
    tx.commit().expect("commit");
}

fn report(what: &str, db: &Path, output: &Path, job: &str) {
    println!(
        "{what}: {} rows, {} output files, store {}",
        rows(db, job),
        files(output, job),
        mib(store_size(db))
    );
}

/// Claim and finish the second job's occurrences one after another (on a virtual clock: each
/// at its instant) until `stop`; returns each claim's duration in ms.
fn claim_until(store: &Store, job: &str, stop: &AtomicBool) -> Vec<f64> {
    let claimer = Claimer {
        host: "bench".into(),
        pid: std::process::id(),
        max_parallel: 0,
    };
    let mut took = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let due = store.job(job).expect("job").next_run.expect("next run");
        let started = Instant::now();
        let outcome = store.claim(job, due, &claimer).expect("claim");
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        if let ClaimOutcome::Run(claim) = outcome {
            store
                .finish_run(&claim.run_id, RunStatus::Succeeded, Some(0), None, due)
                .expect("finish");
        }
    }
    took
}

fn main() {
    let count: i64 = if quick() { 3_600 } else { 86_400 };
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("cronhost.db");
    let output = dir.path().join("output");
    let settings = CronEngineSettings::default();
    let kept = settings.run_retention;
    let engine = Arc::new(CronEngine::open(&db, &output, settings).expect("engine"));
    let store = Arc::clone(engine.store());
    let now = Utc::now();
    let past = now - chrono::Duration::days(2);
    for name in ["pruned", "claimed"] {
        let mut spec = JobSpec::new("*/1 * * * * *", ["true"]);
        spec.name = Some(name.into());
        store.add_job(&spec, "UTC", past).expect("add job");
    }
    let (pruned, claimed) = ("j1", "j2");
    println!(
        "per-second job, retention {kept} runs (default), {count} runs a day, batches of {PRUNE_BATCH}"
    );

    // 1. Steady state: a day, a minute at a time, pruned after each minute.
    let retention = RunRetention::new(kept, 90);
    let steady = "j3";
    let mut spec = JobSpec::new("*/1 * * * * *", ["true"]);
    spec.name = Some("steady".into());
    store.add_job(&spec, "UTC", past).expect("add job");
    let start = now - chrono::Duration::days(1);
    let (mut largest, mut most_rows, mut batches) = (0, 0, Vec::new());
    for minute in 0..count / 60 {
        let end = start + chrono::Duration::minutes(minute + 1);
        insert_runs(&db, None, steady, end, 60);
        loop {
            let batch = store
                .prunable_runs(steady, retention, end, PRUNE_BATCH)
                .expect("select");
            if batch.runs().is_empty() {
                break;
            }
            let started = Instant::now();
            store.delete_runs(&batch).expect("delete");
            batches.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        most_rows = most_rows.max(rows(&db, steady));
        if minute % 60 == 59 {
            largest = largest.max(store_size(&db));
        }
    }
    println!(
        "steady state, {} minutes of 60 runs, pruned after each: at most {most_rows} rows; store at most {} (checked hourly), {} at the end",
        count / 60,
        mib(largest),
        mib(store_size(&db))
    );
    println!(
        "steady state, each minute's batch (the write transaction): {}",
        summary(batches)
    );

    // Baseline: claims with nothing else going on.
    let stop = AtomicBool::new(false);
    let baseline = std::thread::scope(|scope| {
        let claims = scope.spawn(|| claim_until(&store, claimed, &stop));
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        claims.join().expect("claims")
    });
    println!("claims alone: {}", summary(baseline));

    // 2. A backlog: day 1, ending three minutes ago (past the grace that keeps fresh outcomes).
    let day_end = now - chrono::Duration::minutes(3);
    let started = Instant::now();
    insert_runs(&db, Some(&output), pruned, day_end, count);
    println!("day 1 inserted in {:.1} s", started.elapsed().as_secs_f64());
    report("day 1, before pruning", &db, &output, pruned);

    // Pruned as the daemon does, while the other job is claimed through the same handle.
    let stop = AtomicBool::new(false);
    let (calls, took, claims) = std::thread::scope(|scope| {
        let claims = scope.spawn(|| claim_until(&store, claimed, &stop));
        let started = Instant::now();
        let mut calls = 0;
        while rows(&db, pruned) > i64::from(kept) {
            engine.housekeep();
            calls += 1;
        }
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        (calls, took, claims.join().expect("claims"))
    });
    println!(
        "pruned by housekeep in {:.2} s over {calls} calls ({:.0} runs/s, files included)",
        took.as_secs_f64(),
        (count - i64::from(kept)) as f64 / took.as_secs_f64()
    );
    println!("claims meanwhile: {}", summary(claims));
    report("day 1, after pruning", &db, &output, pruned);

    // 3. Day 2: the next day's runs (rows only), pruned batch by batch through the store,
    // timing the write transaction of each batch (the only time a prune holds the write lock).
    insert_runs(
        &db,
        None,
        pruned,
        day_end + chrono::Duration::days(1),
        count,
    );
    report("day 2 (rows only), before pruning", &db, &output, pruned);
    let later = now + chrono::Duration::days(1);
    let (mut select, mut delete) = (Vec::new(), Vec::new());
    loop {
        let started = Instant::now();
        let batch = store
            .prunable_runs(pruned, retention, later, PRUNE_BATCH)
            .expect("select");
        select.push(started.elapsed().as_secs_f64() * 1000.0);
        if batch.runs().is_empty() {
            break;
        }
        let started = Instant::now();
        store.delete_runs(&batch).expect("delete");
        delete.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    println!("per batch, choosing the runs (a read): {}", summary(select));
    println!(
        "per batch, deleting them (the write transaction): {}",
        summary(delete)
    );
    report("day 2, after pruning", &db, &output, pruned);

    // 4. A pass with nothing to prune, over many jobs (each with a few runs).
    let jobs = if quick() { 1_000 } else { 10_000 };
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("cronhost.db");
    let store = Store::open(&db).expect("store");
    let ids: Vec<String> = (0..jobs)
        .map(|i| {
            let mut spec = JobSpec::new("every 1h", ["true"]);
            spec.name = Some(format!("job-{i}"));
            store.add_job(&spec, "UTC", past).expect("add job").id
        })
        .collect();
    for id in &ids {
        insert_runs(&db, None, id, day_end, 10);
    }
    let started = Instant::now();
    let (mut after, mut seen) = (None, 0);
    while let Some(id) = store
        .next_job_with_runs(after.as_deref())
        .expect("next job")
    {
        let batch = store
            .prunable_runs(&id, retention, now, PRUNE_BATCH)
            .expect("select");
        assert!(batch.runs().is_empty());
        seen += 1;
        after = Some(id);
    }
    println!(
        "a pass with nothing to prune over {seen} jobs of 10 runs: {:.1} ms (the daemon spreads it over rounds of 50 ms)",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
