//! The cron engine through the real binary: a daemon in the background and the CLI against a
//! temporary home, real SQLite file, real child processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cronhost_e2e::{artifacts, wait_for, TestHome};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

fn spawn_daemon(home: &TestHome, log_name: &str) -> (Child, PathBuf) {
    home.spawn_daemon(log_name, &[])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn json(home: &TestHome, args: &[&str]) -> Value {
    home.json(args)
}

fn runs(home: &TestHome, job: &str) -> Vec<Value> {
    home.runs(job)
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_daemon_running(home: &TestHome) {
    wait_for("the daemon to report healthy", PATIENCE, || {
        home.cronhost(&["status"]).status.success()
    });
}

#[test]
fn a_per_second_job_fires_once_per_second() {
    let home = TestHome::new();
    let marks = home.path().join("marks");
    home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "second",
        "--shell",
        "--",
        &format!("echo $CRONHOST_SCHEDULED_AT >> '{}'", marks.display()),
    ]);
    let (daemon, log) = spawn_daemon(&home, "daemon.log");
    wait_for("six fires", PATIENCE, || {
        runs(&home, "second")
            .iter()
            .filter(|r| r["status"] == "succeeded")
            .count()
            >= 6
    });
    assert!(terminate(daemon).success(), "{}", read(&log));

    let runs = runs(&home, "second");
    let mut scheduled: Vec<String> = runs
        .iter()
        .map(|r| r["scheduled_at"].as_str().unwrap().to_owned())
        .collect();
    scheduled.sort();
    let instants: Vec<chrono::DateTime<chrono::Utc>> =
        scheduled.iter().map(|s| s.parse().unwrap()).collect();
    for pair in instants.windows(2) {
        assert_eq!(
            (pair[1] - pair[0]).num_milliseconds(),
            1000,
            "one fire per second, none missed: {scheduled:?}"
        );
    }
    let lines: Vec<String> = read(&marks).lines().map(str::to_owned).collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        lines.len(),
        "no occurrence ran twice: {lines:?}"
    );
    for run in &runs {
        assert!(run["lateness_ms"].as_i64().is_some() || run["status"] != "succeeded");
        assert!(
            run["job_id"].is_string()
                && run.get("exit_code").is_some()
                && run.get("finished_at").is_some()
                && run.get("started_at").is_some()
        );
    }
}

#[test]
fn a_second_daemon_on_the_same_home_refuses_and_tick_never_double_fires() {
    let home = TestHome::new();
    let marks = home.path().join("marks");
    home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "shared",
        "--shell",
        "--",
        &format!("echo $CRONHOST_SCHEDULED_AT >> '{}'", marks.display()),
    ]);
    let (daemon, log) = spawn_daemon(&home, "first.log");
    wait_daemon_running(&home);

    let second = home.cronhost(&["run"]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another cronhost daemon") && stderr.contains(&daemon.id().to_string()),
        "{stderr}"
    );

    // `cronhost tick` racing the daemon: claims go through the same store.
    let deadline = Instant::now() + PATIENCE;
    while read(&marks).lines().count() < 3 {
        assert!(Instant::now() < deadline, "the job did not fire");
        let tick = home.cronhost(&["tick"]);
        assert!(
            tick.status.success(),
            "{}",
            String::from_utf8_lossy(&tick.stderr)
        );
    }
    assert!(terminate(daemon).success(), "{}", read(&log));
    let lines: Vec<String> = read(&marks).lines().map(str::to_owned).collect();
    let mut unique = lines.clone();
    unique.sort();
    unique.dedup();
    assert!(lines.len() >= 2, "the job fired: {lines:?}");
    assert_eq!(
        unique.len(),
        lines.len(),
        "an occurrence ran twice: {lines:?}"
    );
    assert_eq!(
        runs(&home, "shared").len(),
        lines.len(),
        "one run row per execution"
    );
}

#[test]
fn kill_9_mid_run_leaves_the_run_unknown_and_the_next_occurrence_fires() {
    let home = TestHome::new();
    home.write_config("[cron]\ntick_interval_ms = 200\n");
    let started = home.path().join("started");
    let id = home.add_job(&[
        "every 3s",
        "--name",
        "long",
        "--shell",
        "--",
        &format!("echo go >> '{}'; sleep 30", started.display()),
    ]);
    let (mut daemon, _log) = spawn_daemon(&home, "first.log");
    wait_for("the run to start", PATIENCE, || {
        runs(&home, "long").iter().any(|r| r["status"] == "running")
    });
    daemon.kill().unwrap(); // SIGKILL
    daemon.wait().unwrap();
    // The killed daemon's job lives on in its own process group, and its run stays open while
    // it does (`redteam.rs` shows it holding its overlap slot); end it, as an operator would.
    let pattern = format!("echo go >> '{}'", started.display());
    let _ = Command::new("pkill")
        .args(["-KILL", "-f", &pattern])
        .status();
    wait_for("the orphan to end", PATIENCE, || {
        !Command::new("pgrep")
            .args(["-f", &pattern])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });

    let (restarted, log) = spawn_daemon(&home, "second.log");
    wait_for("the orphaned run to be settled", PATIENCE, || {
        runs(&home, &id).iter().any(|r| r["status"] == "unknown")
    });
    wait_for("the next occurrence to start", PATIENCE, || {
        runs(&home, &id)
            .iter()
            .filter(|r| r["status"] == "running")
            .count()
            >= 1
    });
    assert!(terminate(restarted).success(), "{}", read(&log));
    let runs = runs(&home, &id);
    let unknown: Vec<_> = runs.iter().filter(|r| r["status"] == "unknown").collect();
    assert_eq!(unknown.len(), 1, "{runs:?}");
    let unknown_at = unknown[0]["scheduled_at"].as_str().unwrap();
    assert_eq!(
        runs.iter()
            .filter(|r| r["scheduled_at"] == unknown_at)
            .count(),
        1,
        "the lost run was not re-run"
    );
    // Whichever command came first settled it (`runs` settles too), saying why.
    assert!(
        unknown[0]["error"].as_str().unwrap_or("").contains("died"),
        "{runs:?}"
    );
    // The killed daemon's children are in their own process groups; clean them up.
    let _ = Command::new("pkill")
        .args(["-f", &format!("echo go >> '{}'", started.display())])
        .status();
}

#[test]
fn a_one_shot_in_the_past_is_refused_and_nothing_is_stored() {
    let home = TestHome::new();
    let output = home.cronhost(&[
        "jobs",
        "add",
        "2020-01-01T00:00:00Z",
        "--name",
        "late",
        "--",
        "true",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in the past"), "{stderr}");
    let output = home.cronhost(&["jobs", "add", "every fortnight", "--", "true"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("accepted schedules:"));
    assert_eq!(
        json(&home, &["jobs", "list", "--all", "--json"])["jobs"],
        serde_json::json!([])
    );
}

#[test]
fn ten_processes_adding_fifty_jobs_each_leave_exactly_five_hundred() {
    let home = TestHome::new();
    let writers: Vec<_> = (0..10)
        .map(|w| {
            let script = format!(
                "for n in $(seq 1 50); do '{}' --home '{}' jobs add 'every 1h' --name w{w}-$n -- true >/dev/null || exit 1; done",
                artifacts().cronhost.display(),
                home.path().display()
            );
            Command::new("sh").args(["-c", &script]).spawn().unwrap()
        })
        .collect();
    for mut writer in writers {
        assert!(writer.wait().unwrap().success());
    }
    let jobs = json(&home, &["jobs", "list", "--all", "--json"]);
    assert_eq!(jobs["format"], "cronhost-job-list");
    assert_eq!(jobs["version"], 1);
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 500);
}

#[test]
fn a_job_added_for_two_seconds_from_now_fires_on_time_despite_a_long_tick_interval() {
    let home = TestHome::new();
    home.write_config("[cron]\ntick_interval_ms = 600000\n");
    let (daemon, log) = spawn_daemon(&home, "daemon.log");
    wait_daemon_running(&home);
    let id = home.add_job(&["in 2s", "--name", "soon", "--", "true"]);
    wait_for("the one-shot to run", PATIENCE, || {
        runs(&home, &id).iter().any(|r| r["status"] == "succeeded")
    });
    assert!(terminate(daemon).success(), "{}", read(&log));
    let run = &runs(&home, &id)[0];
    let lateness = run["lateness_ms"].as_i64().unwrap();
    assert!(
        lateness < 1000,
        "fired {lateness} ms late: the daemon waited for its tick interval"
    );
    let job = json(&home, &["jobs", "show", &id, "--json"]);
    assert!(job["completed_at"].is_string(), "one-shot completed");
    assert_eq!(job["next_run"], Value::Null);
}

#[test]
fn export_import_gives_another_home_the_same_jobs_with_the_same_ids() {
    let source = TestHome::new();
    source.add_job(&["every 5m", "--name", "a", "--", "true"]);
    source.add_job(&[
        "weekdays at 9:30",
        "--name",
        "b",
        "--tz",
        "Europe/Berlin",
        "--",
        "true",
    ]);
    let exported = source.cronhost(&["jobs", "export"]);
    assert!(exported.status.success());
    let document: serde_json::Value = serde_json::from_slice(&exported.stdout).unwrap();
    assert_eq!(document["version"], 1);
    for job in document["jobs"].as_array().unwrap() {
        for runtime in ["last_status", "last_error", "last_run", "failure_streak"] {
            assert!(job.get(runtime).is_none(), "{runtime} exported: {job}");
        }
    }
    let file = source.path().join("jobs.json");
    std::fs::write(&file, &exported.stdout).unwrap();

    let target = TestHome::new();
    let imported = target.cronhost(&["jobs", "import", file.to_str().unwrap()]);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let ids = |home: &TestHome| {
        let mut ids: Vec<String> = json(home, &["jobs", "list", "--json"])["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&source), ids(&target));

    std::fs::write(&file, "[{\"not\": \"a job\"}]").unwrap();
    let bad = target.cronhost(&["jobs", "import", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(ids(&source), ids(&target), "nothing changed");
}

#[test]
fn status_reports_each_verdict() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "x", "--", "true"]);
    let status = home.cronhost(&["status"]);
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stdout)
        .contains("cronhost is not running — jobs will NOT fire"));

    let (daemon, log) = spawn_daemon(&home, "daemon.log");
    wait_daemon_running(&home);
    let text = String::from_utf8_lossy(&home.cronhost(&["status"]).stdout).into_owned();
    assert!(
        text.contains("will fire automatically")
            && text.contains("builtin")
            && text.contains("active jobs: 1"),
        "{text}"
    );
    let report = json(&home, &["status", "--json"]);
    for key in [
        "running",
        "pid",
        "provider",
        "heartbeat_age_secs",
        "success_age_secs",
        "last_error",
        "active_jobs",
        "next_run",
    ] {
        assert!(
            report.get(key).is_some(),
            "status JSON lacks {key}: {report}"
        );
    }
    assert_eq!(report["running"], true);
    assert_eq!(report["active_jobs"], 1);

    // Freeze the daemon (it keeps its lock) and age its signs of life (a clean tick is one):
    // STALLED.
    let pid = daemon.id() as i32;
    // SAFETY: signals to our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let state = home.state_dir();
    let long_ago = chrono::Utc::now().timestamp() - 10_000;
    std::fs::write(
        state.join("ticker_heartbeat"),
        format!("{long_ago}\nbuiltin\n"),
    )
    .unwrap();
    std::fs::write(state.join("ticker_last_success"), format!("{long_ago}\n")).unwrap();
    let stalled = home.cronhost(&["status"]);
    let text = String::from_utf8_lossy(&stalled.stdout).into_owned();
    assert!(
        text.contains("STALLED") && !text.contains("will fire automatically"),
        "{text}"
    );

    // Alive but failing: fresh heartbeat, old success, an error.
    let now = chrono::Utc::now().timestamp();
    std::fs::write(state.join("ticker_heartbeat"), format!("{now}\nbuiltin\n")).unwrap();
    std::fs::write(
        state.join("ticker_last_success"),
        format!("{}\n", now - 10_000),
    )
    .unwrap();
    std::fs::write(
        state.join("ticker_last_error"),
        format!("{now}\ndisk full\n"),
    )
    .unwrap();
    let text = String::from_utf8_lossy(&home.cronhost(&["status"]).stdout).into_owned();
    assert!(
        text.contains("no tick has succeeded") && text.contains("disk full"),
        "{text}"
    );
    assert!(!text.contains("will fire automatically"), "{text}");

    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(terminate(daemon).success(), "{}", read(&log));
}

#[test]
fn sigterm_ends_running_jobs_within_the_shutdown_deadline_and_records_them() {
    let home = TestHome::new();
    home.write_config("[cron]\nshutdown_timeout_ms = 1000\n");
    let marker = home.path().join("still-running");
    let id = home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "sleepy",
        "--shell",
        "--",
        &format!("sleep 30; touch '{}'", marker.display()),
    ]);
    let (daemon, log) = spawn_daemon(&home, "daemon.log");
    wait_for("the run to start", PATIENCE, || {
        runs(&home, &id).iter().any(|r| r["status"] == "running")
    });
    let began = Instant::now();
    assert!(terminate(daemon).success(), "{}", read(&log));
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "shutdown took {:?}",
        began.elapsed()
    );
    let runs = runs(&home, &id);
    assert!(
        runs.iter()
            .all(|r| r["status"] != "running" && r["status"] != "claimed"),
        "{runs:?}"
    );
    assert!(
        runs.iter().any(|r| r["status"] == "failed"),
        "the ended run is recorded: {runs:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let alive = Command::new("pgrep")
        .args(["-f", &format!("touch '{}'", marker.display())])
        .output()
        .unwrap();
    assert!(
        alive.stdout.is_empty(),
        "the job's process group outlived the daemon"
    );
}

#[test]
fn a_run_left_by_a_killed_cli_is_settled_by_the_next_command() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--name", "manual", "--", "sleep", "29.7"]);
    let mut cli = Command::new(&artifacts().cronhost)
        .args([
            "--home",
            home.path().to_str().unwrap(),
            "jobs",
            "run",
            "manual",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the manual run to start", PATIENCE, || {
        runs(&home, &id).iter().any(|r| r["status"] == "running")
    });
    cli.kill().unwrap(); // SIGKILL: nobody records the outcome
    cli.wait().unwrap();
    // The orphaned child lives on in its own process group, so its run stays open (it holds
    // its overlap slot); end it.
    let orphan_alive = || {
        Command::new("pgrep")
            .args(["-x", "-f", "sleep 29.7"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(orphan_alive());
    let output = home.cronhost(&["tick"]);
    assert!(output.status.success());
    assert_eq!(
        runs(&home, &id)[0]["status"],
        "running",
        "settled while its command runs"
    );
    let _ = Command::new("pkill")
        .args(["-KILL", "-x", "-f", "sleep 29.7"])
        .status();
    wait_for("the orphan to end", PATIENCE, || !orphan_alive());
    // The next command settles it, so it holds no overlap slot.
    let output = home.cronhost(&["tick"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs = runs(&home, &id);
    assert_eq!(runs[0]["status"], "unknown", "{runs:?}");
    assert!(
        runs[0]["error"].as_str().unwrap().contains("died"),
        "{runs:?}"
    );
}

#[test]
fn jobs_run_runs_now_and_leaves_the_schedule_alone() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--name", "hourly", "--", "true"]);
    let before = json(&home, &["jobs", "show", &id, "--json"]);
    let output = home.cronhost(&["jobs", "run", "hourly"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("succeeded"));
    let after = json(&home, &["jobs", "show", &id, "--json"]);
    assert_eq!(before["next_run"], after["next_run"]);
    assert_eq!(after["last_status"], "succeeded");
    home.cronhost(&["jobs", "pause", "hourly"]);
    let paused = home.cronhost(&["jobs", "run", "hourly"]);
    assert_eq!(paused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&paused.stderr).contains("paused"));
}

#[test]
fn the_binary_calls_itself_cronhost_whatever_its_package_is_named() {
    let home = TestHome::new();
    let version = home.cronhost(&["--version"]);
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(version.starts_with("cronhost "), "{version}");
    let completions = home.cronhost(&["completions", "zsh"]);
    let script = String::from_utf8_lossy(&completions.stdout).into_owned();
    assert!(script.contains("#compdef cronhost"), "{script}");
    assert!(!script.contains("cronhost-cli"), "{script}");
}

#[test]
fn ordinary_words_that_look_like_ids_are_names() {
    let home = TestHome::new();
    for name in ["jenkins", "journal", "jira", "javadoc"] {
        let id = home.add_job(&["every 1h", "--name", name, "--", "true"]);
        let shown = home.cronhost(&["jobs", "show", name, "--json"]);
        assert!(shown.status.success(), "{name}");
        let job: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
        assert_eq!(
            (job["id"].as_str(), job["name"].as_str()),
            (Some(id.as_str()), Some(name))
        );
    }
    // A name that is another job's id is refused, naming that job.
    let clash = home.cronhost(&["jobs", "add", "every 1h", "--name", "J1", "--", "true"]);
    assert_eq!(clash.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&clash.stderr).contains("is the id of another job (j1)"));
}
