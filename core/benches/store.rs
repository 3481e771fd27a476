//! The job store on SQLite (WAL, one transaction per write): claims with their run records per
//! second, alone and with 100 jobs due at once; and the cost of finding the next due job with
//! 1,000, 10,000 and 100,000 jobs (the `jobs_due` index is the timer queue: O(log n)).
//!
//! `cargo bench -p cronhost --bench store`

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use cronhost_core::store::{ClaimOutcome, Claimer, JobSpec, RunRecord, RunStatus, Store};

fn claimer() -> Claimer {
    Claimer {
        host: "bench".into(),
        pid: std::process::id(),
        max_parallel: 0,
    }
}

fn store_with(
    dir: &std::path::Path,
    count: usize,
    schedule: impl Fn(usize) -> String,
    at: DateTime<Utc>,
) -> (Store, Vec<String>) {
    let store = Store::open(&dir.join("cronhost.db")).unwrap();
    let ids = (0..count)
        .map(|i| {
            let mut spec = JobSpec::new(&schedule(i), ["true"]);
            spec.name = Some(format!("job-{i}"));
            store.add_job(&spec, "UTC", at).unwrap().id
        })
        .collect();
    (store, ids)
}

/// Claim, record the start, record the end: what the store does for one fire.
fn fire(store: &Store, job: &str, now: DateTime<Utc>, claimer: &Claimer) {
    match store.claim(job, now, claimer).unwrap() {
        ClaimOutcome::Run(claim) => {
            store.mark_started(&claim.run_id, 1, now).unwrap();
            store
                .finish_run(&claim.run_id, RunStatus::Succeeded, Some(0), None, now)
                .unwrap();
        }
        other => panic!("expected a run, got {other:?}"),
    }
}

/// Claim every job of `ids` as a tick does (chunks of 1, 2, 4, 8, then 16 per transaction, as
/// the engine's `chunk_size`); the run ids.
fn claim_in_chunks(
    store: &Store,
    ids: &[String],
    now: DateTime<Utc>,
    claimer: &Claimer,
) -> Vec<String> {
    let mut runs = Vec::new();
    let (mut from, mut n) = (0, 0);
    while from < ids.len() {
        let to = ids.len().min(from + (1 << n.min(4)));
        for claim in store.claim_each(&ids[from..to], now, claimer) {
            match claim {
                Ok(ClaimOutcome::Run(claim)) => runs.push(claim.run_id),
                other => panic!("expected a run, got {other:?}"),
            }
        }
        (from, n) = (to, n + 1);
    }
    runs
}

fn claims(c: &mut Criterion) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let claimer = claimer();
    let mut group = c.benchmark_group("store fire (claim + start + end, 3 transactions)");
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = store_with(dir.path(), 1, |_| "* * * * * *".into(), t0);
    let mut second = 0;
    group.bench_function("one job due", |b| {
        b.iter(|| {
            second += 1;
            fire(
                &store,
                &ids[0],
                t0 + chrono::Duration::seconds(second),
                &claimer,
            );
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = store_with(dir.path(), 100, |_| "* * * * * *".into(), t0);
    let mut second = 0;
    group.throughput(criterion::Throughput::Elements(100));
    group.bench_function("100 jobs due at once", |b| {
        b.iter(|| {
            second += 1;
            let now = t0 + chrono::Duration::seconds(second);
            for id in &ids {
                fire(&store, id, now, &claimer);
            }
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = store_with(dir.path(), 100, |_| "* * * * * *".into(), t0);
    let mut second = 0;
    group.bench_function(
        "100 jobs due at once, batched as the daemon does (claims 1, 2, 4, 8, 16, ...; starts and ends in one transaction each)",
        |b| {
            b.iter(|| {
                second += 1;
                let now = t0 + chrono::Duration::seconds(second);
                let runs = claim_in_chunks(&store, &ids, now, &claimer);
                let starts = runs
                    .iter()
                    .map(|id| RunRecord::Started {
                        run_id: id.clone(),
                        child_pid: 1,
                        at: now,
                    })
                    .collect();
                assert!(store.record_runs(starts).iter().all(Result::is_ok));
                let ends = runs
                    .into_iter()
                    .map(|id| RunRecord::Ended {
                        run_id: id,
                        status: RunStatus::Succeeded,
                        exit_code: Some(0),
                        error: None,
                        at: now,
                    })
                    .collect();
                assert!(store.record_runs(ends).iter().all(Result::is_ok));
            })
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = store_with(dir.path(), 100, |_| "* * * * * *".into(), t0);
    let mut second = 0;
    group.bench_function("100 jobs due at once, the claims alone, in chunks", |b| {
        b.iter_custom(|iterations| {
            let mut claiming = Duration::ZERO;
            for _ in 0..iterations {
                second += 1;
                let now = t0 + chrono::Duration::seconds(second);
                let began = std::time::Instant::now();
                let runs = claim_in_chunks(&store, &ids, now, &claimer);
                claiming += began.elapsed();
                // Ended outside the measurement, so the next second's claims run again.
                let ends = runs
                    .into_iter()
                    .map(|id| RunRecord::Ended {
                        run_id: id,
                        status: RunStatus::Succeeded,
                        exit_code: Some(0),
                        error: None,
                        at: now,
                    })
                    .collect();
                assert!(store.record_runs(ends).iter().all(Result::is_ok));
                // The daemon's supervisor copies the log back, off the claims' path.
                store.checkpoint_if_due().unwrap();
            }
            claiming
        })
    });
    group.finish();
}

fn next_due(c: &mut Criterion) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let mut group = c.benchmark_group("next due job");
    group.measurement_time(Duration::from_secs(3));
    let sizes: &[usize] = if std::env::args().any(|a| a == "--quick") {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &count in sizes {
        let dir = tempfile::tempdir().unwrap();
        // Daily jobs at every minute of the day: none due at t0.
        let (store, _) = store_with(
            dir.path(),
            count,
            |i| format!("{} {} * * *", i % 60, (i / 60) % 24),
            t0,
        );
        group.bench_function(format!("{count} jobs"), |b| {
            b.iter_batched(
                || t0,
                |now| black_box(store.next_due(now).unwrap()),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{count} jobs: due scan, none due"), |b| {
            b.iter(|| black_box(store.due_occurrences(black_box(t0)).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, claims, next_due);
criterion_main!(benches);
