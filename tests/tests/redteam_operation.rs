//! The red-team pass over issue 14's operation features, through real processes: what a
//! broken job, a stalled log reader or a shutdown can do to output, retries and the hook.

use std::process::{Command, Stdio};
use std::time::Duration;

use cronhost_e2e::{artifacts, wait_for, TestHome};
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(40);

fn runs(home: &TestHome, job: &str) -> Vec<Value> {
    home.runs(job)
}

fn count_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn terminate(mut daemon: std::process::Child) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    daemon.wait().unwrap()
}

#[test]
fn background_children_holding_the_output_leak_no_descriptors_or_threads() {
    let home = TestHome::new();
    home.add_job(&[
        "every 1s",
        "--name",
        "bg",
        "--shell",
        "--",
        "sleep 20 & echo started",
    ]);
    let (daemon, _log) = home.spawn_daemon("daemon.log", &[]);
    let pid = daemon.id();
    let (fds, tasks) = (format!("/proc/{pid}/fd"), format!("/proc/{pid}/task"));
    wait_for("three runs", PATIENCE, || runs(&home, "bg").len() >= 3);
    let (fds_before, tasks_before) = (count_entries(&fds), count_entries(&tasks));
    wait_for("ten runs", PATIENCE, || runs(&home, "bg").len() >= 10);
    let (fds_after, tasks_after) = (count_entries(&fds), count_entries(&tasks));
    assert!(terminate(daemon).success());
    // Before the fix each run left 3 descriptors and a thread behind (21 and 7 here).
    assert!(
        fds_after <= fds_before + 2,
        "fds {fds_before} -> {fds_after}"
    );
    assert!(
        tasks_after <= tasks_before + 2,
        "threads {tasks_before} -> {tasks_after}"
    );
    let logs = home.cronhost(&["logs", "bg"]);
    let said = String::from_utf8_lossy(&logs.stdout);
    assert!(said.starts_with("started\n"), "{said}");
    assert!(said.contains("is not kept"), "{said}");
}

#[test]
fn a_stalled_reader_of_forwarded_output_stalls_no_run_and_timeouts_hold() {
    let home = TestHome::new();
    home.write_config("[cron]\njob_output = \"forward\"\n");
    let id = home.add_job(&[
        "in 1s",
        "--name",
        "chatty",
        "--timeout",
        "2",
        "--shell",
        "--",
        "yes y | head -c 3000000 | fold -w 100; sleep 60",
    ]);
    // The daemon's stdout: a pipe nobody reads (a stalled journald or docker).
    let fifo = home.path().join("stdout.fifo");
    let made = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(made.as_ptr(), 0o600) }, 0);
    // Both ends are opened here: the read end (first, without blocking) is held, never read.
    let read_end = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .unwrap();
    let write_end = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let daemon = Command::new(&artifacts().cronhost)
        .arg("--home")
        .arg(home.path())
        .arg("run")
        .env_remove("CRONHOST_HOME")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(write_end)
        .stderr(std::fs::File::create(home.path().join("daemon.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for(
        "the run to time out though nobody reads its lines",
        PATIENCE,
        || {
            runs(&home, &id)
                .first()
                .is_some_and(|r| r["status"] == "timed_out")
        },
    );
    let status = terminate(daemon);
    drop(read_end);
    assert!(status.success());
}

trait NonBlocking {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlocking for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_NONBLOCK)
    }
}

#[test]
fn a_shutdown_does_not_start_the_on_failure_hook() {
    let home = TestHome::new();
    let marker = home.path().join("hook-started");
    let id = home.add_job(&[
        "in 1s",
        "--name",
        "long",
        "--on-failure",
        &format!("touch '{}'; sleep 30", marker.display()),
        "--",
        "sleep",
        "100",
    ]);
    home.write_config("[cron]\nshutdown_timeout_ms = 3000\n");
    let (daemon, _log) = home.spawn_daemon("daemon.log", &[]);
    wait_for("the run to start", PATIENCE, || {
        runs(&home, &id)
            .first()
            .is_some_and(|r| r["status"] == "running")
    });
    let started = std::time::Instant::now();
    assert!(terminate(daemon).success());
    let took = started.elapsed();
    assert!(!marker.exists(), "the hook started during shutdown");
    assert!(took < Duration::from_secs(6), "shutdown took {took:?}");
    assert_eq!(runs(&home, &id)[0]["status"], "failed");
}

#[test]
fn apply_refuses_an_empty_set_under_prune_a_fifo_and_a_file_over_the_limit() {
    let home = TestHome::new();
    home.add_job(&["every 1h", "--name", "keep", "--", "true"]);
    let empty = home.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let output = home.cronhost(&["apply", "--prune", empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("declares no job"));
    let fifo = home.path().join("jobs.fifo");
    let made = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(made.as_ptr(), 0o600) }, 0);
    let output = home.cronhost(&["apply", fifo.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a fifo is refused, not waited on"
    );
    let huge = home.path().join("huge.toml");
    let mut text = String::from("[jobs.first]\nschedule = \"@daily\"\ncommand = [\"true\"]\n");
    text.push_str(&format!("# {}\n", "p".repeat(17 << 20)));
    text.push_str("[jobs.last]\nschedule = \"@daily\"\ncommand = [\"true\"]\n");
    std::fs::write(&huge, text).unwrap();
    let output = home.cronhost(&["apply", "--dry-run", huge.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("larger than 16 MiB"));
    let listed = home.cronhost(&["jobs", "list", "--json"]);
    let jobs: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "nothing changed");
}

#[test]
fn logs_refuses_a_hard_linked_output_file_and_import_a_job_named_twice() {
    let home = TestHome::new();
    let id = home.add_job(&["every 1h", "--name", "echo", "--", "echo", "hi"]);
    assert!(home.cronhost(&["jobs", "run", "echo"]).status.success());
    let dir = home.path().join("cron/output").join(&id);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let secret = home.path().join("secret");
    std::fs::write(&secret, "not the job's\n").unwrap();
    std::fs::remove_file(&file).unwrap();
    std::fs::hard_link(&secret, &file).unwrap();
    let logs = home.cronhost(&["logs", "echo"]);
    assert_eq!(logs.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&logs.stdout).contains("not the job's"));

    let export = home.cronhost(&["jobs", "export"]);
    let mut document: Value = serde_json::from_slice(&export.stdout).unwrap();
    let job = document["jobs"][0].clone();
    let mut twin = job.clone();
    twin["timeout_secs"] = 5.into();
    document["jobs"] = Value::Array(vec![job, twin]);
    let path = home.path().join("twice.json");
    std::fs::write(&path, document.to_string()).unwrap();
    let import = home.cronhost(&["jobs", "import", "--replace", path.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&import.stderr).contains("appears twice"));
}
