//! Isolation mode (`isolation = "process"`) against the whole zoo: for every fault, the host
//! survives, jobs keep firing (through the built-in ticker while the provider is down), the
//! log names the fault, and no provider process outlives the host. And the same faults
//! in-process, where a crash takes the host down: the reason isolation exists.

use std::path::Path;
use std::time::{Duration, Instant};

use cronhost_e2e::{
    artifacts, assert_each_occurrence_ran_once, count_lines, marking_job, wait_for, Running,
    TestHome, PATIENCE,
};

/// One fault and what the log must show for it.
struct Row<'a> {
    provider: &'static str,
    library: &'a Path,
    /// Lines the log shows while the host runs.
    evidence: &'static [&'static str],
    /// Lines the log shows once the host has stopped.
    at_exit: &'static [&'static str],
}

/// The log line saying a provider process is replaced.
const RESTARTED: &str = "its process is gone; starting a new one";

/// A home running `provider` from `library` with `isolation`; the provider's `reconcile` is
/// called every `reconcile_secs`. The call deadline (1 s) leaves room for constructors in
/// children started 14 at a time on a small machine.
fn home_for(provider: &str, library: &Path, isolation: &str, reconcile_secs: u32) -> TestHome {
    let home = TestHome::new();
    home.install(library, "provider.so");
    home.write_config(&format!(
        "[cron]\nprovider = \"{provider}\"\ntick_interval_ms = 200\nprovider_call_timeout_ms = 1000\nshutdown_timeout_ms = 3000\nreconcile_interval_secs = {reconcile_secs}\n\n[providers.{provider}]\nisolation = \"{isolation}\"\ninterval_ms = 100\n"
    ));
    home
}

/// Process ids the log says provider processes ran in.
fn provider_pids(log: &str) -> Vec<i32> {
    log.lines()
        .filter(|line| line.ends_with(" started"))
        .filter_map(|line| line.split(": process ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purposes: its parent has not reaped it yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

fn check_row(row: &Row<'_>) {
    let home = home_for(row.provider, row.library, "process", 1);
    let out = marking_job(&home, "keeps-firing");
    let running = Running::start(&home);
    for needle in row.evidence {
        wait_for(
            &format!("{}: {needle:?} in the log", row.provider),
            PATIENCE,
            || running.log().contains(needle),
        );
    }
    let fired = count_lines(&out);
    wait_for(
        &format!("{}: two more fires after the fault", row.provider),
        PATIENCE,
        || count_lines(&out) >= fired + 2,
    );
    let (status, log) = running.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "{}: the host exits cleanly:\n{log}",
        row.provider
    );
    assert_each_occurrence_ran_once(&out);
    for needle in row.at_exit {
        assert!(
            log.contains(needle),
            "{}: {needle:?} in:\n{log}",
            row.provider
        );
    }
    assert!(
        !log.contains(&"x".repeat(5000)),
        "{}: enormous lines are cut",
        row.provider
    );
    let pids = provider_pids(&log);
    assert!(
        !pids.is_empty(),
        "{}: the log names the provider process:\n{log}",
        row.provider
    );
    for pid in pids {
        wait_for(
            &format!(
                "{}: provider process {pid} gone after the host stopped",
                row.provider
            ),
            PATIENCE,
            || !alive(pid),
        );
    }
}

#[test]
fn isolated_the_host_survives_every_fault_in_the_zoo_and_jobs_keep_firing() {
    let (zoo, abort_build) = (artifacts().zoo.as_path(), artifacts().panic_abort.as_path());
    let rows = [
        Row {
            provider: "zoo-ticker",
            library: zoo,
            evidence: &[
                "runs isolated in process",
                // What the provider printed to stdout arrives on stderr, not in the protocol.
                "process stderr: zoo-ticker says hello on stdout",
                "[zoo-ticker] zoo-ticker started",
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-panic-new",
            library: zoo,
            evidence: &["zoo: constructor boom", "using the built-in ticker"],
            at_exit: &[],
        },
        Row {
            provider: "zoo-panic-start",
            library: zoo,
            evidence: &[
                "panicked in start",
                "the builtin ticker takes over",
                "(attempt 2)",
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-panic-reconcile",
            library: zoo,
            evidence: &["panicked in reconcile"],
            at_exit: &[],
        },
        Row {
            provider: "zoo-segfault-start",
            library: zoo,
            evidence: &[
                "killed by signal 11 (SIGSEGV)",
                "the builtin ticker takes over",
                RESTARTED,
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-abort-start",
            library: zoo,
            evidence: &[
                "killed by signal 6 (SIGABRT)",
                "the builtin ticker takes over",
                RESTARTED,
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-panic-abort-build",
            library: abort_build,
            evidence: &[
                "start boom in a panic = abort build",
                "killed by signal 6 (SIGABRT)",
                RESTARTED,
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-stack-overflow-start",
            library: zoo,
            evidence: &[
                "has overflowed its stack",
                "killed by signal 6 (SIGABRT)",
                RESTARTED,
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-spin-is-available",
            library: zoo,
            evidence: &[
                "is_available did not return within 1000ms; its process was killed",
                "using the built-in ticker",
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-hang-reconcile",
            library: zoo,
            evidence: &[
                "reconcile did not return within 1000ms; its process was killed",
                "the builtin ticker takes over",
                RESTARTED,
            ],
            at_exit: &[],
        },
        Row {
            provider: "zoo-hang-stop",
            library: zoo,
            evidence: &[],
            at_exit: &["stop did not return within 1000ms; its process was killed"],
        },
        Row {
            provider: "zoo-ignore-stop",
            library: zoo,
            evidence: &[],
            at_exit: &["the ticker thread did not stop in time"],
        },
        Row {
            provider: "zoo-flood",
            library: zoo,
            evidence: &["log lines in a second: suppressing"],
            at_exit: &[],
        },
        Row {
            provider: "zoo-stray-threads",
            library: zoo,
            evidence: &["start returned while the host is running", "(attempt 2)"],
            at_exit: &[],
        },
    ];
    // Each row is its own host; run them side by side.
    std::thread::scope(|scope| {
        for row in &rows {
            scope.spawn(move || check_row(row));
        }
    });
}

#[test]
fn in_process_a_crash_takes_the_whole_host_down_which_is_what_isolation_is_for() {
    use std::os::unix::process::ExitStatusExt;
    for (provider, library, signal) in [
        (
            "zoo-segfault-start",
            artifacts().zoo.as_path(),
            libc::SIGSEGV,
        ),
        (
            "zoo-panic-abort-build",
            artifacts().panic_abort.as_path(),
            libc::SIGABRT,
        ),
    ] {
        let home = home_for(provider, library, "in-process", 1);
        let (status, log) = Running::start(&home).wait_exit();
        assert_eq!(status.signal(), Some(signal), "{provider}: {log}");
    }
}

#[test]
fn in_process_stray_threads_ticking_beside_the_builtin_ticker_never_fire_an_occurrence_twice() {
    let home = home_for("zoo-stray-threads", &artifacts().zoo, "in-process", 3600);
    let out = marking_job(&home, "once-each");
    let running = Running::start(&home);
    running.wait_for_log("start returned while the host is running");
    // Two stray tickers every 100 ms and the built-in one, all claiming the same occurrences.
    wait_for("five occurrences", PATIENCE, || count_lines(&out) >= 5);
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(assert_each_occurrence_ran_once(&out) >= 5);
}

#[test]
fn a_provider_process_that_stops_answering_is_killed_and_replaced() {
    // No reconcile during the test: a reconcile past its deadline would kill the frozen
    // process first, and this test is about the watchdog.
    let home = home_for("zoo-ticker", &artifacts().zoo, "process", 3600);
    let out = marking_job(&home, "keeps-firing");
    let running = Running::start(&home);
    running.wait_for_log("[zoo-ticker] zoo-ticker started");
    let first = provider_pids(&running.log())[0];
    // Freeze the provider process: it cannot crash, it just stops answering.
    // SAFETY: kill(2) on a process this test's host started.
    assert_eq!(unsafe { libc::kill(first, libc::SIGSTOP) }, 0);
    let frozen = Instant::now();
    running.wait_for_log("it stopped answering (nothing from it for");
    let noticed = frozen.elapsed();
    running.wait_for_log("the builtin ticker takes over");
    running.wait_for_log("its process is gone; starting a new one");
    let fired = count_lines(&out);
    wait_for("fires after the replacement", PATIENCE, || {
        count_lines(&out) >= fired + 2
    });
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    // A generous bound on behaviour (the watchdog acts in about a second), not a timing target.
    assert!(
        noticed < Duration::from_secs(10),
        "noticed after {noticed:?}"
    );
    wait_for("the frozen process is gone", PATIENCE, || !alive(first));
}
