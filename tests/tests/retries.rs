//! Retries, jitter and the on-failure hook through the real binary: a daemon firing real
//! commands, each retry a run of its own, the hook run once with the failed run's details.

use std::time::Duration;

use cronhost_e2e::{wait_for, TestHome};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(home: &TestHome, args: &[&str]) -> Value {
    home.json(args)
}

/// Oldest first.
fn runs(home: &TestHome, job: &str) -> Vec<Value> {
    let mut runs = home.runs(job);
    runs.reverse();
    runs
}

fn stop(mut daemon: std::process::Child, log: &std::path::Path) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(
        daemon.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[test]
fn a_failing_job_is_retried_with_backoff_and_the_hook_runs_once_after_the_last_attempt() {
    let home = TestHome::new();
    let hook_log = home.path().join("hook.log");
    let hook = format!(
        "echo \"$CRONHOST_JOB_NAME|$CRONHOST_STATUS|$CRONHOST_EXIT_CODE|$CRONHOST_ATTEMPT|$CRONHOST_ERROR|$CRONHOST_RUN_ID\" >> '{}'",
        hook_log.display()
    );
    let id = home.add_job(&[
        "in 1s",
        "--name",
        "flaky",
        "--retries",
        "2",
        "--retry-delay",
        "1s",
        "--on-failure",
        &hook,
        "--shell",
        "--",
        "echo attempt $CRONHOST_ATTEMPT; exit 3",
    ]);
    let (daemon, log) = home.spawn_daemon("daemon.log", &[]);
    wait_for("the hook to run", PATIENCE, || hook_log.exists());
    // Give a wrong second hook call a moment to show before the daemon stops.
    wait_for("the last attempt's outcome", PATIENCE, || {
        runs(&home, &id)
            .iter()
            .filter(|r| r["finished_at"].is_string())
            .count()
            == 3
    });
    stop(daemon, &log);

    let history = runs(&home, &id);
    let attempts: Vec<(u64, &str, &str)> = history
        .iter()
        .map(|r| {
            (
                r["attempt"].as_u64().unwrap(),
                r["reason"].as_str().unwrap_or("-"),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (0, "-", "failed"),
            (1, "retry", "failed"),
            (2, "retry", "failed")
        ]
    );
    // Backoff: the second retry waited about twice as long as the first.
    let instant = |r: &Value, key: &str| {
        chrono::DateTime::parse_from_rfc3339(r[key].as_str().unwrap()).unwrap()
    };
    let first_wait = instant(&history[1], "scheduled_at") - instant(&history[0], "finished_at");
    let second_wait = instant(&history[2], "scheduled_at") - instant(&history[1], "finished_at");
    assert_eq!(first_wait.num_seconds(), 1, "{first_wait}");
    assert_eq!(second_wait.num_seconds(), 2, "{second_wait}");
    assert!(history[1..]
        .iter()
        .all(|r| r["retry_of"] == history[0]["scheduled_at"]));

    // The hook ran once, after the last attempt, with its details.
    let hook_lines = std::fs::read_to_string(&hook_log).unwrap();
    let lines: Vec<&str> = hook_lines.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "flaky|failed|3|2|exited with 3|{}",
            history[2]["id"].as_str().unwrap()
        )]
    );
    // Each attempt's output, and the hook's note in the last one.
    let last = home.cronhost(&["logs", "flaky"]);
    let said = text(&last.stdout);
    assert!(said.starts_with("attempt 2\n"), "{said}");
    assert!(said.contains("the on-failure hook succeeded"), "{said}");
    let first = home.cronhost(&["logs", "flaky", "--run", history[0]["id"].as_str().unwrap()]);
    assert_eq!(text(&first.stdout), "attempt 0\n");
    let listing = text(&home.cronhost(&["runs", "flaky"]).stdout);
    assert!(listing.contains("retry 2: exited with 3"), "{listing}");
}

#[test]
fn a_retry_that_succeeds_ends_the_retries_and_no_hook_runs() {
    let home = TestHome::new();
    let marker = home.path().join("hook-ran");
    let counter = home.path().join("count");
    let id = home.add_job(&[
        "in 1s",
        "--name",
        "second-time-lucky",
        "--retries",
        "5",
        "--retry-delay",
        "1s",
        "--on-failure",
        &format!("touch '{}'", marker.display()),
        "--shell",
        "--",
        &format!(
            "n=$(($(cat '{c}' 2>/dev/null || echo 0) + 1)); echo $n > '{c}'; [ $n -ge 2 ]",
            c = counter.display()
        ),
    ]);
    let (daemon, log) = home.spawn_daemon("daemon.log", &[]);
    wait_for("the retry to succeed", PATIENCE, || {
        runs(&home, &id).iter().any(|r| r["status"] == "succeeded")
    });
    stop(daemon, &log);
    let statuses: Vec<String> = runs(&home, &id)
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["failed", "succeeded"]);
    assert!(
        !marker.exists(),
        "the hook ran though the occurrence succeeded"
    );
    let job = json(&home, &["jobs", "show", "second-time-lucky", "--json"]);
    assert_eq!(job["retry"], Value::Null);
    assert_eq!(job["failure_streak"], 0);
}

#[test]
fn jitter_fires_each_job_at_its_own_fixed_offset() {
    let home = TestHome::new();
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let ids: Vec<String> = (0..3)
        .map(|n| {
            home.add_job(&[
                &at,
                "--name",
                &format!("fleet-{n}"),
                "--jitter",
                "3s",
                "--",
                "true",
            ])
        })
        .collect();
    let base = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    let mut offsets = Vec::new();
    for id in &ids {
        let job = json(&home, &["jobs", "show", id, "--json"]);
        let offset = job["jitter_offset_ms"].as_i64().unwrap();
        assert!((0..3000).contains(&offset), "{offset}");
        let next = chrono::DateTime::parse_from_rfc3339(job["next_run"].as_str().unwrap()).unwrap();
        assert_eq!((next - base).num_milliseconds(), offset);
        offsets.push(offset);
    }
    let (daemon, log) = home.spawn_daemon("daemon.log", &[]);
    wait_for("every job to fire", PATIENCE, || {
        ids.iter().all(|id| !runs(&home, id).is_empty())
    });
    stop(daemon, &log);
    for (id, offset) in ids.iter().zip(&offsets) {
        let run = &runs(&home, id)[0];
        let scheduled =
            chrono::DateTime::parse_from_rfc3339(run["scheduled_at"].as_str().unwrap()).unwrap();
        assert_eq!((scheduled - base).num_milliseconds(), *offset, "{run}");
        let started =
            chrono::DateTime::parse_from_rfc3339(run["started_at"].as_str().unwrap()).unwrap();
        assert!(
            started >= scheduled,
            "started before its jittered time: {run}"
        );
    }
    // The offsets are the job's own: the same again after an export to another home.
    let export = home.cronhost(&["jobs", "export"]);
    let other = TestHome::new();
    let file = other.path().join("jobs.json");
    std::fs::write(&file, &export.stdout).unwrap();
    assert!(other
        .cronhost(&["jobs", "import", file.to_str().unwrap()])
        .status
        .success());
    for (id, offset) in ids.iter().zip(&offsets) {
        let job = json(&other, &["jobs", "show", id, "--json"]);
        assert_eq!(job["jitter_offset_ms"].as_i64(), Some(*offset));
    }
}

#[test]
fn bad_retry_jitter_and_hook_settings_are_refused_with_what_is_allowed() {
    let home = TestHome::new();
    for (args, needle) in [
        (
            &["every 1h", "--retries", "101", "--", "true"][..],
            "from 0 (none) to 100",
        ),
        (
            &["every 1h", "--retries", "-1", "--", "true"][..],
            "retries",
        ),
        (
            &["every 1h", "--retry-delay", "0s", "--", "true"][..],
            "--retry-delay",
        ),
        (
            &["every 1h", "--retry-delay", "2d", "--", "true"][..],
            "allowed 1 to 3600",
        ),
        (&["every 1h", "--jitter", "2d", "--", "true"][..], "jitter"),
        (&["every 1h", "--jitter", "soon", "--", "true"][..], "soon"),
        (
            &["every 1h", "--on-failure", " ", "--", "true"][..],
            "on-failure",
        ),
    ] {
        let mut full = vec!["jobs", "add"];
        full.extend_from_slice(args);
        let output = home.cronhost(&full);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(needle),
            "{args:?}: expected {needle:?}: {}",
            text(&output.stderr)
        );
    }
    assert_eq!(
        json(&home, &["jobs", "list", "--all", "--json"])["jobs"],
        serde_json::json!([])
    );
}

/// `cronhost tick` as if it ran `skew_ms` from now.
fn tick_at(home: &TestHome, skew_ms: i64) {
    let output = std::process::Command::new(&cronhost_e2e::artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .arg("tick")
        .env_remove("CRONHOST_HOME")
        .env("CRONHOST_CLOCK_SKEW_MS", skew_ms.to_string())
        .output()
        .unwrap();
    // A tick whose jobs failed exits 1; either way it ran.
    assert!(output.status.code().is_some(), "{}", text(&output.stderr));
}

#[test]
fn under_a_coarse_trigger_every_failure_is_retried_or_reported_never_dropped() {
    // Ticks at several phases of the minute: a retry comes due before or after the next
    // occurrence depending on where in its minute the job failed.
    for phase_ms in [1_000, 20_000, 40_000, 55_000] {
        coarse_trigger_at_phase(phase_ms);
    }
}

fn coarse_trigger_at_phase(phase_ms: i64) {
    let home = TestHome::new();
    let hook_log = home.path().join("hook.log");
    let id = home.add_job(&[
        "* * * * *",
        "--name",
        "minutely",
        "--retries",
        "1",
        "--retry-delay",
        "10s",
        "--on-failure",
        &format!("echo $CRONHOST_ATTEMPT >> '{}'", hook_log.display()),
        "--",
        "false",
    ]);
    // System cron's way: a tick a minute, well after each retry came due.
    for minute in 1..=4 {
        tick_at(&home, minute * 60_000 + phase_ms);
    }
    let history = runs(&home, &id);
    let failed = |attempt: u64| {
        history
            .iter()
            .filter(|r| r["attempt"] == attempt && r["status"] == "failed")
            .count()
    };
    // Whatever the minute's phase: every failed first run was retried, or reported by its
    // hook (it failed while another occurrence's retry was pending), or its retry is still
    // pending when the ticks stop; and every failed retry was reported.
    let hooks = std::fs::read_to_string(&hook_log).unwrap_or_default();
    let reported = |attempt: &str| hooks.lines().filter(|l| *l == attempt).count();
    let pending = usize::from(!json(&home, &["jobs", "show", &id, "--json"])["retry"].is_null());
    assert!(failed(0) >= 2, "{history:#?}");
    assert!(failed(1) >= 1, "no retry ran: {history:#?}");
    assert_eq!(
        failed(0),
        failed(1) + reported("0") + pending,
        "a failure was neither retried nor reported: hooks {hooks:?}, {history:#?}"
    );
    assert_eq!(reported("1"), failed(1), "hooks {hooks:?}: {history:#?}");
}
