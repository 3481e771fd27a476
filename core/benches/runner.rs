//! The runner's own CPU per process run: claimed runs of `true` started through a [`Runner`]
//! (spawn, watch, read, record the start and the end) in rounds of 100 due at once, with the
//! CPU time of this process (every thread, children excluded: `getrusage(RUSAGE_SELF)`)
//! split into the claims and the rest. CPU time, not wall-clock: meaningful on a busy machine.
//!
//! `cargo bench -p cronhost-core --bench runner` (`-- --quick`: 3 rounds instead of 30). The
//! minimum and median over the rounds say more than the mean on a busy machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use cronhost_core::run::Runner;
use cronhost_core::store::{ClaimOutcome, Claimer, JobSpec, Store};

const AT_ONCE: usize = 100;

/// CPU seconds of this process so far (user + system, every thread), and context switches.
fn cpu() -> (f64, i64) {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        secs(usage.ru_utime) + secs(usage.ru_stime),
        usage.ru_nvcsw + usage.ru_nivcsw,
    )
}

fn main() {
    let rounds = if std::env::args().any(|a| a == "--quick") {
        3
    } else {
        30
    };
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let store = Arc::new(Store::open(&dir.path().join("cronhost.db")).unwrap());
    let ids: Vec<String> = (0..AT_ONCE)
        .map(|i| {
            let mut spec = JobSpec::new("* * * * * *", ["true"]);
            spec.name = Some(format!("job-{i}"));
            store.add_job(&spec, "UTC", t0).unwrap().id
        })
        .collect();
    let runner = Runner::new(Arc::clone(&store), dir.path().join("output"));
    let claimer = Claimer {
        host: "bench".into(),
        pid: std::process::id(),
        max_parallel: 0,
    };
    let (mut claiming, mut running, mut switches) = (0.0, 0.0, 0);
    let mut per_round = Vec::new();
    let began = Instant::now();
    for round in 1..=rounds {
        let now = t0 + chrono::Duration::seconds(round);
        let before = cpu();
        let claims: Vec<_> = store
            .claim_each(&ids, now, &claimer)
            .into_iter()
            .map(|claim| match claim {
                Ok(ClaimOutcome::Run(claim)) => claim,
                other => panic!("expected a run, got {other:?}"),
            })
            .collect();
        let claimed = cpu();
        for claim in claims {
            runner.start(claim).unwrap();
        }
        assert!(
            runner.wait_idle(Duration::from_secs(60)),
            "runs still going"
        );
        let after = cpu();
        claiming += claimed.0 - before.0;
        running += after.0 - claimed.0;
        per_round.push((after.0 - claimed.0) * 1e6 / AT_ONCE as f64);
        switches += after.1 - claimed.1;
    }
    let runs = (rounds as usize * AT_ONCE) as f64;
    let runs_stored = store.runs(None, 100_000).unwrap();
    assert_eq!(runs_stored.len() as f64, runs);
    per_round.sort_by(f64::total_cmp);
    println!(
        "per round of {AT_ONCE}: runner CPU µs per run min {:.1} median {:.1}",
        per_round[0],
        per_round[per_round.len() / 2]
    );
    println!(
        "{runs} runs of `true`, {AT_ONCE} at once: runner CPU {:.1} µs per run (start, watch, record), claims {:.1} µs per run, {:.1} context switches per run, wall {:.2} s",
        running * 1e6 / runs,
        claiming * 1e6 / runs,
        switches as f64 / runs,
        began.elapsed().as_secs_f64()
    );
}
