//! In-process jobs by handler name, in a host embedded in this test process, with the real
//! `cronhost` binary reading the same home: `schedule` across restarts, a handler registered
//! nowhere, output in `cronhost logs`, errors with their sources, retries, timeouts and the
//! shutdown deadline with handlers that honour or ignore their token, events, job control,
//! async handlers on a tokio runtime, and a cluster of embedded hosts through PostgreSQL.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cronhost::events::RunEvent;
use cronhost::store::{JobSpec, RunReason, RunStatus};
use cronhost::{Host, HostError, RunContext};
use cronhost_e2e::embedded::{first_finished, host, host_with, EVERY_SECOND};
use cronhost_e2e::{wait_for, TestHome, PATIENCE};

fn counting(count: Arc<AtomicUsize>) -> impl Fn(&mut RunContext) + Send + Sync {
    move |_: &mut RunContext| {
        count.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn schedule_adds_the_job_once_and_a_restart_keeps_its_id_and_history_and_takes_the_new_schedule() {
    let home = TestHome::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let first = host(&home);
    let job = first
        .schedule("greet", EVERY_SECOND, counting(Arc::clone(&runs)))
        .unwrap();
    assert_eq!(job.handler.as_deref(), Some("greet"));
    assert!(job.command.is_empty());
    first.start().unwrap();
    wait_for("greet ran", PATIENCE, || runs.load(Ordering::SeqCst) >= 1);
    assert!(first.stop());
    drop(first);
    let history = host(&home).runs(Some("greet"), 1000).unwrap().len();
    assert!(history >= 1);

    // The application starts again with a new schedule: the same job, the same history.
    let second = host(&home);
    let again = second
        .schedule("greet", "*/2 * * * * *", counting(Arc::clone(&runs)))
        .unwrap();
    assert_eq!(again.id, job.id);
    assert_eq!(again.schedule_text, "*/2 * * * * *");
    assert_eq!(second.runs(Some("greet"), 1000).unwrap().len(), history);
    assert_eq!(second.jobs().unwrap().len(), 1, "no second job");
    // The same call again changes nothing.
    let unchanged = second
        .schedule("greet", "*/2 * * * * *", counting(runs))
        .unwrap();
    assert_eq!(unchanged, again);

    // The CLI shows what runs it.
    let show = home.cronhost(&["jobs", "show", "greet"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("handler:       greet (in-process"), "{text}");
    let json = home.json(&["jobs", "show", "greet", "--json"]);
    assert_eq!(json["handler"], "greet", "{json}");
}

#[test]
fn schedule_refuses_a_name_that_runs_a_command_and_changes_nothing() {
    let home = TestHome::new();
    home.add_job(&["--name", "backup", "every 1h", "--", "true"]);
    let host = host(&home);
    let error = host
        .schedule("backup", EVERY_SECOND, |_: &mut RunContext| {})
        .unwrap_err();
    assert!(
        matches!(&error, HostError::NotThisHandlersJob { name, .. } if name == "backup"),
        "{error}"
    );
    assert!(error.to_string().contains("the command `true`"), "{error}");
    let stored = host.job("backup").unwrap();
    assert_eq!(stored.command, ["true"]);
    assert_eq!(stored.schedule_text, "every 1h");
    assert_eq!(stored.handler, None);
    // A handler job with a command is refused too, naming both.
    let mut both = JobSpec::handled_by(EVERY_SECOND, "both");
    both.command = vec!["true".into()];
    let refused = host.add_job(&both).unwrap_err();
    assert!(
        refused.to_string().contains("a command or a handler"),
        "{refused}"
    );
    assert_eq!(host.jobs().unwrap().len(), 1);
}

#[test]
fn a_job_whose_handler_is_registered_nowhere_fails_with_the_reason_and_status_names_it() {
    let home = TestHome::new();
    let host = host(&home);
    host.add_job(&JobSpec::handled_by(EVERY_SECOND, "ghost"))
        .unwrap();
    host.start().unwrap();
    let run = first_finished(&host, "ghost");
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("no handler `ghost` is registered in this process"),
        "{error}"
    );
    // An operator sees it: the running host's status names the failing job (exit 3).
    let mut status = serde_json::Value::Null;
    wait_for("status names ghost", Duration::from_secs(20), || {
        status = home.json(&["status", "--json"]);
        status["failing_jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["name"] == "ghost"))
    });
    assert_eq!(status["verdict"], "jobs_failing", "{status}");
    assert!(host.stop());
    // The CLI cannot run it: it says where it runs (exit 2) and records nothing.
    let before = host.runs(Some("ghost"), 1000).unwrap().len();
    let ran = home.cronhost(&["jobs", "run", "ghost"]);
    assert_eq!(ran.status.code(), Some(2));
    let said = String::from_utf8_lossy(&ran.stderr);
    assert!(
        said.contains("runs in-process, through the handler `ghost`"),
        "{said}"
    );
    assert_eq!(host.runs(Some("ghost"), 1000).unwrap().len(), before);
}

#[test]
fn a_handler_that_ignores_its_timeout_never_has_a_second_thread_beside_it() {
    let home = TestHome::new();
    let host = host(&home);
    let (going, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let calls = Arc::new(AtomicUsize::new(0));
    let (g, m, c) = (Arc::clone(&going), Arc::clone(&most), Arc::clone(&calls));
    host.handle("stuck", move |_: &mut RunContext| {
        let now = g.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(Duration::from_secs(6)); // deaf to its token
        }
        g.fetch_sub(1, Ordering::SeqCst);
    })
    .unwrap();
    let mut spec = JobSpec::handled_by(EVERY_SECOND, "stuck");
    spec.timeout_secs = Some(1);
    host.add_job(&spec).unwrap();
    host.start().unwrap();
    wait_for("a run after the stuck one returned", PATIENCE, || {
        host.runs(Some("stuck"), 100)
            .unwrap()
            .iter()
            .any(|r| r.status == RunStatus::Succeeded)
    });
    assert!(host.stop());
    assert_eq!(
        most.load(Ordering::SeqCst),
        1,
        "two handler threads at once"
    );
    let runs = host.runs(Some("stuck"), 100).unwrap();
    assert!(
        runs.iter().any(|r| r.status == RunStatus::TimedOut),
        "{runs:#?}"
    );
    let refused = runs
        .iter()
        .find(|r| r.status == RunStatus::Failed)
        .unwrap_or_else(|| panic!("no run refused while the handler was stuck: {runs:#?}"));
    assert!(
        refused
            .error
            .as_deref()
            .unwrap_or("")
            .contains("has not returned from a run given up earlier"),
        "{refused:?}"
    );
}

#[test]
fn what_a_handler_writes_lands_in_its_run_output_and_cronhost_logs_shows_it() {
    let home = TestHome::new();
    let host = host(&home);
    host.schedule("report", EVERY_SECOND, |run: &mut RunContext| {
        use std::io::Write;
        writeln!(run.output(), "report for {}", run.run_id())?;
        // From another thread of the run, through its own handle.
        let mut output = run.output();
        std::thread::spawn(move || writeln!(output, "and a line from a helper thread"))
            .join()
            .expect("helper thread")
    })
    .unwrap();
    host.schedule("quiet", EVERY_SECOND, |_: &mut RunContext| {})
        .unwrap();
    host.start().unwrap();
    let run = first_finished(&host, "report");
    first_finished(&host, "quiet");
    assert!(host.stop());
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let logs = home.cronhost(&["logs", "report", "--run", &run.id]);
    assert!(logs.status.success(), "{logs:?}");
    assert_eq!(
        String::from_utf8_lossy(&logs.stdout),
        format!("report for {}\nand a line from a helper thread\n", run.id)
    );
    let quiet = home.cronhost(&["logs", "quiet"]);
    assert!(
        String::from_utf8_lossy(&quiet.stderr).contains("wrote nothing"),
        "{quiet:?}"
    );
}

#[derive(Debug, thiserror::Error)]
#[error("cannot send the report")]
struct SendFailed(#[source] std::io::Error);

#[test]
fn a_handler_error_is_recorded_with_its_sources_and_retried_as_a_command_would_be() {
    let home = TestHome::new();
    let host = host(&home);
    host.handle("flaky", |run: &mut RunContext| match run.attempt() {
        0 => Err(SendFailed(std::io::Error::other("connection refused"))),
        _ => Ok(()),
    })
    .unwrap();
    let mut spec = JobSpec::handled_by("in 1s", "flaky");
    spec.retries = 1;
    spec.retry_delay_secs = 1;
    host.add_job(&spec).unwrap();
    host.start().unwrap();
    let mut runs = Vec::new();
    wait_for("the retry succeeded", PATIENCE, || {
        runs = host.runs(Some("flaky"), 10).unwrap();
        runs.iter().any(|r| r.status == RunStatus::Succeeded)
    });
    assert!(host.stop());
    runs.sort_by_key(|r| r.attempt);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(
        runs[0].error.as_deref(),
        Some("cannot send the report: connection refused")
    );
    assert_eq!(
        (runs[1].attempt, &runs[1].reason),
        (1, &Some(RunReason::Retry))
    );
}

#[test]
fn at_its_timeout_the_token_fires_a_handler_that_honours_it_is_timed_out_and_one_that_ignores_it_is_given_up_after_the_grace(
) {
    let home = TestHome::new();
    let host = host(&home);
    let ignorer_returned = Arc::new(AtomicBool::new(false));
    let returned = Arc::clone(&ignorer_returned);
    host.handle("polite", |run: &mut RunContext| {
        match run.cancel_token().sleep(Duration::from_secs(60)) {
            Some(reason) => Err(format!("stopped: {reason}")),
            None => Ok(()),
        }
    })
    .unwrap();
    host.handle("stubborn", move |_: &mut RunContext| {
        std::thread::sleep(Duration::from_secs(6));
        returned.store(true, Ordering::SeqCst);
    })
    .unwrap();
    for name in ["polite", "stubborn"] {
        let mut spec = JobSpec::handled_by("in 1s", name);
        spec.timeout_secs = Some(1);
        host.add_job(&spec).unwrap();
    }
    host.start().unwrap();
    let polite = first_finished(&host, "polite");
    assert_eq!(polite.status, RunStatus::TimedOut, "{polite:?}");
    assert_eq!(
        polite.error.as_deref(),
        Some("timed out after 1s; it returned when cancelled: stopped: the job's timeout passed")
    );
    let stubborn = first_finished(&host, "stubborn");
    assert_eq!(stubborn.status, RunStatus::TimedOut, "{stubborn:?}");
    assert!(
        stubborn
            .error
            .as_deref()
            .unwrap_or("")
            .contains("did not return within 2s and was given up"),
        "{stubborn:?}"
    );
    // Recorded at its timeout and grace, not when the thread came back.
    assert!(
        !ignorer_returned.load(Ordering::SeqCst),
        "recorded only after the handler returned: {stubborn:?}"
    );
    wait_for("the stubborn handler returns", PATIENCE, || {
        ignorer_returned.load(Ordering::SeqCst)
    });
    // What it returned late changes nothing.
    assert_eq!(host.run(&stubborn.id).unwrap().unwrap(), stubborn);
    assert!(host.stop());
}

#[test]
fn stop_cancels_in_process_runs_and_never_waits_past_the_shutdown_deadline() {
    let home = TestHome::new();
    let host = host_with(&home, "[cron]\nshutdown_timeout_ms = 1500\n");
    let events = host.events();
    host.handle("polite", |run: &mut RunContext| {
        match run.cancel_token().sleep(Duration::from_secs(60)) {
            Some(_) => Err("interrupted"),
            None => Ok(()),
        }
    })
    .unwrap();
    host.handle("stubborn", |_: &mut RunContext| {
        std::thread::sleep(Duration::from_secs(30));
    })
    .unwrap();
    for name in ["polite", "stubborn"] {
        let mut spec = JobSpec::handled_by("in 1s", name);
        spec.retries = 3; // a cancelled run is not the job's failure: never retried
        host.add_job(&spec).unwrap();
    }
    host.start().unwrap();
    let mut started = 0;
    let until = Instant::now() + PATIENCE;
    while started < 2 && Instant::now() < until {
        if let Ok(RunEvent::Started { .. }) = events.recv_timeout(Duration::from_millis(100)) {
            started += 1;
        }
    }
    assert_eq!(started, 2, "both runs started");
    let began = Instant::now();
    let clean = host.stop();
    let took = began.elapsed();
    assert!(!clean, "a run had to be given up");
    assert!(
        took < Duration::from_millis(1500) + Duration::from_secs(3),
        "stop took {took:?} with a 1.5 s shutdown deadline"
    );
    let polite = &host.runs(Some("polite"), 10).unwrap()[0];
    assert_eq!(polite.status, RunStatus::Cancelled, "{polite:?}");
    assert_eq!(
        polite.error.as_deref(),
        Some("cancelled: the host stopped; it returned when cancelled: interrupted")
    );
    let stubborn = &host.runs(Some("stubborn"), 10).unwrap()[0];
    assert_eq!(stubborn.status, RunStatus::Cancelled, "{stubborn:?}");
    assert!(
        stubborn
            .error
            .as_deref()
            .unwrap_or("")
            .contains("did not return by the shutdown deadline"),
        "{stubborn:?}"
    );
    for name in ["polite", "stubborn"] {
        let job = host.job(name).unwrap();
        assert_eq!(job.failure_streak, 0, "{job:?}");
        assert_eq!(job.retry, None, "{job:?}");
        assert_eq!(job.last_status, Some(RunStatus::Cancelled));
    }
}

#[test]
fn events_tell_of_started_finished_and_skipped_runs_of_command_and_in_process_jobs() {
    let home = TestHome::new();
    home.add_job(&["--name", "cmd", EVERY_SECOND, "--", "true"]);
    let host = host(&home);
    let events = host.events();
    let called_back = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&called_back);
    host.on_event(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    // Runs for 1.5 s, due every second: every other occurrence finds it running.
    host.schedule("slow", EVERY_SECOND, |run: &mut RunContext| {
        run.cancel_token().sleep(Duration::from_millis(1500));
    })
    .unwrap();
    host.edit_job("slow", |spec| {
        spec.overlap = cronhost::store::Overlap::Skip;
    })
    .unwrap();
    host.start().unwrap();
    let mut seen = Vec::new();
    let until = Instant::now() + PATIENCE;
    let done = |seen: &[RunEvent]| {
        let finished = |job: &str| {
            seen.iter().any(|e| {
                matches!(e, RunEvent::Finished { job_name, status: RunStatus::Succeeded, .. } if job_name == job)
            })
        };
        let skipped = seen.iter().any(|e| {
            matches!(e, RunEvent::Skipped { job_name, reason: RunReason::Overlap, .. } if job_name == "slow")
        });
        finished("cmd") && finished("slow") && skipped
    };
    while !done(&seen) && Instant::now() < until {
        if let Ok(event) = events.recv_timeout(Duration::from_millis(100)) {
            seen.push(event);
        }
    }
    assert!(host.stop());
    assert!(done(&seen), "{seen:#?}");
    // Every finished run was told as started first.
    for (i, event) in seen.iter().enumerate() {
        if let RunEvent::Finished { run_id, .. } = event {
            let started = seen[..i]
                .iter()
                .any(|e| matches!(e, RunEvent::Started { run_id: id, .. } if id == run_id));
            let before_subscribing = seen[..i].is_empty();
            assert!(
                started || before_subscribing,
                "{run_id} finished unstarted: {seen:#?}"
            );
        }
    }
    assert!(called_back.load(Ordering::SeqCst) >= seen.len());
}

#[test]
fn job_control_through_the_api_follows_the_cli_rules() {
    let home = TestHome::new();
    let host = host(&home);
    let runs = Arc::new(AtomicUsize::new(0));
    host.schedule("ctl", "0 0 1 1 *", counting(Arc::clone(&runs)))
        .unwrap();
    host.start().unwrap();

    let paused = host.pause_job("ctl", Some("maintenance")).unwrap();
    assert!(paused.paused_at.is_some());
    assert_eq!(paused.pause_reason.as_deref(), Some("maintenance"));
    let shown = home.json(&["jobs", "show", "ctl", "--json"]);
    assert_eq!(shown["pause_reason"], "maintenance", "{shown}");

    // A bad edit is refused and changes nothing; a good one reports its change.
    let refused = host
        .edit_job("ctl", |spec| spec.schedule = "every never".into())
        .unwrap_err();
    assert!(refused.to_string().contains("not understood"), "{refused}");
    assert_eq!(host.job("ctl").unwrap().schedule_text, "0 0 1 1 *");
    let edited = host
        .edit_job("ctl", |spec| spec.schedule = "0 0 2 1 *".into())
        .unwrap();
    let changes = edited.changes();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].after, "0 0 2 1 *");

    assert!(host.resume_job("ctl").unwrap().1, "it was paused");
    assert!(!host.resume_job("ctl").unwrap().1, "resumed already");

    let run_id = host.run_job_now("ctl").unwrap();
    wait_for("the manual run ends", PATIENCE, || {
        host.run(&run_id)
            .unwrap()
            .is_some_and(|run| run.status == RunStatus::Succeeded)
    });
    assert_eq!(
        host.run(&run_id).unwrap().unwrap().reason,
        Some(RunReason::Manual)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let removed = host.remove_job("ctl").unwrap();
    assert!(host.jobs().unwrap().is_empty());
    assert!(matches!(host.run_job_now("ctl"), Err(HostError::Engine(_))));
    // The history stays, as with `cronhost jobs remove`.
    let logs = home.json(&["runs", &removed.id, "--json"]);
    assert_eq!(logs["runs"].as_array().map(Vec::len), Some(1), "{logs}");
    assert!(host.stop());
}

/// Sets its flag when dropped: tells whether a future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn async_handlers_run_on_the_application_runtime_and_a_future_that_ignores_its_timeout_is_dropped()
{
    let home = TestHome::new();
    let host = host(&home);
    let error = host
        .schedule_async("outside", EVERY_SECOND, |_: RunContext| async {})
        .unwrap_err();
    assert!(matches!(error, HostError::NoRuntime), "{error}");
    assert!(host.jobs().unwrap().is_empty(), "nothing stored");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("app-runtime")
        .enable_all()
        .build()
        .unwrap();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let dropped = Arc::new(AtomicBool::new(false));
    {
        let _inside = runtime.enter();
        let seen = Arc::clone(&threads);
        host.schedule_async("refresh", EVERY_SECOND, move |_: RunContext| {
            let seen = Arc::clone(&seen);
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let thread = std::thread::current().name().unwrap_or("").to_owned();
                seen.lock().unwrap().push(thread);
            }
        })
        .unwrap();
        let flag = Arc::clone(&dropped);
        host.handle_async("ignorer", move |_: RunContext| {
            let guard = DropFlag(Arc::clone(&flag));
            async move {
                let _guard = guard;
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        })
        .unwrap();
        host.handle_async("panicker", |_: RunContext| async {
            if true {
                panic!("async boom");
            }
        })
        .unwrap();
    }
    let mut spec = JobSpec::handled_by("in 1s", "ignorer");
    spec.timeout_secs = Some(1);
    host.add_job(&spec).unwrap();
    host.add_job(&JobSpec::handled_by("in 1s", "panicker"))
        .unwrap();
    host.start().unwrap();
    let refresh = first_finished(&host, "refresh");
    assert_eq!(refresh.status, RunStatus::Succeeded, "{refresh:?}");
    assert!(
        threads.lock().unwrap().iter().all(|t| t == "app-runtime"),
        "ran on {:?}",
        threads.lock().unwrap()
    );
    let ignorer = first_finished(&host, "ignorer");
    assert_eq!(ignorer.status, RunStatus::TimedOut, "{ignorer:?}");
    wait_for("the ignoring future is dropped", PATIENCE, || {
        dropped.load(Ordering::SeqCst)
    });
    let panicker = first_finished(&host, "panicker");
    assert_eq!(panicker.status, RunStatus::Failed);
    assert_eq!(panicker.error.as_deref(), Some("panicked: async boom"));
    assert!(host.stop());
}

#[test]
fn an_async_run_whose_runtime_shuts_down_is_recorded_not_left_running() {
    let home = TestHome::new();
    let host = host(&home);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let events = host.events();
    {
        let _inside = runtime.enter();
        host.schedule_async("long", EVERY_SECOND, |_: RunContext| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .unwrap();
    }
    host.start().unwrap();
    let until = Instant::now() + PATIENCE;
    while !matches!(
        events.recv_timeout(Duration::from_millis(100)),
        Ok(RunEvent::Started { .. })
    ) {
        assert!(Instant::now() < until, "the run never started");
    }
    host.pause_job("long", None).unwrap();
    runtime.shutdown_timeout(Duration::ZERO);
    let run = first_finished(&host, "long");
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert!(
        run.error
            .as_deref()
            .unwrap_or("")
            .contains("dropped unfinished"),
        "{run:?}"
    );
    assert!(host.stop());
}

#[test]
fn embedded_hosts_sharing_a_postgres_cluster_run_each_occurrence_of_a_handler_job_once() {
    // The provider is probed by a helper process: this harness cannot serve it, as an
    // application's `main` would with `cronhost::serve_if_asked()`.
    cronhost_e2e::helpers_from_built_cronhost();
    let cluster = cronhost_e2e::postgres::unique_cluster("embedded");
    let url = cronhost_e2e::postgres::database_url();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let homes: Vec<TestHome> = (0..2).map(|_| TestHome::new()).collect();
    let hosts: Vec<Host> = homes
        .iter()
        .enumerate()
        .map(|(i, home)| {
            home.install(&cronhost_e2e::artifacts().postgres, "postgres.so");
            let host = Host::builder()
                .home(home.path())
                .plugins_dir(home.plugins_dir())
                .config(
                    cronhost::Config::parse(&format!(
                        "[cron]\nprovider = \"postgres\"\nfallback = \"none\"\n[providers.postgres]\nurl = \"{url}\"\ncluster = \"{cluster}\"\npoll_ms = 50\n"
                    ))
                    .unwrap(),
                )
                .build()
                .unwrap();
            let seen = Arc::clone(&seen);
            host.schedule("tick", EVERY_SECOND, move |run: &mut RunContext| {
                seen.lock().unwrap().push((i, run.scheduled_at()));
            })
            .unwrap();
            host
        })
        .collect();
    assert_eq!(
        hosts[0].job("tick").unwrap().id,
        hosts[1].job("tick").unwrap().id,
        "the same job on both hosts"
    );
    for host in &hosts {
        host.start().unwrap();
    }
    wait_for("five occurrences ran", PATIENCE, || {
        seen.lock().unwrap().len() >= 5
    });
    let status = hosts[0].status().unwrap();
    assert_eq!(
        status.provider.as_deref(),
        Some("postgres"),
        "fired through the provider: {status:?}"
    );
    for host in &hosts {
        assert!(host.stop());
    }
    let seen = seen.lock().unwrap();
    let mut instants: Vec<_> = seen.iter().map(|(_, at)| *at).collect();
    instants.sort();
    let total = instants.len();
    instants.dedup();
    assert_eq!(instants.len(), total, "an occurrence ran twice: {seen:?}");
}
