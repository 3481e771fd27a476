//! A hostile pass over the embedding API: in-process jobs under the rules command jobs follow
//! (overlap, output that cannot be kept, on-failure hooks off the fire path), a careless
//! application (stop from two threads, from inside a handler, from an event callback) and a
//! careless operator sharing the home through the real `cronhost` binary.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use cronhost::events::RunEvent;
use cronhost::store::{JobSpec, Overlap, RunStatus};
use cronhost::RunContext;
use cronhost_e2e::embedded::{first_finished, host, host_with, EVERY_SECOND};
use cronhost_e2e::{wait_for, Running, TestHome, PATIENCE};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Wait for the first `Started` event of `job` on `events`.
fn started(events: &mpsc::Receiver<RunEvent>, job: &str) -> String {
    let until = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < until, "{job} never started");
        if let Ok(RunEvent::Started {
            job_name, run_id, ..
        }) = events.recv_timeout(Duration::from_millis(100))
        {
            if job_name == job {
                return run_id;
            }
        }
    }
}

#[test]
fn an_in_process_run_whose_output_file_cannot_be_kept_fails_as_a_command_run_does() {
    let home = TestHome::new();
    let host = host(&home);
    let job = host
        .schedule("report", EVERY_SECOND, |run: &mut RunContext| {
            writeln!(run, "secret report")
        })
        .unwrap();
    // The job's output directory is a link to somewhere else (an operator's mistake, or worse).
    let output = home.state_dir().join("output");
    std::fs::create_dir_all(&output).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), output.join(&job.id)).unwrap();
    host.start().unwrap();
    let run = first_finished(&host, "report");
    assert!(host.stop());
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "output written through the link"
    );
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert!(
        run.error
            .as_deref()
            .unwrap_or("")
            .contains("its output could not be kept"),
        "{run:?}"
    );
}

#[test]
fn an_on_failure_hook_of_an_async_handler_that_panics_when_called_never_holds_up_the_ticker() {
    let home = TestHome::new();
    let host = host(&home);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    {
        let _inside = runtime.enter();
        // Panics when called, before it has a future to hand over.
        host.handle_async("eager", |_: RunContext| -> std::future::Ready<()> {
            panic!("eager boom")
        })
        .unwrap();
    }
    let mut spec = JobSpec::handled_by("in 1s", "eager");
    spec.on_failure = Some("sleep 30".into());
    host.add_job(&spec).unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ticks);
    host.schedule("tick", EVERY_SECOND, move |_: &mut RunContext| {
        counter.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    host.start().unwrap();
    let eager = first_finished(&host, "eager");
    assert_eq!(eager.status, RunStatus::Failed, "{eager:?}");
    assert_eq!(eager.error.as_deref(), Some("panicked: eager boom"));
    // While its 30 s hook runs, the other job goes on firing every second.
    let before = ticks.load(Ordering::SeqCst);
    wait_for(
        "tick fires during the hook",
        Duration::from_secs(10),
        || ticks.load(Ordering::SeqCst) >= before + 3,
    );
    host.stop();
    runtime.shutdown_background();
}

#[test]
fn stop_from_two_threads_returns_in_both_only_once_the_runs_are_recorded_and_start_works_after() {
    let home = TestHome::new();
    let host = Arc::new(host_with(&home, "[cron]\nshutdown_timeout_ms = 1500\n"));
    let events = host.events();
    host.schedule("stubborn", EVERY_SECOND, |_: &mut RunContext| {
        std::thread::sleep(Duration::from_secs(5));
    })
    .unwrap();
    host.start().unwrap();
    let run_id = started(&events, "stubborn");
    let stoppers: Vec<_> = (0..2)
        .map(|_| {
            let host = Arc::clone(&host);
            let run_id = run_id.clone();
            std::thread::spawn(move || {
                host.stop();
                // Whichever returns, the run it stopped is recorded by then.
                host.run(&run_id).unwrap().unwrap().status
            })
        })
        .collect();
    for stopper in stoppers {
        let status = stopper.join().unwrap();
        assert_eq!(status, RunStatus::Cancelled, "stop returned before the end");
    }
    // Stopped means stopped: the home's lock is free, the host starts again.
    host.start().unwrap();
    assert!(host.is_running());
    host.stop();
}

#[test]
fn a_handler_that_stops_its_own_host_does_not_deadlock() {
    let home = TestHome::new();
    let host = Arc::new(host_with(&home, "[cron]\nshutdown_timeout_ms = 1000\n"));
    let weak = Arc::downgrade(&host);
    let (stopped, stopped_here) = mpsc::channel();
    let stopped = Mutex::new(stopped);
    host.schedule("quit", "in 1s", move |_: &mut RunContext| {
        if let Some(host) = weak.upgrade() {
            let began = Instant::now();
            host.stop();
            let _ = stopped.lock().unwrap().send(began.elapsed());
        }
    })
    .unwrap();
    host.start().unwrap();
    let took = stopped_here.recv_timeout(PATIENCE).expect("stop returned");
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    assert!(!host.is_running());
    let run = first_finished(&host, "quit");
    assert!(run.status.is_final(), "{run:?}");
}

#[test]
fn an_event_callback_that_stops_the_host_is_bounded_by_the_shutdown_deadline() {
    let home = TestHome::new();
    let host = Arc::new(host_with(&home, "[cron]\nshutdown_timeout_ms = 1000\n"));
    host.schedule("t", EVERY_SECOND, |_: &mut RunContext| {})
        .unwrap();
    let weak = Arc::downgrade(&host);
    let asked = AtomicBool::new(false);
    let (stopped, stopped_here) = mpsc::channel();
    let stopped = Mutex::new(stopped);
    host.on_event(move |event| {
        if matches!(event, RunEvent::Started { .. }) && !asked.swap(true, Ordering::SeqCst) {
            if let Some(host) = weak.upgrade() {
                let began = Instant::now();
                host.stop();
                let _ = stopped.lock().unwrap().send(began.elapsed());
            }
        }
    });
    host.start().unwrap();
    let took = stopped_here.recv_timeout(PATIENCE).expect("stop returned");
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    assert!(!host.is_running());
}

#[test]
fn queue_one_with_a_slow_handler_never_runs_two_at_once_and_runs_the_queued_one() {
    let home = TestHome::new();
    let host = host(&home);
    let (now, most, done) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (n, m, d) = (Arc::clone(&now), Arc::clone(&most), Arc::clone(&done));
    host.schedule("slow", EVERY_SECOND, move |run: &mut RunContext| {
        let here = n.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(here, Ordering::SeqCst);
        run.cancel_token().sleep(Duration::from_millis(1500));
        n.fetch_sub(1, Ordering::SeqCst);
        d.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    host.edit_job("slow", |spec| spec.overlap = Overlap::QueueOne)
        .unwrap();
    host.start().unwrap();
    wait_for("four runs", PATIENCE, || done.load(Ordering::SeqCst) >= 4);
    assert!(host.stop());
    assert_eq!(most.load(Ordering::SeqCst), 1, "two runs at once");
    let runs = host.runs(Some("slow"), 100).unwrap();
    assert!(
        runs.iter()
            .all(|r| r.status.is_final() || r.status == RunStatus::Running),
        "{runs:#?}"
    );
    assert!(
        !runs.iter().any(|r| r.status == RunStatus::Queued),
        "a queued run left behind at stop: {runs:#?}"
    );
}

#[test]
fn a_finished_event_comes_after_the_run_is_recorded_and_a_callback_may_subscribe_or_panic() {
    let home = TestHome::new();
    let host = Arc::new(host(&home));
    host.schedule("ok", "in 1s", |_: &mut RunContext| {})
        .unwrap();
    let weak = Arc::downgrade(&host);
    let (seen, seen_here) = mpsc::channel();
    let seen = Mutex::new(seen);
    let late = Mutex::new(None);
    host.on_event(move |event| {
        if let RunEvent::Finished { run_id, .. } = event {
            let host = weak.upgrade().expect("the host lives");
            // Subscribing from inside a callback neither deadlocks nor loses the host.
            *late.lock().unwrap() = Some(host.events());
            let stored = host.run(run_id).unwrap().map(|r| r.status);
            let _ = seen.lock().unwrap().send(stored);
            panic!("a careless subscriber");
        }
    });
    host.start().unwrap();
    let stored = seen_here.recv_timeout(PATIENCE).expect("finished told");
    assert_eq!(stored, Some(RunStatus::Succeeded));
    assert!(host.stop());
}

#[test]
fn a_job_removed_or_paused_while_its_handler_runs_is_recorded_and_nothing_is_left_open() {
    let home = TestHome::new();
    let host = host(&home);
    let events = host.events();
    let go = Arc::new(AtomicBool::new(false));
    for name in ["removed", "paused"] {
        let go = Arc::clone(&go);
        host.schedule(name, EVERY_SECOND, move |run: &mut RunContext| {
            while !go.load(Ordering::SeqCst) && !run.is_cancelled() {
                std::thread::sleep(Duration::from_millis(10));
            }
            writeln!(run, "done")
        })
        .unwrap();
        host.edit_job(name, |spec| spec.overlap = Overlap::QueueOne)
            .unwrap();
    }
    host.start().unwrap();
    let removed_run = started(&events, "removed");
    let removed = host.remove_job("removed").unwrap();
    // The paused job's next occurrence queues behind the running one.
    wait_for("a run of paused queued", PATIENCE, || {
        host.runs(Some("paused"), 10)
            .unwrap()
            .iter()
            .any(|r| r.status == RunStatus::Queued)
    });
    host.pause_job("paused", None).unwrap();
    go.store(true, Ordering::SeqCst);
    wait_for("the removed job's run recorded", PATIENCE, || {
        host.run(&removed_run)
            .unwrap()
            .is_some_and(|r| r.status == RunStatus::Succeeded)
    });
    wait_for("nothing of paused left open", PATIENCE, || {
        host.runs(Some("paused"), 10)
            .unwrap()
            .iter()
            .all(|r| r.status.is_final())
    });
    assert!(host.stop());
    let logs = home.cronhost(&["logs", &removed.id, "--run", &removed_run]);
    assert_eq!(text(&logs.stdout), "done\n", "{}", text(&logs.stderr));
}

#[test]
fn output_written_after_the_run_was_given_up_is_dropped_and_reopens_no_file() {
    let home = TestHome::new();
    let host = host(&home);
    let wrote_late = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&wrote_late);
    let mut spec = JobSpec::handled_by("in 1s", "late");
    spec.timeout_secs = Some(1);
    host.add_job(&spec).unwrap();
    host.handle("late", move |run: &mut RunContext| {
        writeln!(run, "before")?;
        std::thread::sleep(Duration::from_secs(4)); // ignores its token: given up at 3 s
        writeln!(run, "after, never kept")?;
        run.write_all(&[0xff, 0xfe, b'\n'])?;
        flag.store(true, Ordering::SeqCst);
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    host.start().unwrap();
    let run = first_finished(&host, "late");
    assert_eq!(run.status, RunStatus::TimedOut, "{run:?}");
    wait_for("the handler wrote late", PATIENCE, || {
        wrote_late.load(Ordering::SeqCst)
    });
    assert!(host.stop());
    let logs = home.cronhost(&["logs", "late", "--run", &run.id]);
    assert_eq!(text(&logs.stdout), "before\n", "{}", text(&logs.stderr));
}

#[test]
fn start_stop_start_runs_handler_jobs_again() {
    let home = TestHome::new();
    let host = host(&home);
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    host.schedule("again", EVERY_SECOND, move |_: &mut RunContext| {
        counter.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    for round in 1..=2 {
        host.start().unwrap();
        let before = count.load(Ordering::SeqCst);
        wait_for(&format!("round {round} runs"), PATIENCE, || {
            count.load(Ordering::SeqCst) > before
        });
        assert!(host.stop());
    }
}

#[test]
fn an_operator_cannot_give_a_handler_job_a_command_with_jobs_edit() {
    let home = TestHome::new();
    let host = host(&home);
    host.schedule("greet", "0 9 * * *", |_: &mut RunContext| {})
        .unwrap();
    let edit = home.cronhost(&["jobs", "edit", "greet", "--", "echo", "hi"]);
    assert_eq!(edit.status.code(), Some(2), "{}", text(&edit.stderr));
    let job = host.job("greet").unwrap();
    assert_eq!(job.handler.as_deref(), Some("greet"));
    assert!(job.command.is_empty(), "{job:?}");
}

#[test]
fn the_daemon_fails_a_handler_job_it_has_no_handler_for_and_status_says_so() {
    let home = TestHome::new();
    host(&home)
        .add_job(&JobSpec::handled_by(EVERY_SECOND, "ghost"))
        .unwrap();
    let daemon = Running::start(&home);
    let mut runs = Vec::new();
    wait_for("a run of ghost", PATIENCE, || {
        runs = home.runs("ghost");
        runs.iter().any(|r| r["status"] == "failed")
    });
    let failed = runs.iter().find(|r| r["status"] == "failed").unwrap();
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or("")
            .contains("no handler `ghost`"),
        "{failed}"
    );
    assert!(!runs.iter().any(|r| r["status"] == "succeeded"), "{runs:?}");
    let status = home.cronhost(&["status"]);
    assert_eq!(status.status.code(), Some(3), "{}", text(&status.stdout));
    drop(daemon);
}

#[test]
fn cronhost_logs_shows_a_running_handlers_output_raw_bytes_and_all_and_the_cap_holds() {
    let home = TestHome::new();
    let host = host_with(&home, "[cron]\noutput_max_bytes = 1024\n");
    let events = host.events();
    let (wrote, wrote_here) = mpsc::channel();
    let wrote = Mutex::new(wrote);
    host.schedule("chatty", "in 1s", move |run: &mut RunContext| {
        run.write_all(b"first \xff\xfe line\n")?;
        let _ = wrote.lock().unwrap().send(());
        run.cancel_token().sleep(PATIENCE);
        for _ in 0..1000 {
            run.write_all(b"0123456789abcdef\n")?;
        }
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    host.start().unwrap();
    let run_id = started(&events, "chatty");
    wrote_here.recv_timeout(PATIENCE).expect("it wrote");
    // While it runs, an operator reads what it wrote so far, bytes as written.
    let logs = home.cronhost(&["logs", "chatty", "--run", &run_id]);
    assert!(
        logs.stdout.starts_with(b"first \xff\xfe line\n"),
        "{:?}",
        text(&logs.stdout)
    );
    host.stop();
    let logs = home.cronhost(&["logs", "chatty", "--run", &run_id]);
    let shown = text(&logs.stdout);
    assert!(logs.stdout.len() < 1400, "{} bytes kept", logs.stdout.len());
    assert!(shown.contains("output truncated"), "{shown}");
}

#[test]
fn async_handlers_on_a_current_thread_runtime_run_time_out_and_are_recorded() {
    let home = TestHome::new();
    let host = host(&home);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        host.schedule_async("quick", "in 1s", |_: RunContext| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
        })
        .unwrap();
        host.handle_async("deaf", |_: RunContext| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .unwrap();
        let mut spec = JobSpec::handled_by("in 1s", "deaf");
        spec.timeout_secs = Some(1);
        host.add_job(&spec).unwrap();
        host.start().unwrap();
        let until = tokio::time::Instant::now() + PATIENCE;
        let mut finished = 0;
        while finished < 2 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
            finished = ["quick", "deaf"]
                .iter()
                .filter(|job| {
                    host.runs(Some(job), 10)
                        .unwrap()
                        .iter()
                        .any(|r| r.status.is_final())
                })
                .count();
        }
        assert_eq!(finished, 2, "both recorded while the runtime is driven");
    });
    assert_eq!(first_finished(&host, "quick").status, RunStatus::Succeeded);
    assert_eq!(first_finished(&host, "deaf").status, RunStatus::TimedOut);
    assert!(host.stop());
}
