//! `cronhost jobs ...` through the real binary against a temporary home: durations, the
//! anchoring of intervals, pausing and resuming, manual runs.

use cronhost_e2e::TestHome;
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(home: &TestHome, job: &str) -> Value {
    let output = home.cronhost(&["jobs", "show", job, "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `jobs add ARGS` is refused with exit 2, nothing stored, and a message containing `expected`.
fn assert_refused(home: &TestHome, args: &[&str], expected: &str) {
    let mut full = vec!["jobs", "add"];
    full.extend_from_slice(args);
    let output = home.cronhost(&full);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn durations_combine_units_and_timeouts_take_them_too() {
    let home = TestHome::new();
    home.add_job(&[
        "every 1h30m",
        "--name",
        "ninety",
        "--timeout",
        "10m",
        "--",
        "true",
    ]);
    let job = show(&home, "ninety");
    assert_eq!(job["schedule"], "every:5400");
    assert_eq!(job["timeout_secs"], 600);
    // A plain number is still seconds.
    home.add_job(&[
        "every 7m",
        "--name",
        "plain",
        "--timeout",
        "600",
        "--",
        "true",
    ]);
    assert_eq!(show(&home, "plain")["timeout_secs"], 600);

    assert_refused(&home, &["every 500ms", "--", "true"], "1s at the least");
    assert_refused(&home, &["500ms", "--", "true"], "1s at the least");
    assert_refused(&home, &["every 1 month", "--", "true"], "no fixed length");
    assert_refused(
        &home,
        &["every 1h", "--timeout", "500ms", "--", "true"],
        "a timeout is whole seconds, 1s at the least",
    );
    assert_refused(
        &home,
        &["every 1h", "--timeout", "400d", "--", "true"],
        "allowed 1 to 31536000 seconds",
    );
    assert_refused(
        &home,
        &["every 1h", "--timeout", "soon", "--", "true"],
        "soon",
    );
    let jobs: Value =
        serde_json::from_slice(&home.cronhost(&["jobs", "list", "--json"]).stdout).unwrap();
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        2,
        "nothing refused was stored"
    );
}

fn instant(value: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[test]
fn intervals_that_divide_the_clock_fire_on_it_and_the_rest_count_from_the_add() {
    use chrono::Timelike;
    let home = TestHome::new();
    home.add_job(&["every 15m", "--name", "quarter", "--", "true"]);
    let quarter = show(&home, "quarter");
    assert_eq!(quarter["schedule"], "cron:*/15 * * * *");
    let next = instant(&quarter["next_run"]);
    assert_eq!((next.minute() % 15, next.second()), (0, 0), "{next}");

    // On the hour in the job's zone (Kolkata is UTC+5:30).
    home.add_job(&[
        "every hour",
        "--tz",
        "Asia/Kolkata",
        "--name",
        "hourly",
        "--",
        "true",
    ]);
    let hourly = show(&home, "hourly");
    assert_eq!(hourly["schedule"], "cron:0 * * * *");
    assert_eq!(instant(&hourly["next_run"]).minute(), 30);

    home.add_job(&["every 7m", "--name", "seven", "--", "true"]);
    let seven = show(&home, "seven");
    assert_eq!(seven["schedule"], "every:420");
    assert_eq!(
        (instant(&seven["next_run"]) - instant(&seven["created_at"])).num_seconds(),
        420,
        "one interval after the add"
    );
    let shown = text(&home.cronhost(&["jobs", "show", "quarter"]).stdout);
    assert!(
        shown.contains("every 15m  (cron:*/15 * * * *, UTC)"),
        "{shown}"
    );
}

#[test]
fn an_export_of_an_earlier_version_keeps_its_plain_intervals() {
    let home = TestHome::new();
    // What an earlier cronhost exported for `every 1h`: an interval counted from the add.
    let document = serde_json::json!({
        "format": "cronhost-jobs", "version": 1, "jobs": [{
            "id": "j5", "name": "legacy", "command": ["true"], "shell": false,
            "workdir": null, "env": {}, "schedule_text": "every 1h",
            "schedule": "every:3600", "timezone": "UTC", "repeat_limit": null,
            "completed_count": 0, "enabled": true, "paused_at": null, "pause_reason": null,
            "next_run": "2030-01-01T00:17:42.123Z", "timeout_secs": null,
            "catch_up": "once", "overlap": "skip", "created_at": "2026-01-01T00:17:42.123Z",
            "completed_at": null
        }]
    });
    let file = home.path().join("old.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let import = home.cronhost(&["jobs", "import", file.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));
    let legacy = show(&home, "legacy");
    assert_eq!(legacy["schedule"], "every:3600");
    assert_eq!(legacy["next_run"], "2030-01-01T00:17:42.123Z");
}

#[test]
fn pausing_twice_keeps_the_reason_and_resuming_an_active_job_says_so() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "p", "--", "true"]);
    let pause = home.cronhost(&["jobs", "pause", "p", "--reason", "maintenance"]);
    assert!(
        text(&pause.stdout).starts_with("paused p"),
        "{}",
        text(&pause.stdout)
    );
    let again = home.cronhost(&["jobs", "pause", "p"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let said = text(&again.stdout);
    assert!(
        said.contains("already paused") && said.contains("maintenance") && said.contains("kept"),
        "{said}"
    );
    let job = show(&home, "p");
    assert_eq!(job["pause_reason"], "maintenance");
    assert_eq!(job["next_run"], Value::Null, "a paused job has no next run");
    let shown = text(&home.cronhost(&["jobs", "show", "p"]).stdout);
    assert!(shown.contains("next run:      none (paused)"), "{shown}");

    let resume = home.cronhost(&["jobs", "resume", "p"]);
    assert!(
        text(&resume.stdout).starts_with("resumed p"),
        "{}",
        text(&resume.stdout)
    );
    assert!(show(&home, "p")["next_run"].is_string());
    let again = home.cronhost(&["jobs", "resume", "p"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("is not paused: nothing changed"));
    let before = show(&home, "p");
    let run_now = home.cronhost(&["jobs", "resume", "p", "--run-now"]);
    assert_eq!(run_now.status.code(), Some(2));
    assert!(
        text(&run_now.stderr).contains("is not paused"),
        "{}",
        text(&run_now.stderr)
    );
    assert_eq!(show(&home, "p"), before, "nothing changed");
}

#[test]
fn a_manual_run_shows_as_the_last_run_in_the_listing() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "manual", "--", "true"]);
    let before = show(&home, "manual");
    assert_eq!(before["last_run"], Value::Null);
    let run = home.cronhost(&["jobs", "run", "manual"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let after = show(&home, "manual");
    assert!(after["last_run"].is_string(), "{after}");
    assert_eq!(after["last_status"], "succeeded");
    assert_eq!(
        (&after["next_run"], &after["completed_count"]),
        (&before["next_run"], &before["completed_count"]),
        "the schedule and the repeat count are left alone"
    );
    let list = text(&home.cronhost(&["jobs", "list"]).stdout);
    let row = list.lines().find(|l| l.contains("manual")).unwrap();
    // LAST RUN, before the COMMAND column (`true`).
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert!(["ago", "now"].contains(&cells[cells.len() - 2]), "{list}");
}
