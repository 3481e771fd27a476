//! Schedules through the real binary: expressions pasted from each dialect, refusals that name
//! the field, `jobs next --from`, descriptions in words, and Jenkins' `H` as the store fires it.

use std::collections::BTreeSet;
use std::time::Duration;

use cronhost_e2e::{wait_for, TestHome};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `jobs next ARGS --json`: the instants, as RFC 3339 strings, and the whole document.
fn next(home: &TestHome, args: &[&str]) -> (Vec<String>, Value) {
    let mut full = vec!["jobs", "next"];
    full.extend_from_slice(args);
    full.push("--json");
    let document = home.json(&full);
    assert_eq!(document["format"], "cronhost-next", "{document}");
    let instants = document["next"]
        .as_array()
        .expect("a list of instants")
        .iter()
        .map(|at| {
            chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap())
                .unwrap()
                .to_utc()
                .to_rfc3339()
        })
        .collect();
    (instants, document)
}

#[test]
fn expressions_pasted_from_each_dialect_fire_when_their_dialect_says() {
    let home = TestHome::new();
    let from = "2026-01-01T00:00:00Z"; // a Thursday
    for (expression, expected) in [
        // croniter / robfig: a step from a start.
        (
            "5/15 * * * *",
            ["2026-01-01T00:05:00+00:00", "2026-01-01T00:20:00+00:00"],
        ),
        // Quartz: `?`, seconds first.
        (
            "0 0 12 ? * MON",
            ["2026-01-05T12:00:00+00:00", "2026-01-12T12:00:00+00:00"],
        ),
        // Quartz: three days before the month's last.
        (
            "0 0 L-3 * *",
            ["2026-01-28T00:00:00+00:00", "2026-02-25T00:00:00+00:00"],
        ),
        // A range to the last day, stepped.
        (
            "0 0 1-L/8 * *",
            ["2026-01-09T00:00:00+00:00", "2026-01-17T00:00:00+00:00"],
        ),
        // The last weekday: 2026-01-31 is a Saturday.
        (
            "0 0 LW * *",
            ["2026-01-30T00:00:00+00:00", "2026-02-27T00:00:00+00:00"],
        ),
        // A 7-field Quartz expression with a year.
        (
            "0 30 9 ? * FRI#2 2027",
            ["2027-01-08T09:30:00+00:00", "2027-02-12T09:30:00+00:00"],
        ),
    ] {
        let id = home.add_job(&[expression, "--tz", "UTC", "--", "true"]);
        let (instants, document) = next(&home, &[&id, "--from", from, "--count", "2"]);
        assert_eq!(instants, expected, "{expression}: {document}");
        assert_eq!(document["job"], id.as_str());
        assert_eq!(document["schedule"], expression);
    }
}

#[test]
fn refusals_name_the_field_the_value_as_written_and_store_nothing() {
    let home = TestHome::new();
    home.add_job(&["0 3 * * *", "--name", "kept", "--", "true"]);
    let before = home.cronhost(&["jobs", "export"]).stdout;
    for (schedule, says) in [
        (
            "0 25 * * *",
            "schedule `0 25 * * *`: hour `25` is outside 0–23",
        ),
        ("0 0 * * funday", "day of week `funday` is not understood"),
        ("0 22-2 * * *", "write it as two ranges, `22-23,0-2`"),
        ("0 0 * * MON-FRI#1", "`#` and `L` take one weekday"),
        ("@reboot", "`@reboot` is not supported"),
    ] {
        let output = home.cronhost(&["jobs", "add", schedule, "--", "true"]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{schedule}: {stderr}");
        assert!(stderr.contains(says), "{schedule}: {stderr}");
        assert!(
            !stderr.contains("FUNDAY"),
            "the text comes back as written: {stderr}"
        );
        // `jobs next` refuses it the same way.
        let output = home.cronhost(&["jobs", "next", schedule]);
        assert_eq!(output.status.code(), Some(2), "{schedule}");
        assert!(
            text(&output.stderr).contains(says),
            "{}",
            text(&output.stderr)
        );
    }
    assert_eq!(
        home.cronhost(&["jobs", "export"]).stdout,
        before,
        "nothing stored"
    );
    // A weekday number in Quartz's form is read as cron reads it, and the operator is told.
    let output = home.cronhost(&["jobs", "add", "0 0 12 ? * 2", "--tz", "UTC", "--", "true"]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("weekday numbers are read as cron reads them"),
        "{stderr}"
    );
    let (_, document) = next(&home, &[text(&output.stdout).trim()]);
    assert_eq!(document["description"], "at 12:00, on Tuesday, UTC");
    assert!(document["note"]
        .as_str()
        .unwrap()
        .contains("Quartz and AWS count 1 = Sunday"));
}

#[test]
fn next_lists_instants_strictly_after_from_read_in_the_zone_with_the_dst_policy() {
    let home = TestHome::new();
    let new_york = ["--tz", "America/New_York"];
    // 02:30 does not exist on 2026-03-08: the run is at the end of the gap, 03:00 EDT.
    let (instants, document) = next(
        &home,
        &[
            "30 2 * * *",
            new_york[0],
            new_york[1],
            "--from",
            "2026-03-07 02:30",
            "--count",
            "3",
        ],
    );
    assert_eq!(
        instants,
        [
            "2026-03-08T07:00:00+00:00",
            "2026-03-09T06:30:00+00:00",
            "2026-03-10T06:30:00+00:00"
        ],
        "{document}"
    );
    assert_eq!(
        document["description"],
        "at 02:30 every day, America/New_York"
    );
    assert_eq!(document["from"], "2026-03-07T07:30:00Z", "read in the zone");
    // Strictly after: from an occurrence, the next one.
    let (instants, _) = next(
        &home,
        &[
            "30 2 * * *",
            new_york[0],
            new_york[1],
            "--from",
            "2026-03-09T06:30:00Z",
            "--count",
            "1",
        ],
    );
    assert_eq!(instants, ["2026-03-10T06:30:00+00:00"]);
    // The abbreviation picks the pass of the repeated hour: from 01:10 EST (the second pass)
    // the 01:30 job's next run is the next day's.
    let (instants, _) = next(
        &home,
        &[
            "30 1 * * *",
            new_york[0],
            new_york[1],
            "--from",
            "2026-11-01 01:10:00 EST",
            "--count",
            "1",
        ],
    );
    assert_eq!(instants, ["2026-11-02T06:30:00+00:00"]);
    // What is over previews as nothing left, not as a refusal.
    for over in ["2020-01-01 10:00", "0 0 0 1 1 ? 2025"] {
        let output = home.cronhost(&["jobs", "next", over]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{over}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stdout).contains("no fire time after"),
            "{over}"
        );
    }
    // A bad --from says what a time is.
    for bad in ["yesterday", "2026-11-01 01:10:00 XYZ"] {
        let output = home.cronhost(&["jobs", "next", "@daily", "--from", bad]);
        assert_eq!(output.status.code(), Some(2));
        assert!(text(&output.stderr).contains(&format!("--from `{bad}` is not a time")));
    }
    // A job keeps its own zone: --tz is for schedules.
    let id = home.add_job(&["0 9 * * *", "--tz", "Europe/Berlin", "--", "true"]);
    let output = home.cronhost(&["jobs", "next", &id, "--tz", "UTC"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("runs in its own zone, Europe/Berlin"));
    // Text output: the words, then the instants.
    let output = home.cronhost(&["jobs", "next", "30 9 * * 1-5", "--tz", "Europe/Berlin"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout.lines().next(),
        Some("at 09:30, Monday through Friday, Europe/Berlin"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().count(),
        6,
        "the words and 5 instants: {stdout}"
    );
}

#[test]
fn add_show_and_list_say_the_schedule_in_words_and_stdout_stays_the_id() {
    let home = TestHome::new();
    let output = home.cronhost(&[
        "jobs",
        "add",
        "0 0 * * 5L",
        "--name",
        "payroll",
        "--tz",
        "Europe/Berlin",
        "--",
        "true",
    ]);
    assert!(output.status.success());
    let id = text(&output.stdout);
    assert!(
        id.trim().starts_with('j') && id.lines().count() == 1,
        "stdout is the id: {id}"
    );
    // Not at a terminal: no chatter for scripts (at one, the words and the next run).
    assert_eq!(text(&output.stderr), "");
    let show = text(&home.cronhost(&["jobs", "show", "payroll"]).stdout);
    assert!(
        show.contains("runs:          at 00:00, on the last Friday of the month, Europe/Berlin"),
        "{show}"
    );
    let listed = home.json(&["jobs", "list", "--json"]);
    assert_eq!(
        listed["jobs"][0]["description"],
        "at 00:00, on the last Friday of the month, Europe/Berlin"
    );
}

#[test]
fn h_spreads_jobs_keeps_each_jobs_values_and_the_store_fires_on_them() {
    let home = TestHome::new();
    let mut minutes = BTreeSet::new();
    for i in 0..12 {
        let id = home.add_job(&["H 3 * * *", "--name", &format!("nightly-{i}"), "--", "true"]);
        let (first, document) = next(&home, &[&id, "--count", "1"]);
        let (again, _) = next(&home, &[&id, "--count", "1"]);
        assert_eq!(first, again, "stable");
        let at = chrono::DateTime::parse_from_rfc3339(&first[0]).unwrap();
        assert_eq!(chrono::Timelike::hour(&at), 3, "{document}");
        let minute = chrono::Timelike::minute(&at);
        assert_eq!(
            document["description"],
            format!("at 03:{minute:02} every day, UTC"),
            "the words name the job's own minute"
        );
        // The claim's timeline is the preview's: the stored next run is the first instant.
        let shown = home.json(&["jobs", "show", &id, "--json"]);
        let stored =
            chrono::DateTime::parse_from_rfc3339(shown["next_run"].as_str().unwrap()).unwrap();
        assert_eq!(stored, at, "{shown}");
        minutes.insert(minute);
    }
    assert!(
        minutes.len() >= 6,
        "12 jobs on `H 3 * * *` spread out: {minutes:?}"
    );

    // Fired for real: every 5 seconds from a second picked for the job.
    let id = home.add_job(&["H/5 * * * * *", "--name", "often", "--", "true"]);
    let (planned, _) = next(&home, &[&id, "--count", "3"]);
    let second =
        |at: &str| chrono::Timelike::second(&chrono::DateTime::parse_from_rfc3339(at).unwrap()) % 5;
    let offset = second(&planned[0]);
    assert!(planned.iter().all(|at| second(at) == offset), "{planned:?}");
    wait_for("the H job fires", Duration::from_secs(20), || {
        home.cronhost(&["tick"]);
        !home.runs(&id).is_empty()
    });
    for run in home.runs(&id) {
        let scheduled = run["scheduled_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{run}"));
        assert_eq!(
            second(scheduled),
            offset,
            "fired on the job's own second: {run}"
        );
    }
}

/// A job stored by another version (or edited by hand) whose schedule this version cannot
/// read: it is named by `status` at once, its first claim pauses it saying why, the other jobs
/// and the tick go on, and `jobs edit --schedule` mends it.
#[test]
fn a_stored_schedule_this_version_cannot_read_is_named_and_the_others_fire() {
    let home = TestHome::new();
    let broken = home.add_job(&["* * * * * *", "--name", "old", "--", "true"]);
    let fine = home.add_job(&["* * * * * *", "--name", "fine", "--", "true"]);
    // croner's `+` (day of month AND day of week), which earlier versions stored.
    let db = home.home().store_file();
    set_stored_schedule(&db, &broken, "cron:0 0 1-7 * +1");
    let status = home.cronhost(&["status", "--json"]);
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    let failing = report["failing_jobs"].as_array().unwrap();
    assert!(
        failing.iter().any(|j| j["id"] == broken.as_str()
            && j["last_error"].as_str().unwrap().contains("cannot fire")),
        "{report}"
    );
    // A tick fires the other job, succeeds, and pauses the broken one with the reason.
    wait_for("the fine job fires", Duration::from_secs(20), || {
        let tick = home.cronhost(&["tick"]);
        assert!(tick.status.success(), "{}", text(&tick.stderr));
        !home.runs(&fine).is_empty()
    });
    let shown = home.json(&["jobs", "show", &broken, "--json"]);
    assert!(shown["paused_at"].is_string(), "{shown}");
    assert!(
        shown["pause_reason"]
            .as_str()
            .unwrap()
            .contains("jobs edit"),
        "{shown}"
    );
    assert!(home.runs(&broken).is_empty());
    // Mended: a new schedule, resumed, and status no longer names it.
    let edit = home.cronhost(&["jobs", "edit", &broken, "--schedule", "0 0 1-7 * MON"]);
    assert!(edit.status.success(), "{}", text(&edit.stderr));
    let resume = home.cronhost(&["jobs", "resume", &broken]);
    assert!(resume.status.success(), "{}", text(&resume.stderr));
    let report = home.json(&["status", "--json"]);
    assert!(
        report["failing_jobs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["id"] != broken.as_str()),
        "{report}"
    );
}

/// Set a job's stored schedule behind cronhost's back, as an earlier version or a hand edit
/// would have.
fn set_stored_schedule(db: &std::path::Path, id: &str, schedule: &str) {
    let connection = rusqlite::Connection::open(db).expect("open the store");
    let changed = connection
        .execute(
            "UPDATE jobs SET schedule = ?1 WHERE id = ?2",
            rusqlite::params![schedule, id],
        )
        .expect("update");
    assert_eq!(changed, 1);
}
