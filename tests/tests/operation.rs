//! Day-to-day operation through the real binary: what a job printed (`logs`, `jobs run`,
//! forwarding, the output cap), and listings that show what runs, where and when.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cronhost_e2e::{artifacts, wait_for, TestHome};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(home: &TestHome, args: &[&str]) -> Value {
    home.json(args)
}

fn runs(home: &TestHome, job: &str) -> Vec<Value> {
    home.runs(job)
}

#[test]
fn jobs_run_streams_the_output_and_logs_prints_any_run_back() {
    let home = TestHome::new();
    let counter = home.path().join("count");
    let script = format!(
        "n=$(($(cat '{c}' 2>/dev/null || echo 0) + 1)); echo $n > '{c}'; echo \"out of run $n\"; echo \"err of run $n\" >&2",
        c = counter.display()
    );
    home.add_job(&["every 1h", "--name", "talker", "--shell", "--", &script]);

    let first = home.cronhost(&["jobs", "run", "talker"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("out of run 1\n"),
        "{}",
        text(&first.stdout)
    );
    assert!(
        text(&first.stderr).contains("err of run 1\n"),
        "{}",
        text(&first.stderr)
    );
    let second = home.cronhost(&["jobs", "run", "talker"]);
    assert!(second.status.success());

    // The newest run by default; both streams, in the order written.
    let logs = home.cronhost(&["logs", "talker"]);
    assert!(logs.status.success(), "{}", text(&logs.stderr));
    assert_eq!(text(&logs.stdout), "out of run 2\nerr of run 2\n");

    // An older run by its id, as `runs --json` gives it.
    let history = runs(&home, "talker");
    let oldest = history.last().unwrap()["id"].as_str().unwrap().to_owned();
    let logs = home.cronhost(&["logs", "talker", "--run", &oldest]);
    assert_eq!(text(&logs.stdout), "out of run 1\nerr of run 1\n");

    // A run that does not exist, a job that does not exist: exit 2, named.
    let logs = home.cronhost(&["logs", "talker", "--run", "2001-01-01 00:00"]);
    assert_eq!(logs.status.code(), Some(2));
    assert!(
        text(&logs.stderr).contains("has no run"),
        "{}",
        text(&logs.stderr)
    );
    let logs = home.cronhost(&["logs", "nobody"]);
    assert_eq!(logs.status.code(), Some(2));
}

#[test]
fn a_job_that_has_not_run_has_no_logs_and_says_so() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "quiet", "--", "true"]);
    let logs = home.cronhost(&["logs", "quiet"]);
    assert_eq!(logs.status.code(), Some(1));
    assert!(
        text(&logs.stderr).contains("has not run yet"),
        "{}",
        text(&logs.stderr)
    );
}

#[test]
fn a_run_that_writes_nothing_leaves_no_file_and_its_failure_hook_still_gets_one() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--name", "silent", "--", "true"]);
    let run = home.cronhost(&["jobs", "run", "silent"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    // No file and no directory for a silent run: the fire path creates nothing.
    assert!(!home.path().join("cron/output").join(id.trim()).exists());
    let logs = home.cronhost(&["logs", "silent"]);
    assert!(logs.status.success(), "{}", text(&logs.stderr));
    assert_eq!(text(&logs.stdout), "");
    assert!(
        text(&logs.stderr).contains("wrote nothing"),
        "{}",
        text(&logs.stderr)
    );

    // A silent run that fails: its hook is told a file that exists (empty but for the hook's
    // own output, which is appended to it).
    let seen = home.path().join("hook-saw");
    let hook = format!(
        "test -f \"$CRONHOST_OUTPUT_FILE\" && echo exists > '{}'",
        seen.display()
    );
    home.add_job(&[
        "* * * * * *",
        "--name",
        "quiet-fail",
        "--on-failure",
        &hook,
        "--",
        "false",
    ]);
    // A scheduled occurrence (a manual run's failure calls no hook), fired by `tick`.
    cronhost_e2e::wait_for("the hook to run", cronhost_e2e::PATIENCE, || {
        home.cronhost(&["tick"]);
        seen.exists()
    });
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap_or_default(),
        "exists\n"
    );
}

#[test]
fn output_past_the_cap_is_cut_with_a_marker_and_the_run_still_ends_well() {
    let home = TestHome::new();
    home.write_config("[cron]\noutput_max_bytes = 2048\n");
    // 1 MiB through a pipe: the job would block forever if the rest were not read and dropped.
    home.add_job(&[
        "every 1h",
        "--name",
        "flood",
        "--shell",
        "--",
        "head -c 1048576 /dev/zero | tr '\\0' x; echo done >&2",
    ]);
    let run = home.cronhost(&["jobs", "run", "flood"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let logs = home.cronhost(&["logs", "flood"]);
    let kept = text(&logs.stdout);
    assert!(kept.starts_with(&"x".repeat(2048)), "{}", &kept[..100]);
    assert!(
        !kept.contains(&"x".repeat(2049)),
        "more than the cap was kept"
    );
    assert!(kept.contains("[cronhost: output truncated"), "{kept}");
    assert!(
        kept.contains(&format!(
            "[cronhost: {} more bytes discarded]",
            1_048_576 - 2048 + 5
        )),
        "{kept}"
    );
    assert!(kept.len() < 2048 + 400, "{} bytes kept", kept.len());
}

#[test]
fn a_background_child_holding_the_output_does_not_hold_the_run_open() {
    let home = TestHome::new();
    home.add_job(&[
        "every 1h",
        "--name",
        "forker",
        "--shell",
        "--",
        "echo started; (sleep 20; echo late) & exit 0",
    ]);
    let began = Instant::now();
    let run = home.cronhost(&["jobs", "run", "forker"]);
    let took = began.elapsed();
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert!(
        took < Duration::from_secs(15),
        "jobs run waited {took:?} for the background child's output"
    );
    let logs = home.cronhost(&["logs", "forker"]);
    assert!(text(&logs.stdout).starts_with("started\n"));
    let history = runs(&home, "forker");
    assert_eq!(history[0]["status"], "succeeded");
}

#[test]
fn forwarded_output_reaches_the_daemon_stdout_prefixed_with_the_job_name() {
    let home = TestHome::new();
    home.write_config("[cron]\njob_output = \"forward\"\n");
    home.add_job(&[
        "every 1s",
        "--name",
        "greeter",
        "--shell",
        "--",
        "echo hello from $CRONHOST_JOB_ID; echo oops >&2",
    ]);
    let stdout = home.path().join("daemon.out");
    let stderr = home.path().join("daemon.err");
    let mut daemon = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .arg("run")
        .env_remove("CRONHOST_HOME")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    wait_for("a forwarded line on the daemon's stdout", PATIENCE, || {
        std::fs::read_to_string(&stdout).is_ok_and(|t| t.contains("[greeter] hello from j1\n"))
    });
    wait_for("a forwarded line on the daemon's stderr", PATIENCE, || {
        std::fs::read_to_string(&stderr).is_ok_and(|t| t.contains("[greeter] oops\n"))
    });
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().unwrap().success());
    let out = std::fs::read_to_string(&stdout).unwrap();
    assert!(!out.contains("oops"), "stderr lines went to stdout: {out}");
    // No files: `logs` says where the output went instead.
    assert!(!home.path().join("cron/output/j1").exists());
    let logs = home.cronhost(&["logs", "greeter"]);
    assert_eq!(logs.status.code(), Some(1));
    assert!(
        text(&logs.stderr).contains("forward"),
        "{}",
        text(&logs.stderr)
    );
}

#[test]
fn logs_follow_prints_a_run_as_it_writes_and_then_the_next_run() {
    let home = TestHome::new();
    let gate = home.path().join("gate");
    let script = format!(
        "echo first half; while [ ! -e '{g}' ]; do sleep 0.05; done; echo second half",
        g = gate.display()
    );
    home.add_job(&["every 1h", "--name", "slow", "--shell", "--", &script]);
    let followed = home.path().join("followed");
    let mut follow = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .args(["logs", "slow", "--follow"])
        .env_remove("CRONHOST_HOME")
        .stdout(std::fs::File::create(&followed).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&followed).unwrap_or_default();
    // `--follow` on a job that has not run waits for its first run.
    let mut run = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .args(["jobs", "run", "slow"])
        .env_remove("CRONHOST_HOME")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first half while the run goes on", PATIENCE, || {
        read() == "first half\n"
    });
    std::fs::write(&gate, "").unwrap();
    assert!(run.wait().unwrap().success());
    wait_for("the second half", PATIENCE, || {
        read() == "first half\nsecond half\n"
    });
    // The next run follows on.
    assert!(home.cronhost(&["jobs", "run", "slow"]).status.success());
    wait_for("the next run's output", PATIENCE, || {
        read() == "first half\nsecond half\nfirst half\nsecond half\n"
    });
    follow.kill().unwrap();
    follow.wait().unwrap();
}

#[test]
fn listings_show_the_command_so_it_pastes_back_and_times_in_the_job_zone() {
    let home = TestHome::new();
    let target = home.path().join("pasted");
    let line = format!("echo \"a b\"  'c' > '{}'", target.display());
    home.add_job(&[
        "weekdays at 9:30",
        "--name",
        "report",
        "--tz",
        "Asia/Tokyo",
        "--shell",
        "--",
        &line,
    ]);
    home.add_job(&[
        "every 1h", "--name", "plain", "--", "printf", "%s|", "x y", "it's",
    ]);

    // `jobs show` prints the command as a shell line: run it, and it does what the job does.
    let show = home.cronhost(&["jobs", "show", "report"]);
    let shown = text(&show.stdout);
    let command = shown
        .lines()
        .find_map(|l| l.strip_prefix("command:"))
        .unwrap()
        .trim();
    let status = Command::new("sh").args(["-c", command]).status().unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "a b c\n");
    // The next run in the job's zone (JST), not cron.timezone (UTC).
    assert!(shown.contains(" JST ("), "{shown}");

    let list = home.cronhost(&["jobs", "list"]);
    let listed = text(&list.stdout);
    let header = listed.lines().next().unwrap();
    assert!(
        header.contains("ZONE") && header.contains("COMMAND"),
        "{header}"
    );
    let plain = listed.lines().find(|l| l.contains("plain")).unwrap();
    let pasted = &plain[header.find("COMMAND").unwrap()..];
    let output = Command::new("sh").args(["-c", pasted]).output().unwrap();
    assert_eq!(text(&output.stdout), "x y|it's|");
    let report = listed.lines().find(|l| l.contains("report")).unwrap();
    assert!(
        report.contains("Asia/Tokyo") && report.contains(" JST "),
        "{report}"
    );
}

#[test]
fn runs_lists_job_names_and_when_each_run_started_and_finished() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "named-job", "--", "true"]);
    assert!(home
        .cronhost(&["jobs", "run", "named-job"])
        .status
        .success());
    let listing = text(&home.cronhost(&["runs"]).stdout);
    let mut lines = listing.lines();
    let header = lines.next().unwrap();
    for column in ["JOB", "SCHEDULED", "STARTED", "FINISHED", "STATUS"] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(row.starts_with("named-job "), "{row}");
    let run = &runs(&home, "named-job")[0];
    let started =
        chrono::DateTime::parse_from_rfc3339(run["started_at"].as_str().unwrap()).unwrap();
    let finished =
        chrono::DateTime::parse_from_rfc3339(run["finished_at"].as_str().unwrap()).unwrap();
    assert!(
        row.contains(&started.format("%H:%M:%S%.3f").to_string()),
        "{row}"
    );
    assert!(
        row.contains(&finished.format("%H:%M:%S%.3f").to_string()),
        "{row}"
    );
}

#[test]
fn every_json_document_names_its_format_and_version() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "a", "--", "true"]);
    for (args, format) in [
        (&["jobs", "list", "--json"][..], "cronhost-job-list"),
        (&["jobs", "show", "a", "--json"][..], "cronhost-job"),
        (&["runs", "--json"][..], "cronhost-runs"),
        (&["status", "--json"][..], "cronhost-status"),
        (&["providers", "--json"][..], "cronhost-providers"),
        (&["jobs", "export"][..], "cronhost-jobs"),
    ] {
        let document = json(&home, args);
        assert_eq!(document["format"], format, "{args:?}");
        assert_eq!(document["version"], 1, "{args:?}");
    }
}

#[test]
fn jobs_edit_changes_a_job_in_place_and_the_running_daemon_follows() {
    let home = TestHome::new();
    let marks = home.path().join("marks");
    let id = home.add_job(&[
        "every 1h",
        "--name",
        "mover",
        "--shell",
        "--",
        &format!("echo $CRONHOST_SCHEDULED_AT >> '{}'", marks.display()),
    ]);
    assert!(home.cronhost(&["jobs", "run", "mover"]).status.success());
    let (mut daemon, log) = home.spawn_daemon("daemon.log", &[]);
    wait_for("the daemon to be healthy", PATIENCE, || {
        home.cronhost(&["status"]).status.success()
    });

    let edit = home.cronhost(&[
        "jobs",
        "edit",
        "mover",
        "--schedule",
        "every 1s",
        "--timeout",
        "30",
    ]);
    assert!(edit.status.success(), "{}", text(&edit.stderr));
    let said = text(&edit.stdout);
    assert!(said.contains("schedule: every 1h -> every 1s"), "{said}");
    assert!(said.contains("timeout: none -> 30s"), "{said}");
    wait_for("the daemon to fire on the new schedule", PATIENCE, || {
        runs(&home, &id).len() >= 3
    });
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(
        daemon.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(log).unwrap()
    );

    let job = json(&home, &["jobs", "show", "mover", "--json"]);
    assert_eq!(job["id"], id.as_str(), "same id");
    assert_eq!(job["timeout_secs"], 30);
    // The manual run from before the edit is still in its history.
    assert!(runs(&home, &id).iter().any(|r| r["reason"] == "manual"));

    // Bad edits change nothing and say what is allowed.
    for (args, needle) in [
        (
            &["jobs", "edit", "mover", "--schedule", "every fortnight"][..],
            "accepted schedules",
        ),
        (
            &["jobs", "edit", "mover", "--tz", "Mars/Base"][..],
            "Mars/Base",
        ),
        (&["jobs", "edit", "mover"][..], "nothing to change"),
        (&["jobs", "edit", "nobody", "--timeout", "5"][..], "no job"),
    ] {
        let output = home.cronhost(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains(needle),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    assert_eq!(json(&home, &["jobs", "show", "mover", "--json"]), job);
}

#[test]
fn an_edited_export_pushed_with_import_replace_updates_the_other_host() {
    let source = TestHome::new();
    let target = TestHome::new();
    source.add_job(&["every 1h", "--name", "a", "--", "true"]);
    source.add_job(&["every 1h", "--name", "b", "--", "true"]);
    let file = source.path().join("jobs.json");
    let export = |home: &TestHome| {
        let output = home.cronhost(&["jobs", "export"]);
        std::fs::write(&file, &output.stdout).unwrap();
    };
    export(&source);
    let import = |args: &[&str]| {
        let mut full = vec!["jobs", "import", file.to_str().unwrap()];
        full.extend_from_slice(args);
        target.cronhost(&full)
    };
    assert!(import(&[]).status.success());
    assert!(target.cronhost(&["jobs", "run", "a"]).status.success());

    assert!(source
        .cronhost(&["jobs", "edit", "a", "--schedule", "every 2h"])
        .status
        .success());
    export(&source);
    let kept = import(&[]);
    assert!(
        text(&kept.stdout).contains("2 already present"),
        "{}",
        text(&kept.stdout)
    );
    assert_eq!(
        json(&target, &["jobs", "show", "a", "--json"])["schedule_text"],
        "every 1h"
    );

    let replaced = import(&["--replace"]);
    assert!(replaced.status.success(), "{}", text(&replaced.stderr));
    assert!(text(&replaced.stdout).contains("schedule: every 1h -> every 2h"));
    let a = json(&target, &["jobs", "show", "a", "--json"]);
    assert_eq!(a["schedule_text"], "every 2h");
    assert_eq!(a["last_status"], "succeeded", "runtime state here stays");
    let again = import(&["--replace"]);
    assert!(
        text(&again.stdout).contains("replaced 0"),
        "{}",
        text(&again.stdout)
    );
}

#[test]
fn apply_makes_the_store_match_a_job_file_and_a_second_apply_changes_nothing() {
    let home = TestHome::new();
    home.add_job(&["every 5m", "--name", "stray", "--", "true"]);
    let dir = home.path().join("repo");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("jobs.toml");
    std::fs::write(
        &file,
        "[jobs.backup]\nschedule = \"0 3 * * *\"\ncommand = [\"./backup.sh\", \"--all\"]\ntimezone = \"Europe/Berlin\"\ntimeout = 600\n\n[jobs.rotate]\nschedule = \"every 1h\"\ncommand = \"echo rotated\"\n",
    )
    .unwrap();
    let apply = |args: &[&str]| {
        let mut full = vec!["apply", file.to_str().unwrap()];
        full.extend_from_slice(args);
        home.cronhost(&full)
    };
    let names = || -> Vec<String> {
        json(&home, &["jobs", "list", "--all", "--json"])["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect()
    };

    let dry = apply(&["--dry-run", "--prune"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let said = text(&dry.stdout);
    assert!(
        said.contains("+ backup") && said.contains("- stray"),
        "{said}"
    );
    assert!(said.contains("nothing was changed"), "{said}");
    assert_eq!(names(), ["stray"]);

    let applied = apply(&[]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let backup = json(&home, &["jobs", "show", "backup", "--json"]);
    assert_eq!(
        backup["command"],
        serde_json::json!([dir.join("backup.sh").to_str().unwrap(), "--all"]),
        "relative to the file's directory"
    );
    assert_eq!(backup["timezone"], "Europe/Berlin");
    assert_eq!(
        json(&home, &["jobs", "show", "rotate", "--json"])["shell"],
        true
    );
    let mut listed = names();
    listed.sort();
    assert_eq!(
        listed,
        ["backup", "rotate", "stray"],
        "no --prune, no removal"
    );

    let again = apply(&[]);
    assert!(text(&again.stdout).contains("0 added, 0 changed, 0 removed, 2 unchanged"));

    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("every 1h", "every 2h"),
    )
    .unwrap();
    let pruned = apply(&["--prune"]);
    let said = text(&pruned.stdout);
    assert!(said.contains("schedule: every 1h -> every 2h"), "{said}");
    assert!(said.contains("- stray"), "{said}");
    let mut listed = names();
    listed.sort();
    assert_eq!(listed, ["backup", "rotate"]);
    assert_eq!(
        json(&home, &["jobs", "show", "backup", "--json"])["id"],
        backup["id"]
    );

    // A broken file changes nothing, exit 2, and points at the line.
    std::fs::write(
        &file,
        "[jobs.x]\nschedule = \"every 1h\"\ncommand = [\"true\"]\ntimout = 5\n",
    )
    .unwrap();
    let broken = apply(&["--prune"]);
    assert_eq!(broken.status.code(), Some(2));
    let said = text(&broken.stderr);
    assert!(said.contains("timout") && said.contains("line 4"), "{said}");
    let mut listed = names();
    listed.sort();
    assert_eq!(listed, ["backup", "rotate"]);
}

#[test]
fn status_names_failing_jobs_and_says_so_in_its_exit_code_until_they_succeed() {
    let home = TestHome::new();
    let fixed = home.path().join("fixed");
    home.add_job(&["every 1s", "--name", "fine", "--", "true"]);
    home.add_job(&[
        "every 1s",
        "--name",
        "flaky",
        "--shell",
        "--",
        &format!("test -e '{}' || exit 3", fixed.display()),
    ]);
    home.add_job(&["every 1h", "--name", "later", "--", "true"]);
    let (mut daemon, log) = home.spawn_daemon("daemon.log", &[]);
    wait_for("status to name the failing job", PATIENCE, || {
        home.cronhost(&["status"]).status.code() == Some(3)
    });
    let output = home.cronhost(&["status"]);
    let said = text(&output.stdout);
    let headline = said.lines().next().unwrap();
    assert!(
        headline.contains("1 of 3 active job(s) are failing"),
        "{said}"
    );
    assert!(!said.contains("will fire automatically"), "{said}");
    assert!(
        said.contains("failing:     flaky (") && said.contains("exited with 3"),
        "{said}"
    );
    assert!(!said.contains("failing:     fine"), "{said}");
    let report = json(&home, &["status", "--json"]);
    assert_eq!(report["verdict"], "jobs_failing");
    assert_eq!(report["failing_jobs"].as_array().unwrap().len(), 1);
    assert_eq!(report["failing_jobs"][0]["name"], "flaky");
    assert!(
        report["failing_jobs"][0]["failure_streak"]
            .as_u64()
            .unwrap()
            >= 1
    );

    // Fixed: the next run succeeds and the status is healthy again.
    std::fs::write(&fixed, "").unwrap();
    wait_for("status to be healthy again", PATIENCE, || {
        home.cronhost(&["status"]).status.success()
    });
    assert!(text(&home.cronhost(&["status"]).stdout).contains("will fire automatically"));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(
        daemon.wait().unwrap().success(),
        "{}",
        std::fs::read_to_string(log).unwrap()
    );
    assert_eq!(
        home.cronhost(&["status"]).status.code(),
        Some(1),
        "not running"
    );
}

#[test]
fn completion_offers_job_names_zones_and_policy_words() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "backup-db", "--", "true"]);
    home.add_job(&["every 1h", "--name", "rotate", "--", "true"]);
    // What the registered bash function runs at each TAB.
    let complete = |words: &[&str]| {
        let output = Command::new(&artifacts().cronhost)
            .env("CRONHOST_HOME", home.path())
            .env("COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
            .env("_CLAP_IFS", "\n")
            .arg("--")
            .args(words)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        complete(&["cronhost", "jobs", "show", "back"]),
        ["backup-db"]
    );
    assert_eq!(complete(&["cronhost", "logs", "ro"]), ["rotate"]);
    let zones = complete(&["cronhost", "jobs", "add", "--tz", "Europe/Be"]);
    assert!(zones.contains(&"Europe/Berlin".to_owned()), "{zones:?}");
    assert_eq!(
        complete(&["cronhost", "jobs", "add", "--overlap", ""]),
        ["skip", "allow", "queue-one"]
    );
    let registration = home.cronhost(&["completions", "bash"]);
    assert!(text(&registration.stdout).contains("-F _clap_complete_cronhost cronhost"));
}
