//! What the `cronhost` binary prints by default and with `-v`/`-q`/`RUST_LOG`, through the real
//! binary against a temporary home: short commands stay quiet under system cron, the daemon
//! logs at INFO.

use std::process::{Output, Stdio};
use std::time::Duration;

use cronhost_e2e::{wait_for, TestHome};

const PATIENCE: Duration = Duration::from_secs(30);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(home: &TestHome, args: &[&str], env: &[(&str, &str)]) -> Output {
    home.command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("cronhost runs")
}

/// A one-shot due now (a second in the past is within the tolerance), added quietly.
fn add_due(home: &TestHome, name: &str, command: &[&str]) {
    // Built first: the first test to ask builds the binary, which can take minutes.
    cronhost_e2e::artifacts();
    let at = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let mut args = vec!["jobs", "add", at.as_str(), "--name", name, "--"];
    args.extend_from_slice(command);
    let output = run(home, &args, &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "", "jobs add logs nothing by default");
}

#[test]
fn tick_prints_nothing_when_all_went_well_and_more_on_request() {
    let home = TestHome::new();
    add_due(&home, "quiet", &["true"]);
    let tick = run(&home, &["tick"], &[]);
    assert!(tick.status.success(), "{}", text(&tick.stderr));
    assert_eq!(
        (text(&tick.stdout), text(&tick.stderr)),
        (String::new(), String::new()),
        "a tick that fired a job that succeeded says nothing (system cron would mail it)"
    );
    let runs = run(&home, &["runs", "quiet", "--json"], &[]);
    assert!(text(&runs.stdout).contains("succeeded"), "it did fire");

    add_due(&home, "verbose", &["true"]);
    let tick = run(&home, &["-v", "tick"], &[]);
    let stderr = text(&tick.stderr);
    assert!(
        stderr.contains("INFO") && stderr.contains("fire job=verbose"),
        "{stderr}"
    );
    assert!(
        stderr.contains("tick: fired 1, skipped 0, errors 0"),
        "{stderr}"
    );
    assert!(!stderr.contains("DEBUG"), "{stderr}");

    // RUST_LOG, when set, wins over the command's default.
    add_due(&home, "env", &["true"]);
    let tick = run(&home, &["tick"], &[("RUST_LOG", "info")]);
    assert!(
        text(&tick.stderr).contains("fire job=env"),
        "{}",
        text(&tick.stderr)
    );

    // `jobs run` too: its answer on stdout, no log lines.
    let hourly = run(
        &home,
        &["jobs", "add", "every 1h", "--name", "hourly", "--", "true"],
        &[],
    );
    assert!(hourly.status.success(), "{}", text(&hourly.stderr));
    let manual = run(&home, &["jobs", "run", "hourly"], &[]);
    assert!(manual.status.success(), "{}", text(&manual.stderr));
    assert!(text(&manual.stdout).contains("ran hourly: succeeded"));
    assert_eq!(text(&manual.stderr), "");
}

#[test]
fn a_failure_is_a_warning_by_default_and_quiet_keeps_only_errors() {
    let home = TestHome::new();
    add_due(&home, "failing", &["sh", "-c", "exit 3"]);
    let tick = run(&home, &["tick"], &[]);
    let stderr = text(&tick.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("job=failing"),
        "{stderr}"
    );
    assert!(!stderr.contains("INFO"), "{stderr}");

    add_due(&home, "hushed", &["sh", "-c", "exit 3"]);
    let tick = run(&home, &["tick", "-q"], &[]);
    assert_eq!(text(&tick.stderr), "", "-q keeps errors only");

    let both = run(&home, &["-v", "-q", "tick"], &[]);
    assert_eq!(both.status.code(), Some(2));
    assert!(text(&both.stderr).contains("cannot be used with"));
}

#[test]
fn the_daemon_logs_at_info_by_default() {
    let home = TestHome::new();
    let log = home.path().join("daemon.log");
    let mut daemon = home
        .command()
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for("the daemon's INFO start line", PATIENCE, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("INFO") && l.contains("running in"))
    });
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().unwrap().success());
}

/// The lines of `log` that speak of job `name` at WARN or ERROR.
fn warnings_about(log: &str, name: &str) -> Vec<String> {
    log.lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && l.contains(name))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_failed_fire_is_one_log_line() {
    let home = TestHome::new();
    // One that cannot start, one that exits non-zero: each fire is one WARN line.
    add_due(&home, "unstartable", &["/nonexistent/program"]);
    add_due(&home, "exits-three", &["sh", "-c", "exit 3"]);
    let tick = run(&home, &["tick"], &[]);
    assert_eq!(
        tick.status.code(),
        Some(1),
        "a tick with a job that could not start"
    );
    let stderr = text(&tick.stderr);
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    for name in ["unstartable", "exits-three"] {
        assert_eq!(warnings_about(&stderr, name).len(), 1, "{name}: {stderr}");
    }

    // Under the daemon (INFO: the fire line, then one WARN line for its end).
    let repeating = run(
        &home,
        &[
            "jobs",
            "add",
            "every 1s",
            "--name",
            "broken",
            "--",
            "/nonexistent/program",
        ],
        &[],
    );
    assert!(repeating.status.success(), "{}", text(&repeating.stderr));
    let log = home.path().join("daemon.log");
    let mut daemon = home
        .command()
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let fires = |log: &str| {
        log.lines()
            .filter(|l| l.contains("INFO") && l.contains("fire job=broken"))
            .count()
    };
    wait_for("three fires of the broken job", PATIENCE, || {
        fires(&std::fs::read_to_string(&log).unwrap_or_default()) >= 3
    });
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().unwrap().success());
    let log = std::fs::read_to_string(&log).unwrap();
    let warnings = warnings_about(&log, "broken");
    assert_eq!(warnings.len(), fires(&log), "{log}");
    assert!(
        !log.contains("ERROR"),
        "a job that cannot start is not an error of the host: {log}"
    );
}

#[test]
fn a_toml_error_keeps_its_caret_and_escapes_what_would_steer_the_terminal() {
    let home = TestHome::new();
    let refused = |config: &str| {
        home.write_config(config);
        let output = run(&home, &["jobs", "list"], &[]);
        assert_eq!(output.status.code(), Some(2));
        text(&output.stderr)
    };
    let stderr = refused("[cron]\nprovidr = \"x\"\n");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines[0].starts_with("cronhost: invalid config ")
            && lines[0].ends_with("TOML parse error at line 2, column 1"),
        "{stderr}"
    );
    assert_eq!(
        lines[2..4],
        ["2 | providr = \"x\"", "  | ^^^^^^^"],
        "{stderr}"
    );
    assert!(lines[4].contains("unknown field `providr`"), "{stderr}");

    // A control character in the file: its line is shown with the character written out.
    let stderr = refused("[cron]\nprovider = \"\u{1b}[31mred\"\n");
    assert!(
        stderr.contains("2 | provider = \"\\u{1b}[31mred\""),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.trim_end().ends_with('^')),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
