//! The host embedded in this test process: in-process jobs through handlers, two hosts with
//! different homes side by side, a panicking job, the daemon lock, job CRUD and status.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cronhost::status::Verdict;
use cronhost::store::{JobSpec, RunStatus};
use cronhost::{Host, HostError, RunContext};
use cronhost_e2e::{wait_for, PATIENCE};

type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn host(dir: &std::path::Path) -> Host {
    Host::builder().home(dir).build().expect("host builds")
}

/// A handler that records (host label, job name) per run.
fn recording(label: &'static str, seen: Seen) -> impl Fn(&mut RunContext) + Send + Sync {
    move |run: &mut RunContext| {
        seen.lock()
            .unwrap()
            .push((label.to_owned(), run.job().name.clone()))
    }
}

const EVERY_SECOND: &str = "* * * * * *";

#[test]
fn two_embedded_hosts_run_their_own_in_process_jobs_and_a_panicking_job_is_recorded_failed() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let seen: Seen = Arc::default();
    let a = host(a_dir.path());
    let b = host(b_dir.path());
    a.schedule("tick-a", EVERY_SECOND, recording("a", Arc::clone(&seen)))
        .unwrap();
    a.schedule(
        "boom",
        EVERY_SECOND,
        |_: &mut RunContext| -> std::io::Result<()> { panic!("boom goes the job") },
    )
    .unwrap();
    b.schedule("tick-b", EVERY_SECOND, recording("b", Arc::clone(&seen)))
        .unwrap();
    a.start().unwrap();
    b.start().unwrap();
    assert!(matches!(a.start(), Err(HostError::AlreadyRunning)));
    // The ticker thread beats its first heartbeat just after `start` returns.
    wait_for("a healthy host", PATIENCE, || {
        a.status().unwrap().verdict == Verdict::Healthy
    });

    let count = |label: &str, name: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(l, n)| l == label && n == name)
            .count()
    };
    wait_for("two runs on each host", PATIENCE, || {
        count("a", "tick-a") >= 2 && count("b", "tick-b") >= 2
    });
    wait_for("the panicking job recorded", PATIENCE, || {
        !a.runs(Some("boom"), 1).unwrap().is_empty()
            && a.runs(Some("boom"), 1).unwrap()[0].status != RunStatus::Claimed
            && a.runs(Some("boom"), 1).unwrap()[0].status != RunStatus::Running
    });
    assert!(a.stop(), "a stopped in time");
    assert!(b.stop(), "b stopped in time");
    assert!(!a.is_running());

    // Each host ran only its own jobs.
    assert_eq!(count("a", "tick-b") + count("b", "tick-a"), 0);
    let boom = &a.runs(Some("boom"), 1).unwrap()[0];
    assert_eq!(boom.status, RunStatus::Failed);
    assert!(
        boom.error
            .as_deref()
            .unwrap_or("")
            .contains("panicked: boom goes the job"),
        "{boom:?}"
    );
    // The runs are in the history like any other.
    let ticks = a.runs(Some("tick-a"), 100).unwrap();
    assert!(
        ticks
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count()
            >= 2
    );
    // After stop, nothing fires any more.
    let settled = count("a", "tick-a");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        count("a", "tick-a"),
        settled,
        "a stopped host fires nothing"
    );
}

#[test]
fn a_second_host_on_the_same_home_cannot_start_and_jobs_are_managed_through_the_handle() {
    let dir = tempfile::tempdir().unwrap();
    let first = host(dir.path());
    let second = host(dir.path());
    first.start().unwrap();
    let error = second.start().unwrap_err();
    assert!(matches!(error, HostError::Start(_)), "{error}");
    assert!(error.to_string().contains("already"), "{error}");

    let job = first
        .add_job(&JobSpec::handled_by(EVERY_SECOND, "managed"))
        .unwrap();
    assert_eq!(first.job("managed").unwrap().id, job.id);
    assert_eq!(
        second.jobs().unwrap().len(),
        1,
        "both handles see one store"
    );
    let bad = first
        .add_job(&JobSpec::new("every never", ["x"]))
        .unwrap_err();
    assert!(bad.to_string().contains("not understood"), "{bad}");
    assert_eq!(first.remove_job("managed").unwrap().id, job.id);
    assert!(first.jobs().unwrap().is_empty());
    assert!(first.stop());
    assert!(matches!(Host::builder().build(), Err(HostError::NoHome)));
}

#[test]
fn a_job_added_through_a_running_embedded_host_wakes_its_ticker() {
    let dir = tempfile::tempdir().unwrap();
    let seen: Seen = Arc::default();
    // A minute between scans: only being told of the new job makes it fire within seconds.
    let config = cronhost::Config::parse("[cron]\ntick_interval_ms = 60000\n").unwrap();
    let host = Host::builder()
        .home(dir.path())
        .config(config)
        .build()
        .unwrap();
    host.handle("late-comer", recording("host", Arc::clone(&seen)))
        .unwrap();
    host.start().unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the ticker is asleep with no job due
    host.add_job(&JobSpec::handled_by(EVERY_SECOND, "late-comer"))
        .unwrap();
    wait_for(
        "the new job fires without waiting out the scan interval",
        Duration::from_secs(10),
        || !seen.lock().unwrap().is_empty(),
    );
    assert!(host.stop());
}
