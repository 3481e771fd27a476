//! The red-team suite: every attack and accident of the hardening issue, through real
//! `cronhost` processes on throwaway homes. Each test failed before the fix it names. Tests that
//! need root (another user's group, a tmpfs for a full disk, a read-only mount) say so and skip
//! where the machine does not allow them.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cronhost_e2e::{artifacts, count_lines, wait_for, Running, TestHome, PATIENCE};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cronhost --home HOME ARGS` run to completion with `cwd` as its directory.
fn cronhost_in(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home)
        .args(args)
        .current_dir(cwd)
        .env_remove("CRONHOST_HOME")
        .env("RUST_LOG", "warn")
        .output()
        .expect("cronhost runs")
}

/// `cronhost --home HOME ARGS` that must end within `limit` (killed and failed otherwise).
fn cronhost_bounded(home: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("CRONHOST_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cronhost starts");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cronhost {args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// The command exited with `code` and said `needle` on stderr.
fn assert_refused(output: &Output, code: i32, needle: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
}

fn jobs_json(home: &Path) -> serde_json::Value {
    let output = cronhost_in(home, Path::new("/"), &["jobs", "list", "--all", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("jobs JSON")["jobs"].clone()
}

fn runs_json(home: &Path) -> Vec<serde_json::Value> {
    let output = cronhost_in(
        home,
        Path::new("/"),
        &["runs", "--json", "--limit", "100000"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("runs JSON")["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        if !is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().expect("mount point");
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status();
        match status {
            Ok(status) if status.success() => Some(Self { dir }),
            other => {
                eprintln!("skipped: this machine does not allow mounting a tmpfs ({other:?})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .status()
            .expect("mount");
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

// 1. Root runs another user's job.

#[test]
fn root_refuses_to_run_or_record_jobs_from_a_home_others_can_write() {
    let home = TestHome::new();
    let marker = home.path().join("ran-as");
    let line = format!("id -un > '{}'", marker.display());
    let id = home.add_job(&["*/1 * * * * *", "--name", "planted", "--shell", "--", &line]);
    let state = home.state_dir();
    // (mode of the home, mode of cron/, group of the home or None)
    let mut cases = vec![(0o777, 0o700, None), (0o700, 0o777, None)];
    if is_root() {
        cases.push((0o770, 0o700, Some(65534))); // group-writable, and the group is not root
    } else {
        eprintln!("skipped: the group-writable case needs root to chown the home");
    }
    for (home_mode, state_mode, group) in cases {
        if let Some(gid) = group {
            std::os::unix::fs::chown(home.path(), None, Some(gid)).expect("chown");
        }
        chmod(home.path(), home_mode);
        chmod(&state, state_mode);
        for args in [
            vec!["tick"],
            vec!["fire", id.as_str()],
            vec!["jobs", "run", id.as_str()],
            vec!["run"],
            vec!["jobs", "add", "every 1h", "--", "true"],
            vec!["jobs", "remove", id.as_str()],
        ] {
            let output = cronhost_bounded(home.path(), &args, PATIENCE);
            let stderr = text(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{args:?} with home {home_mode:o}, cron/ {state_mode:o}: {stderr}"
            );
            assert!(
                stderr.contains("writable by other users") && stderr.contains("chmod go-w"),
                "{stderr}"
            );
        }
        assert!(!marker.exists(), "a job ran from a home others can write");
        // Reading is still allowed, with a warning.
        let output = cronhost_bounded(home.path(), &["jobs", "list"], PATIENCE);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(
            text(&output.stderr).contains("warning"),
            "{}",
            text(&output.stderr)
        );
        std::os::unix::fs::chown(home.path(), None, Some(0)).ok();
        chmod(home.path(), 0o700);
        chmod(&state, 0o700);
    }
    // The same job runs once the home is private again: the policy, nothing else, refused it.
    let output = home.cronhost(&["jobs", "run", &id]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(marker.exists());
}

// 2. Symlinks redirect writes.

#[test]
fn state_files_that_are_symlinks_are_never_written_through() {
    let home = TestHome::new();
    let victim = home.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // A one-shot 10 s in the past fires at the next tick; its output file's name is known.
    let at = chrono::Utc::now() - chrono::Duration::seconds(10);
    let at = chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap();
    let id = home.add_job(&[&at.to_rfc3339(), "--name", "once", "--", "echo", "leaked"]);

    // The daemon lock.
    let lock = home.state_dir().join("daemon.lock");
    let _ = std::fs::remove_file(&lock);
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let output = cronhost_bounded(home.path(), &["run"], PATIENCE);
    assert_refused(&output, 2, "symbolic link");
    std::fs::remove_file(&lock).unwrap();

    // The occurrence's output file.
    let output_dir = home.state_dir().join("output").join(&id);
    std::fs::create_dir_all(&output_dir).unwrap();
    let log = output_dir.join(format!("{}.log", at.format("%Y%m%dT%H%M%S%.3fZ")));
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    // The link is found at the command's first byte (the file is made then): the run fails,
    // and nothing is written through the link.
    let output = home.cronhost(&["tick"]);
    assert!(
        text(&output.stderr).contains("is a symbolic link"),
        "{}",
        text(&output.stderr)
    );
    let run = runs_json(home.path()).into_iter().next().expect("the run");
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error"]
            .as_str()
            .unwrap_or("")
            .contains("symbolic link"),
        "{run}"
    );

    // The store itself.
    let store = home.state_dir().join("cronhost.db");
    let elsewhere = home.path().join("elsewhere.db");
    std::fs::rename(&store, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &store).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();
    for args in [vec!["tick"], vec!["jobs", "add", "every 1h", "--", "true"]] {
        let output = home.cronhost(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains("symbolic link"),
            "{}",
            text(&output.stderr)
        );
    }
    assert_eq!(std::fs::read(&elsewhere).unwrap(), before);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

// 3. A full disk stops a job forever, silently.

#[test]
fn a_full_disk_is_reported_by_status_and_firing_resumes_when_space_returns() {
    let Some(disk) = Tmpfs::mount("4m") else {
        return;
    };
    let home = disk.path().join("home");
    let marks = std::env::temp_dir().join(format!("cronhost-full-{}", std::process::id()));
    let line = format!(
        "echo \"$CRONHOST_SCHEDULED_AT\" >> '{}'; sleep 2",
        marks.display()
    );
    let added = cronhost_in(
        &home,
        Path::new("/"),
        &[
            "jobs",
            "add",
            "*/1 * * * * *",
            "--name",
            "slow",
            "--overlap",
            "skip",
            "--shell",
            "--",
            &line,
        ],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    // The daemon's log lives off the full disk, so the test can read what it says.
    let log = std::env::temp_dir().join(format!("cronhost-full-{}.log", std::process::id()));
    let mut daemon = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(&home)
        .arg("run")
        .env("RUST_LOG", "info")
        .env_remove("CRONHOST_HOME")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("a first run", PATIENCE, || count_lines(&marks) >= 1);
    let seen = count_lines(&marks);
    wait_for("a run to start", PATIENCE, || count_lines(&marks) > seen);

    // Fill the disk while that run is in flight (it sleeps 2 s): its outcome cannot be written.
    let filler = disk.path().join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.write_all(&[0u8; 512]);
    drop(file);
    wait_for("an outcome that cannot be recorded", PATIENCE, || {
        log_text().contains("cannot record the outcome")
    });
    let status = cronhost_in(&home, Path::new("/"), &["status"]);
    let said = text(&status.stdout);
    assert_eq!(
        status.status.code(),
        Some(1),
        "status on a full disk: {said}"
    );
    assert!(said.contains("is full"), "{said}");

    // Space returns: the kept outcome lands, firing resumes, nothing is left `running`.
    std::fs::remove_file(&filler).unwrap();
    let freed = chrono::Utc::now();
    wait_for("the kept outcome to land", PATIENCE, || {
        log_text().contains("is recorded at last")
    });
    wait_for("a run after the disk was freed", PATIENCE, || {
        runs_json(&home).iter().any(|run| {
            run["status"] == "succeeded"
                && run["scheduled_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t > freed)
        })
    });
    for run in runs_json(&home) {
        let scheduled =
            chrono::DateTime::parse_from_rfc3339(run["scheduled_at"].as_str().unwrap()).unwrap();
        if scheduled < freed - chrono::Duration::seconds(3) {
            assert!(
                !["running", "claimed"].contains(&run["status"].as_str().unwrap()),
                "left open: {run}"
            );
        }
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_file(&marks);
    let _ = std::fs::remove_file(&log);
}

// 4. Numbers that overflow.

#[test]
fn numbers_out_of_range_are_refused_where_they_enter_and_nothing_is_stored() {
    let home = TestHome::new();
    let huge = "9223372036854775807";
    for (args, needle) in [
        (["--timeout", huge], "allowed 1 to 31536000"),
        (["--timeout", "0"], "allowed 1 to 31536000"),
        (["--repeat", "0"], "positive number"),
        (
            ["--run-retention", "-1"],
            "give a whole number of runs from 0 (no count limit) to 1000000",
        ),
        (
            ["--run-retention", huge],
            "give a whole number of runs from 0 (no count limit) to 1000000",
        ),
        (
            ["--run-retention-days", "x"],
            "give a whole number of days from 0 (no age limit) to 36500",
        ),
    ] {
        let mut full = vec!["jobs", "add", "every 2s"];
        full.extend(args);
        full.extend(["--", "true"]);
        assert_refused(&home.cronhost(&full), 2, needle);
    }
    assert_eq!(jobs_json(home.path()), serde_json::json!([]));

    for (key, value) in [
        ("reconcile_interval_secs", "18446744073709551615"),
        ("completed_retention_days", "1000000000000000"),
        ("tick_interval_ms", "0"),
        ("run_retention", "1000001"),
        ("run_retention_days", "36501"),
    ] {
        home.write_config(&format!("[cron]\n{key} = {value}\n"));
        let output = cronhost_bounded(home.path(), &["run"], PATIENCE);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{key}: {stderr}");
        assert!(
            stderr.contains(&format!("cron.{key} = {value} is out of range")),
            "{stderr}"
        );
    }
    for value in ["\"x\"", "-1", "1.5"] {
        home.write_config(&format!("[cron]\nrun_retention = {value}\n"));
        let output = cronhost_bounded(home.path(), &["run"], PATIENCE);
        assert_refused(&output, 2, "expected a whole number (0: no limit)");
    }
}

// 5. One imported id breaks `jobs add` for good; import is looser than add.

#[test]
fn import_is_held_to_the_rules_of_add_and_no_id_breaks_allocation() {
    let source = TestHome::new();
    source.add_job(&["every 1h", "--name", "model", "--", "true"]);
    let export = source.cronhost(&["jobs", "export"]);
    let model: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(model["format"], "cronhost-jobs", "a versioned document");
    let model = model["jobs"][0].clone();
    let target = TestHome::new();
    let import = |job: serde_json::Value| {
        let file = target.path().join("import.json");
        std::fs::write(
            &file,
            serde_json::to_vec(&serde_json::json!([job])).unwrap(),
        )
        .unwrap();
        target.cronhost(&["jobs", "import", file.to_str().unwrap()])
    };
    let with = |key: &str, value: serde_json::Value| {
        let mut job = model.clone();
        job[key] = value;
        job
    };
    let bad = [
        (with("id", "j1y2p0ij32e8e7".into()), "not a cronhost id"),
        (with("id", "j-5".into()), "not a cronhost id"),
        (with("id", "jZ".into()), "not a cronhost id"),
        (with("id", "j01".into()), "not a cronhost id"),
        (with("timeout_secs", 0.into()), "timeout"),
        (with("timeout_secs", u64::MAX.into()), "timeout"),
        (with("repeat_limit", 0.into()), "repeat 0"),
        (with("command", serde_json::json!([])), "no command"),
        (with("command", serde_json::json!(["  "])), "no command"),
        (
            with("command", serde_json::json!(["x".repeat(1 << 20)])),
            "too long",
        ),
        (with("name", "\u{1b}[2Jwiped".into()), "visible characters"),
        (
            with("name", "pay\u{202e}gpj.exe".into()),
            "visible characters",
        ),
        (with("workdir", "relative/dir".into()), "relative"),
        (
            with("schedule", "every:1".into()),
            "does not match its text",
        ),
        (
            with("schedule", "every:18446744073709551615".into()),
            "does not match its text",
        ),
        (with("timezone", "\u{1b}[2J".into()), "IANA"),
        (
            with("last_status", "\u{1b}]0;owned\u{7}".into()),
            "last_status",
        ),
        (
            {
                let mut job = with("shell", true.into());
                job["command"] = serde_json::json!(["echo", "a;touch Z"]);
                job
            },
            "--shell takes the whole command line as one argument",
        ),
    ];
    for (job, expected) in bad {
        let output = import(job.clone());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{job}: {stderr}");
        assert!(stderr.contains(expected), "expected {expected:?}: {stderr}");
        assert!(
            !stderr.contains('\u{1b}'),
            "the error echoes an escape sequence: {stderr:?}"
        );
        assert_eq!(
            jobs_json(target.path()),
            serde_json::json!([]),
            "something was stored"
        );
    }
    // The highest id an import may carry leaves allocation working.
    let output = import(with("id", "jzzzzzzzzzzzz".into()));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let first = target.add_job(&["every 1h", "--", "true"]);
    let second = target.add_job(&["every 1h", "--", "true"]);
    assert_ne!(first, second);
    assert!(target
        .cronhost(&["jobs", "remove", "model"])
        .status
        .success());
    assert!(!target.add_job(&["every 1h", "--", "true"]).is_empty());
}

#[test]
fn text_from_the_store_never_reaches_the_terminal_raw() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--name", "plain", "--", "true"]);
    // A row written by an older cronhost or by hand, as the store may hold.
    let store = rusqlite::Connection::open(home.state_dir().join("cronhost.db")).unwrap();
    store
        .execute(
            "UPDATE jobs SET name = ?1, name_key = lower(?1), command = ?2, last_error = ?3 WHERE id = ?4",
            rusqlite::params![
                "evil\u{1b}[2J\u{202e}",
                serde_json::to_string(&["echo", "\u{1b}]0;title\u{7}"]).unwrap(),
                "\u{1b}[31mred",
                id
            ],
        )
        .unwrap();
    drop(store);
    for args in [vec!["jobs", "list"], vec!["jobs", "show", &id]] {
        let output = home.cronhost(&args);
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(
            !stdout.contains('\u{1b}') && !stdout.contains('\u{202e}') && !stdout.contains('\u{7}'),
            "{args:?}: {stdout:?}"
        );
        assert!(stdout.contains("\\u{1b}"), "{args:?}: {stdout}");
    }
}

#[test]
fn text_a_provider_reports_is_escaped_before_it_reaches_the_terminal() {
    let home = TestHome::new();
    home.install(&artifacts().zoo, "zoo.so");
    home.write_config("[cron]\nprovider = \"zoo-hostile-text\"\n");
    for args in [vec!["status"], vec!["runs", "--cluster"]] {
        let output = home.cronhost(&args);
        let stdout = text(&output.stdout);
        // The provider's text is there, escaped.
        assert!(stdout.contains("\\u{1b}"), "{args:?}: {stdout}");
        assert!(
            !stdout.contains('\u{1b}') && !stdout.contains('\u{7}') && !stdout.contains('\u{202e}'),
            "{args:?} printed the provider's escape sequences raw: {stdout:?}"
        );
    }
}

// 6. The store moved or deleted under a running daemon.

/// A daemon firing a per-second job, harmed by `harm` once it fires: it must stop with an
/// ERROR that says `needle`, and exit 1.
fn assert_harm_stops_the_daemon(harm: impl FnOnce(&TestHome), needle: &str) {
    let home = TestHome::new();
    home.add_job(&["*/1 * * * * *", "--", "true"]);
    let running = Running::start(&home);
    running.wait_for_log("fire job=");
    harm(&home);
    let (status, log) = running.wait_exit();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("ERROR") && log.contains(needle), "{log}");
}

#[test]
fn a_store_moved_away_or_a_state_dir_deleted_stops_the_daemon() {
    assert_harm_stops_the_daemon(
        |home| {
            let store = home.state_dir().join("cronhost.db");
            std::fs::rename(store, home.path().join("aside.db")).unwrap();
        },
        "stops firing",
    );
    assert_harm_stops_the_daemon(
        |home| {
            // The daemon may write an output file while the tree is being removed, which
            // fails the removal with ENOTEMPTY; remove until the directory is gone.
            let state_dir = home.state_dir();
            wait_for(
                "the state directory to be removed",
                PATIENCE,
                || match std::fs::remove_dir_all(&state_dir) {
                    Ok(()) => true,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
                    Err(error) if error.kind() == std::io::ErrorKind::DirectoryNotEmpty => false,
                    Err(error) => panic!("removing {}: {error}", state_dir.display()),
                },
            );
        },
        "stops firing",
    );
}

#[test]
fn a_store_overwritten_in_place_fails_the_ticks() {
    let home = TestHome::new();
    home.add_job(&["*/1 * * * * *", "--", "true"]);
    let running = Running::start(&home);
    running.wait_for_log("the built-in ticker drives the fires");
    let store = home.state_dir().join("cronhost.db");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&store)
        .unwrap();
    file.write_all(b"not a database!!").unwrap();
    drop(file);
    // The ticks fail (SQLite refuses the file at its next read), so the heartbeat records the
    // error instead of success.
    wait_for("the tick to fail on the broken store", PATIENCE, || {
        std::fs::read_to_string(home.state_dir().join("ticker_last_error"))
            .is_ok_and(|error| error.contains("not a database") || error.contains("malformed"))
    });
    drop(running);
}

// 7. `--shell` with several arguments loses data.

#[test]
fn shell_takes_exactly_one_command_line() {
    let home = TestHome::new();
    let output = home.cronhost(&[
        "jobs",
        "add",
        "every 1h",
        "--shell",
        "--",
        "rm",
        "-rf",
        "/x/my dir",
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(r#"--shell -- "rm -rf '/x/my dir'""#),
        "{stderr}"
    );
    assert_eq!(jobs_json(home.path()), serde_json::json!([]));
    let made = home.path().join("Z");
    let line = format!("echo 'a;touch {}'", made.display());
    let id = home.add_job(&["every 1h", "--shell", "--", &line]);
    assert!(home.cronhost(&["jobs", "run", &id]).status.success());
    assert!(!made.exists(), "the quoted `;` ran a second command");
}

// 8. Signals.

#[test]
fn sighup_reloads_usr1_and_usr2_are_not_fatal_and_shutdown_keeps_its_deadline() {
    let home = TestHome::new();
    home.write_config("[cron]\nshutdown_timeout_ms = 2000\n");
    let marks = cronhost_e2e::marking_job(&home, "beat");
    let running = Running::start(&home);
    let pid = running.pid() as i32;
    running.wait_for_log("the built-in ticker drives the fires (interval 1s)");
    let signal = |number| {
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(pid, number) }, 0);
    };
    home.write_config("[cron]\nshutdown_timeout_ms = 2000\ntick_interval_ms = 500\n");
    signal(libc::SIGHUP);
    running.wait_for_log("reload: configuration applied");
    running.wait_for_log("the built-in ticker drives the fires (interval 500ms)");
    home.write_config("[cron]\nthis is not toml\n");
    signal(libc::SIGHUP);
    running.wait_for_log("reload refused, the running configuration stays");
    signal(libc::SIGUSR1);
    running.wait_for_log("received SIGUSR1; status: cronhost runs");
    signal(libc::SIGUSR2);
    running.wait_for_log("received SIGUSR2");
    let seen = count_lines(&marks);
    wait_for("fires after the signals", PATIENCE, || {
        count_lines(&marks) > seen + 1
    });

    // A job that ignores SIGTERM must not stretch the shutdown past its deadline.
    home.write_config("[cron]\nshutdown_timeout_ms = 2000\n");
    let started = home.path().join("stubborn-started");
    let line = format!("trap '' TERM; echo x >> '{}'; sleep 60", started.display());
    home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "stubborn",
        "--shell",
        "--",
        &line,
    ]);
    wait_for("the stubborn job", PATIENCE, || started.exists());
    let asked = Instant::now();
    let (status, log) = running.terminate();
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{log}");
    // 2 s of deadline, plus the margin a loaded machine needs to start and end processes.
    assert!(
        took < Duration::from_millis(3500),
        "shutdown took {took:?} for a 2000 ms deadline\n{log}"
    );
    let stubborn: Vec<_> = runs_json(home.path())
        .into_iter()
        .filter(|run| run["status"] == "running")
        .collect();
    assert!(stubborn.is_empty(), "left running: {stubborn:?}");
}

// 9. The smaller ones.

#[test]
fn an_orphaned_job_keeps_its_overlap_slot_after_the_daemon_is_killed() {
    let home = TestHome::new();
    let marks = home.path().join("marks");
    let line = format!(
        "echo \"$CRONHOST_SCHEDULED_AT\" >> '{}'; sleep 5",
        marks.display()
    );
    home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "long",
        "--overlap",
        "skip",
        "--shell",
        "--",
        &line,
    ]);
    let first = Running::start(&home);
    wait_for("the first copy", PATIENCE, || count_lines(&marks) == 1);
    // SAFETY: SIGKILL to our own child; its job lives on in its own process group.
    unsafe { libc::kill(first.pid() as i32, libc::SIGKILL) };
    let _ = first.wait_exit();
    let restarted_at = chrono::Utc::now();
    let second = Running::start(&home);
    wait_for("an overlap skip after the restart", PATIENCE, || {
        runs_json(home.path()).iter().any(|run| {
            run["reason"] == "overlap"
                && run["scheduled_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| t > restarted_at)
        })
    });
    assert_eq!(
        count_lines(&marks),
        1,
        "a second copy started beside the orphan"
    );
    // When the orphan ends, its run is settled and the job fires again.
    wait_for("a second copy once the orphan ended", PATIENCE, || {
        count_lines(&marks) >= 2
    });
    wait_for("the orphan's run settled", PATIENCE, || {
        runs_json(home.path())
            .iter()
            .any(|run| run["status"] == "unknown")
    });
    drop(second);
}

#[test]
fn relative_paths_are_anchored_where_the_job_was_added() {
    let home = TestHome::new();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir(project.path().join("sub")).unwrap();
    let script = project.path().join("sub").join("report.sh");
    std::fs::write(&script, "#!/bin/sh\npwd > ran-here\n").unwrap();
    chmod(&script, 0o755);
    let output = cronhost_in(
        home.path(),
        project.path(),
        &[
            "jobs",
            "add",
            "every 1h",
            "--name",
            "report",
            "--workdir",
            "sub",
            "--",
            "./report.sh",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = cronhost_in(home.path(), Path::new("/"), &["jobs", "run", "report"]);
    assert!(
        output.status.success(),
        "{} {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let ran = std::fs::read_to_string(project.path().join("sub").join("ran-here")).unwrap();
    assert_eq!(
        Path::new(ran.trim()),
        project.path().join("sub").canonicalize().unwrap()
    );

    // A workdir that is gone is named as such, not as a missing program.
    let id = home.add_job(&["every 1h", "--workdir", "/nonexistent/dir", "--", "true"]);
    let output = home.cronhost(&["jobs", "run", &id]);
    assert_eq!(output.status.code(), Some(1));
    let run = runs_json(home.path())
        .into_iter()
        .find(|run| run["job_id"] == id.as_str())
        .unwrap();
    assert!(
        run["error"]
            .as_str()
            .unwrap()
            .contains("working directory /nonexistent/dir does not exist"),
        "{run}"
    );
}

#[test]
fn a_config_that_is_a_fifo_or_a_device_is_an_error_not_a_hang() {
    let home = TestHome::new();
    let config = home.path().join("cronhost.toml");
    let status = Command::new("mkfifo")
        .arg(&config)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let output = cronhost_bounded(home.path(), &["jobs", "list"], Duration::from_secs(20));
    assert_refused(&output, 2, "not a regular file");
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
    let output = cronhost_bounded(home.path(), &["status"], Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

#[test]
fn names_are_measured_in_characters_and_hidden_characters_refused() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", &"é".repeat(150), "--", "true"]);
    for name in ["zero\u{200b}width", "right\u{202e}left", "tab\there"] {
        let output = home.cronhost(&["jobs", "add", "every 1h", "--name", name, "--", "true"]);
        assert_eq!(output.status.code(), Some(2), "{name:?}");
    }
    let output = home.cronhost(&["runs", "nope"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

#[test]
fn idle_connections_do_not_delay_a_metrics_scrape() {
    let home = TestHome::new();
    home.write_config("[metrics]\nlisten = \"127.0.0.1:0\"\n");
    let running = Running::start(&home);
    let address = running.metrics_address();
    let idle: Vec<_> = (0..15)
        .map(|_| std::net::TcpStream::connect(&address).unwrap())
        .collect();
    let asked = Instant::now();
    let mut scrape = std::net::TcpStream::connect(&address).unwrap();
    scrape
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    scrape.set_read_timeout(Some(PATIENCE)).unwrap();
    scrape.read_to_string(&mut answer).unwrap();
    let took = asked.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Before: each idle connection held the listener for its 2 s deadline (30 s in all).
    assert!(
        took < Duration::from_secs(5),
        "the scrape took {took:?} behind 15 idle connections"
    );
    drop(idle);
}

#[test]
fn a_read_only_home_still_answers_listings_and_status() {
    let Some(disk) = Tmpfs::mount("8m") else {
        return;
    };
    let home = disk.path().join("home");
    let output = cronhost_in(
        &home,
        Path::new("/"),
        &["jobs", "add", "every 1h", "--name", "kept", "--", "true"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    disk.remount("ro");
    let output = cronhost_in(&home, Path::new("/"), &["jobs", "list"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("kept"));
    let output = cronhost_in(&home, Path::new("/"), &["status"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "not running is exit 1: {}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("is not running"));
    disk.remount("rw");
}

#[test]
fn a_postgres_url_that_does_not_parse_makes_the_provider_unavailable() {
    let home = TestHome::new();
    home.install(&artifacts().postgres, "postgres.so");
    home.write_config("[cron]\nprovider = \"postgres\"\n[providers.postgres]\nurl = \"postgres://db:notaport/x\"\n");
    let output = home.cronhost(&["providers", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("providers JSON");
    let available = report["providers"].as_array().is_some_and(|all| {
        all.iter()
            .any(|p| p["name"] == "postgres" && p["available"] == true)
    });
    assert!(!available, "listed as available: {report}");
    assert!(
        report["rejected"]
            .to_string()
            .contains("[providers.postgres] url"),
        "{report}"
    );
}

// Found by a red-team pass over the fixes above.

/// Give uid 65534 (`nobody`) rwx on `path` through a POSIX access ACL, written as the raw
/// extended attribute (no `setfacl` needed). `false` where the file system refuses ACLs.
fn grant_nobody_by_acl(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    // Version 2, then (tag, perm, id): user::rwx, user:65534:rwx, group::r-x, mask::rwx,
    // other::---.
    let mut blob = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 7u16, u32::MAX),
        (0x02, 7, 65534),
        (0x04, 5, u32::MAX),
        (0x10, 7, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        blob.extend(tag.to_le_bytes());
        blob.extend(perm.to_le_bytes());
        blob.extend(id.to_le_bytes());
    }
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: NUL-terminated path and name, a buffer of the given length.
    unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"system.posix_acl_access".as_ptr(),
            blob.as_ptr().cast(),
            blob.len(),
            0,
        ) == 0
    }
}

#[test]
fn an_acl_that_lets_another_user_write_the_state_directory_is_refused() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--", "true"]);
    if !grant_nobody_by_acl(&home.state_dir()) {
        eprintln!("skipped: this file system does not take POSIX ACLs");
        return;
    }
    for args in [vec!["tick"], vec!["jobs", "run", id.as_str()]] {
        assert_refused(&home.cronhost(&args), 2, "POSIX ACL");
    }
}

#[test]
fn output_pruning_never_follows_a_link_out_of_the_home() {
    let home = TestHome::new();
    home.write_config("[cron]\nrun_retention = 1\n");
    // It prints: a run's output file is made at its first byte.
    let id = home.add_job(&["every 1h", "--name", "logs", "--", "echo", "logged"]);
    for _ in 0..3 {
        let ran = home.cronhost(&["jobs", "run", "logs"]);
        assert!(ran.status.success(), "{}", text(&ran.stderr));
    }
    // The job's output directory becomes a link to a directory of someone else's files,
    // named exactly as the runs' output files are.
    let output = home.state_dir().join("output");
    let elsewhere = tempfile::tempdir().unwrap();
    let names: Vec<_> = std::fs::read_dir(output.join(&id))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3);
    for name in &names {
        std::fs::write(elsewhere.path().join(name), "keep me").unwrap();
    }
    std::fs::remove_dir_all(output.join(&id)).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), output.join(&id)).unwrap();
    let ran = home.cronhost(&["jobs", "run", "logs"]);
    assert_eq!(ran.status.code(), Some(1), "{}", text(&ran.stderr));
    // Paused, so the later tick fires nothing whatever the hour (a tick 10 minutes on could
    // cross the job's next occurrence and fail on the link again).
    assert!(home.cronhost(&["jobs", "pause", "logs"]).status.success());
    // Later (past the grace that keeps fresh outcomes), a tick prunes the runs: their rows
    // go, the files behind the link stay.
    let pruned = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .arg("tick")
        .env_remove("CRONHOST_HOME")
        .env("CRONHOST_CLOCK_SKEW_MS", (10 * 60 * 1000).to_string())
        .output()
        .unwrap();
    assert!(pruned.status.success(), "{}", text(&pruned.stderr));
    assert_eq!(runs_json(home.path()).len(), 1, "the runs were pruned");
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        3,
        "files were pruned through the link"
    );
}

#[test]
fn job_ids_from_the_store_never_become_paths() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--name", "forged", "--", "echo", "leaked"]);
    let victim = tempfile::tempdir().unwrap();
    let forged = format!("../../../../../..{}", victim.path().display());
    let store = rusqlite::Connection::open(home.state_dir().join("cronhost.db")).unwrap();
    store
        .execute(
            "UPDATE jobs SET id = ?1 WHERE id = ?2",
            rusqlite::params![forged, id],
        )
        .unwrap();
    drop(store);
    let ran = home.cronhost(&["jobs", "run", "forged"]);
    assert_eq!(ran.status.code(), Some(1), "{}", text(&ran.stderr));
    assert_eq!(
        std::fs::read_dir(victim.path()).unwrap().count(),
        0,
        "output written outside the home"
    );
}

#[test]
fn hard_links_to_the_store_are_refused() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--", "true"]);
    let twin = home.path().join("twin.db");
    std::fs::hard_link(home.state_dir().join("cronhost.db"), &twin).unwrap();
    assert_refused(&home.cronhost(&["tick"]), 2, "hard links");
}

#[test]
fn the_running_daemon_stops_when_its_home_stops_being_private() {
    assert_harm_stops_the_daemon(
        |home| chmod(&home.state_dir(), 0o777),
        "writable by other users",
    );
}

#[test]
fn a_reload_never_applies_a_config_others_can_write_and_a_loose_config_does_not_stop_the_daemon() {
    let home = TestHome::new();
    home.add_job(&["*/1 * * * * *", "--name", "beat", "--", "true"]);
    let running = Running::start(&home);
    running.wait_for_log("the built-in ticker drives the fires");
    home.write_config("[cron]\nfallback = \"none\"\nprovider = \"planted\"\n");
    chmod(&home.path().join("cronhost.toml"), 0o666);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(running.pid() as i32, libc::SIGHUP) };
    running.wait_for_log("reload refused");
    // The config is read only at start and reload: its mode alone does not stop the daemon
    // (its 5-second home check skips it), and the planted config never applies.
    let fires = |log: &str| log.matches("fire job=beat").count();
    let seen = fires(&running.log());
    wait_for("seven more fires (past a home check)", PATIENCE, || {
        fires(&running.log()) >= seen + 7
    });
    let log = running.log();
    assert!(!log.contains("configuration applied"), "{log}");
    assert!(!log.contains("stops firing"), "{log}");
}

#[test]
fn a_run_queued_by_the_daemon_behind_a_manual_run_starts_when_that_run_ends() {
    let home = TestHome::new();
    let marks = home.path().join("marks");
    let line = format!(
        "sleep 2; echo \"$CRONHOST_SCHEDULED_AT\" >> '{}'",
        marks.display()
    );
    home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "q",
        "--overlap",
        "queue-one",
        "--shell",
        "--",
        &line,
    ]);
    // A manual run holds the job while the daemon starts: the daemon queues its occurrence
    // behind it. When the manual run ends in the CLI, the daemon (not the CLI) starts it.
    let mut manual = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .args(["jobs", "run", "q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the manual run", PATIENCE, || {
        runs_json(home.path())
            .iter()
            .any(|run| run["status"] == "running")
    });
    let running = Running::start(&home);
    wait_for("a queued run", PATIENCE, || {
        runs_json(home.path())
            .iter()
            .any(|run| run["status"] == "queued")
    });
    assert!(manual.wait().unwrap().success());
    // Not wedged: scheduled occurrences keep running after the manual one.
    wait_for("three scheduled runs", PATIENCE, || {
        count_lines(&marks) >= 4
    });
    let stuck: Vec<_> = runs_json(home.path())
        .into_iter()
        .filter(|run| run["status"] == "claimed")
        .collect();
    assert!(stuck.len() <= 1, "runs left claimed: {stuck:?}");
    drop(running);
}

#[test]
fn the_store_journal_deleted_under_the_daemon_stops_it() {
    assert_harm_stops_the_daemon(
        |home| {
            std::fs::remove_file(home.state_dir().join("cronhost.db-wal")).unwrap();
            std::fs::remove_file(home.state_dir().join("cronhost.db-shm")).unwrap();
        },
        "write-ahead log",
    );
}

#[test]
fn a_home_reached_through_our_own_symlink_works() {
    let home = TestHome::new();
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("home");
    std::os::unix::fs::symlink(home.path(), &link).unwrap();
    let added = cronhost_in(
        &link,
        Path::new("/"),
        &[
            "jobs", "add", "every 1h", "--name", "via-link", "--", "true",
        ],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let ran = cronhost_in(&link, Path::new("/"), &["jobs", "run", "via-link"]);
    assert!(ran.status.success(), "{}", text(&ran.stderr));
}

#[test]
fn a_closed_pipe_ends_listings_quietly() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "many", "--", "true"]);
    for _ in 0..30 {
        assert!(home.cronhost(&["jobs", "run", "many"]).status.success());
    }
    for command in ["runs", "runs --json", "status", "providers"] {
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "'{}' --home '{}' {command} | head -c 1 >/dev/null; echo \"exit=${{PIPESTATUS[0]}}\"",
                artifacts().cronhost.display(),
                home.path().display()
            ))
            .output()
            .unwrap();
        let stdout = text(&output.stdout);
        let stderr = text(&output.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{command}: {stderr}"
        );
        assert!(
            stdout.contains("exit=0") || stdout.contains("exit=1"),
            "{command}: {stdout} {stderr}"
        );
    }
}
