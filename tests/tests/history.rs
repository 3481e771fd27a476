//! Bounded run history through the real binary: per-second jobs whose runs (and output files)
//! stay within their retention as `cronhost tick` drives them on a fake clock, a job's own
//! retention beating the host's, open runs never pruned, the daemon pruning a backlog off its
//! fire path, and a pruned occurrence never claimed a second time.
//!
//! Time is moved with `CRONHOST_CLOCK_SKEW_MS`, per process: each tick runs a few minutes
//! "later" than the one before, past the grace that keeps a run's outcome for a while after it
//! ended, so each tick prunes what the previous ones left.

use std::collections::BTreeSet;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use cronhost_e2e::{
    artifacts, assert_each_occurrence_ran_once, count_lines, wait_for, Running, TestHome, PATIENCE,
};
use serde_json::Value;

/// Between two ticks on the fake clock: more than the grace after a run ended
/// (`RECENT_RUN_GRACE`, 2 minutes).
const STEP_MS: i64 = 3 * 60 * 1000;

fn cronhost_at(home: &TestHome, skew_ms: i64, args: &[&str]) -> Command {
    let mut command = Command::new(&artifacts().cronhost);
    command
        .arg("--home")
        .arg(home.path())
        .args(args)
        .env_remove("CRONHOST_HOME")
        .env("RUST_LOG", "warn")
        .env("CRONHOST_CLOCK_SKEW_MS", skew_ms.to_string());
    command
}

/// `cronhost tick` as if it ran `skew_ms` from now (a job added just now is due in a tick at
/// least a second later).
fn tick_at(home: &TestHome, skew_ms: i64) -> Output {
    let output = cronhost_at(home, skew_ms, &["tick"])
        .output()
        .expect("cronhost tick runs");
    assert!(
        output.status.success(),
        "tick failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn wait_exit(mut child: Child) -> ExitStatus {
    let mut status = None;
    wait_for("the process to exit", PATIENCE, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status.expect("exited")
}

fn runs(home: &TestHome, job: &str) -> Vec<Value> {
    let output = home.cronhost(&["runs", job, "--json", "--limit", "100000"]);
    let runs: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "runs {job}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    runs["runs"].as_array().expect("a list of runs").clone()
}

fn instant(run: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(run["scheduled_at"].as_str().expect("scheduled_at"))
        .expect("an RFC 3339 instant")
        .to_utc()
}

/// The output files the runs of `job` should have: one per run, named by its instant.
fn files_of_runs(home: &TestHome, job: &str) -> BTreeSet<String> {
    runs(home, job)
        .iter()
        .map(|run| format!("{}.log", instant(run).format("%Y%m%dT%H%M%S%.3fZ")))
        .collect()
}

/// The output files there are for `job_id`.
fn output_files(home: &TestHome, job_id: &str) -> BTreeSet<String> {
    std::fs::read_dir(home.state_dir().join("output").join(job_id))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A job firing every second that appends the occurrence it ran for to `marks/NAME`.
fn marking_job(home: &TestHome, name: &str, extra: &[&str]) -> (String, std::path::PathBuf) {
    let marks = home.path().join("marks");
    std::fs::create_dir_all(&marks).expect("marks dir");
    let out = marks.join(name);
    // It prints too: a run's output file is made at its first byte, and these tests follow
    // the files of pruned and kept runs.
    let line = format!(
        "echo \"$CRONHOST_SCHEDULED_AT\" >> '{}'; echo \"$CRONHOST_SCHEDULED_AT\"",
        out.display()
    );
    let mut args = vec!["*/1 * * * * *", "--name", name];
    args.extend_from_slice(extra);
    args.extend(["--", "sh", "-c", &line]);
    (home.add_job(&args), out)
}

#[test]
fn per_second_jobs_keep_a_bounded_history_and_their_own_retention_beats_the_hosts() {
    let home = TestHome::new();
    home.write_config("[cron]\nrun_retention = 5\n");
    let (global, global_marks) = marking_job(&home, "global", &[]);
    let (own, _) = marking_job(&home, "own", &["--run-retention", "2"]);
    let (unlimited, _) = marking_job(&home, "unlimited", &["--run-retention", "0"]);
    let ticks = 12;
    for k in 0..ticks {
        tick_at(&home, (k + 1) * STEP_MS);
    }
    assert_eq!(
        count_lines(&global_marks),
        ticks as usize,
        "one run per tick"
    );
    assert_each_occurrence_ran_once(&global_marks);
    // Each tick prunes what the earlier ones left; its own runs are the newest.
    assert_eq!(runs(&home, "global").len(), 5, "cron.run_retention");
    assert_eq!(runs(&home, "own").len(), 2, "the job's --run-retention");
    assert_eq!(
        runs(&home, "unlimited").len(),
        ticks as usize,
        "--run-retention 0: no count limit"
    );
    for (name, id) in [
        ("global", &global),
        ("own", &own),
        ("unlimited", &unlimited),
    ] {
        assert_eq!(
            output_files(&home, id),
            files_of_runs(&home, name),
            "{name}: the output files of the runs kept, and only theirs"
        );
    }
    let shown = home.cronhost(&["jobs", "show", "own"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("history:       the newest 2 runs, 90 days (cron.run_retention_days)"),
        "{shown}"
    );
    let json = home.cronhost(&["jobs", "show", "own", "--json"]);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (
            json["run_retention"].as_u64(),
            json["run_retention_days"].as_u64()
        ),
        (Some(2), None)
    );
}

#[test]
fn open_runs_are_never_pruned() {
    let home = TestHome::new();
    let hold = home.path().join("hold");
    // Each run returns at once, unless `hold` exists: then it runs until `hold` is gone.
    let script = format!("while [ -e '{0}' ]; do sleep 0.05; done", hold.display());
    home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "held",
        "--run-retention",
        "1",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    for k in 0..3 {
        tick_at(&home, (k + 1) * STEP_MS);
    }
    assert_eq!(runs(&home, "held").len(), 1);

    // A tick whose run stays running (and whose process waits for it).
    std::fs::write(&hold, "").unwrap();
    let held: Child = cronhost_at(&home, 4 * STEP_MS, &["tick"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tick starts");
    let running = || {
        runs(&home, "held")
            .into_iter()
            .find(|run| run["status"] == "running")
    };
    wait_for("the held run to be running", PATIENCE, || {
        running().is_some()
    });
    let open = running().unwrap()["id"].clone();

    // Much later, with only one run to keep: the open run stays, beside the newest one (the
    // occurrence this tick skipped because the held run still runs).
    tick_at(&home, 20 * STEP_MS);
    let kept = runs(&home, "held");
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept
        .iter()
        .any(|run| run["id"] == open && run["status"] == "running"));
    assert!(kept.iter().any(|run| run["status"] == "skipped"));

    std::fs::remove_file(&hold).unwrap();
    let status = wait_exit(held);
    assert!(status.success());
    // Once it has ended (and the grace has passed) it goes like any other.
    tick_at(&home, 30 * STEP_MS);
    assert!(runs(&home, "held").iter().all(|run| run["id"] != open));
}

#[test]
fn a_pruned_occurrence_is_never_claimed_a_second_time() {
    let home = TestHome::new();
    let (_, marks) = marking_job(&home, "once", &["--run-retention", "1"]);
    for k in 0..3 {
        tick_at(&home, (k + 1) * STEP_MS);
    }
    let ran: Vec<String> = std::fs::read_to_string(&marks)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(ran.len(), 3);
    let first = &ran[0];
    assert!(
        runs(&home, "once")
            .iter()
            .all(|run| instant(run) != chrono::DateTime::parse_from_rfc3339(first).unwrap()),
        "the first occurrence's row was pruned"
    );
    // Point the job back at it, as `jobs resume --at` (or a clock set back) can.
    assert!(home.cronhost(&["jobs", "pause", "once"]).status.success());
    let resumed = home.cronhost(&["jobs", "resume", "once", "--at", first]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let tick = tick_at(&home, 2 * STEP_MS);
    let log = String::from_utf8_lossy(&tick.stderr);
    assert!(log.contains("counts as claimed"), "{log}");
    assert_eq!(count_lines(&marks), 3, "nothing ran again");
    assert_each_occurrence_ran_once(&marks);
}

#[test]
fn the_daemon_prunes_a_backlog_off_its_fire_path() {
    let home = TestHome::new();
    home.write_config("[cron]\nrun_retention = 0\nrun_retention_days = 0\n");
    let (id, marks) = marking_job(&home, "backlog", &[]);
    for k in 0..4 {
        tick_at(&home, (k + 1) * STEP_MS);
    }
    let backlog = files_of_runs(&home, "backlog");
    assert_eq!(backlog.len(), 4);
    assert_eq!(output_files(&home, &id), backlog);

    // Two days later, keeping one day: the backlog goes while the job fires on.
    home.write_config("[cron]\nrun_retention = 0\nrun_retention_days = 1\n");
    let two_days = (2 * 86_400 * 1000).to_string();
    let (child, log) = home.spawn_daemon("daemon.log", &[("CRONHOST_CLOCK_SKEW_MS", &two_days)]);
    let daemon = Running::adopt(child, log);
    daemon.wait_for_log("pruned 4 run(s)");
    wait_for("the daemon's own runs", PATIENCE, || {
        count_lines(&marks) >= 6
    });
    let kept = files_of_runs(&home, "backlog");
    assert!(kept.is_disjoint(&backlog), "{kept:?}");
    assert!(!kept.is_empty());
    let (status, log) = daemon.terminate();
    assert!(status.success(), "{log}");
    assert!(output_files(&home, &id).is_disjoint(&backlog));
}
