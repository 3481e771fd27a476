//! Whole-daemon figures, from real `cronhost run` processes and real child processes: fire
//! lateness (scheduled instant → command started) for lone jobs, for 1,000 jobs a minute and
//! for 100 jobs due in the same second; start-up to first tick and memory with 100,000 jobs;
//! idle memory with 10; SIGTERM → exit.
//!
//! `CRONHOST_E2E_RELEASE=1 cargo bench -p cronhost-e2e --bench daemon` for the figures in
//! BENCHMARKS.md; `-- --quick` (as CI runs it) shortens every window and scales 100,000 jobs
//! down to 10,000; `-- --only NAME` runs one group of figures (`lone`, `minute`, `burst`, `in-process`,
//! `provider-start`, `scale`, `million`, `idle`; `million` is a million jobs, 2,000 with
//! `--quick`). The burst figures are printed beside the machine's floor for the same starts
//! (`cronhost_e2e::floor`), measured in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use cronhost::store::{JobSpec, Store};
use cronhost_e2e::{memory_mib, run_lateness_ms, wait_for, Running, TestHome};

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Print a lateness distribution.
fn report(what: &str, late: Vec<i64>) {
    println!("{what}: {}", distribution(late));
}

/// A lateness distribution in one line.
fn distribution(mut late: Vec<i64>) -> String {
    late.sort_unstable();
    let within = |ms: i64| {
        late.iter().filter(|l| **l <= ms).count() as f64 * 100.0 / late.len().max(1) as f64
    };
    format!(
        "{} fires; lateness ms: min {} p50 {} p90 {} p99 {} max {}; ≤1 ms {:.0}%, ≤5 ms {:.0}%",
        late.len(),
        late.first().copied().unwrap_or(0),
        percentile(&late, 0.5),
        percentile(&late, 0.9),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0),
        within(1),
        within(5),
    )
}

/// Print cronhost's lateness for a burst beside the machine's floor for the same starts,
/// measured right after it, and the ratio of their p50 and p99.
fn report_with_floor(what: &str, late: Vec<i64>, jobs: usize, bursts: usize) {
    let floor = cronhost_e2e::floor::burst_floor(jobs, bursts, Duration::from_secs(1));
    let ratio = |p: f64| {
        let mut ours = late.clone();
        let mut floors = floor.late_ms.clone();
        ours.sort_unstable();
        floors.sort_unstable();
        // Whole milliseconds: a floor of 0 counts as 1 so the ratio stays finite.
        percentile(&ours, p).max(1) as f64 / percentile(&floors, p).max(1) as f64
    };
    println!("{what}: {}", distribution(late.clone()));
    println!(
        "  floor (posix_spawn loop, {jobs} at once, {bursts} bursts, CPU {:.3} s per 1,000 starts): {}",
        floor.cpu_secs * 1000.0 / floor.late_ms.len().max(1) as f64,
        distribution(floor.late_ms.clone())
    );
    println!(
        "  cronhost / floor: p50 {:.2}×, p99 {:.2}×",
        ratio(0.5),
        ratio(0.99)
    );
}

/// Add `count` jobs straight into the home's store (one transaction each); `schedule(i)`.
fn add_jobs(home: &TestHome, count: usize, schedule: impl Fn(usize) -> String) -> Duration {
    let store = Store::open(&home.home().store_file()).expect("store");
    let now = chrono::Utc::now();
    let began = Instant::now();
    for i in 0..count {
        let mut spec = JobSpec::new(&schedule(i), ["true"]);
        spec.name = Some(format!("job-{i}"));
        store.add_job(&spec, "UTC", now).expect("add job");
    }
    began.elapsed()
}

fn epoch_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Run a daemon over `home` for `seconds`; the lateness of what fired in between.
fn fire_window(home: &TestHome, seconds: u64) -> Vec<i64> {
    home.write_config("[cron]\ntick_interval_ms = 1000\n");
    let running = Running::start(home);
    running.wait_for_log("running in");
    let from = epoch_ms() + 1_000;
    std::thread::sleep(Duration::from_secs(seconds));
    let to = epoch_ms() - 1_000;
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    run_lateness_ms(home, from, to)
}

/// Start a daemon over `home`; time to its first clean tick (`ticker_last_success` written).
fn start_to_first_tick(home: &TestHome) -> (Running, Duration) {
    let success = home.state_dir().join("ticker_last_success");
    let _ = std::fs::remove_file(&success);
    let began = Instant::now();
    let running = Running::start(home);
    wait_for("the first tick", Duration::from_secs(60), || {
        success.exists()
    });
    (running, began.elapsed())
}

fn scale(jobs: usize) {
    let home = TestHome::new();
    // Daily jobs at spread minutes: none fires during the measurement.
    let added = add_jobs(&home, jobs, |i| {
        format!("{} {} * * *", i % 60, (i / 60) % 24)
    });
    println!(
        "store: {jobs} jobs added one transaction each in {:.1}s ({:.0} adds/s)",
        added.as_secs_f64(),
        jobs as f64 / added.as_secs_f64()
    );
    home.write_config("[cron]\ntick_interval_ms = 1000\n");
    let mut starts = Vec::new();
    for _ in 0..3 {
        let (running, took) = start_to_first_tick(&home);
        starts.push(took.as_millis());
        std::thread::sleep(Duration::from_secs(2));
        let (rss, peak) = memory_mib(running.pid());
        if starts.len() == 3 {
            println!(
                "{jobs} jobs: RSS {rss:.1} MiB, peak {peak:.1} MiB (2 s after the first tick)"
            );
        }
        let (status, log) = running.terminate();
        assert_eq!(status.code(), Some(0), "{log}");
    }
    starts.sort_unstable();
    println!("{jobs} jobs: process start → first clean tick: {starts:?} ms (3 runs)");
}

// ---- A million jobs (issue 16) ------------------------------------------------------------

/// Write a `jobs export` document of `count` jobs `job-0`, `job-1`, ... with ids `j1`, `j2`,
/// ... to `file`, each firing on a 29 February at its own minute (none fires while the figures
/// are taken), with no next run, so the import works out each one. Written as it goes: the
/// commands' peak RSS below comes from `wait4`, which counts this process's memory at the
/// moment it started them, so this process stays small.
fn write_export_document(file: &Path, count: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).expect("export document"));
    let mut write = |text: &str| out.write_all(text.as_bytes()).expect("write");
    write(r#"{"format":"cronhost-jobs","version":1,"jobs":["#);
    for i in 0..count {
        let schedule = format!("{} {} 29 2 *", i % 60, (i / 60) % 24);
        let id = format!("j{}", base36(i as u64 + 1));
        if i > 0 {
            write(",");
        }
        write(&format!(
            r#"{{"id":"{id}","name":"job-{i}","command":["true"],"shell":false,"workdir":null,"env":{{}},"schedule_text":"{schedule}","schedule":"cron:{schedule}","timezone":"UTC","repeat_limit":null,"completed_count":0,"enabled":true,"paused_at":null,"pause_reason":null,"next_run":null,"timeout_secs":null,"catch_up":"once","overlap":"skip","created_at":"2026-12-01T00:00:00Z","completed_at":null}}"#
        ));
    }
    write("]}\n");
    out.flush().expect("flush");
}

fn base36(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).expect("ascii")
}

/// Run `cronhost ARGS` over `home` to completion (its output dropped); its wall time and
/// peak RSS in MiB (the kernel's `ru_maxrss`, from `wait4`). `status` exits 1 with no daemon
/// running: any exit code up to 1 counts as done.
// The child is reaped by `wait4` itself, to read its `rusage`.
#[allow(clippy::zombie_processes)]
fn timed_command(home: &TestHome, args: &[&str]) -> (Duration, f64) {
    let began = Instant::now();
    let child = home
        .command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cronhost");
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 reaps our own child and fills both.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let took = began.elapsed();
    assert_eq!(reaped, child.id() as libc::pid_t, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) <= 1,
        "cronhost {args:?} failed (wait status {status})"
    );
    (took, usage.ru_maxrss as f64 / 1024.0)
}

/// A million jobs (2,000 in quick mode): `jobs import` of them all, then the daemon's start
/// → first clean tick, peak and steady RSS, then `status` and a page and the whole of
/// `jobs list`.
fn million(jobs: usize) {
    let home = TestHome::new();
    let file = home.path().join("jobs.json");
    write_export_document(&file, jobs);
    let (took, peak) = timed_command(&home, &["jobs", "import", &file.to_string_lossy()]);
    let _ = std::fs::remove_file(&file);
    let listed = home.cronhost(&[
        "jobs",
        "list",
        "--limit",
        "1",
        "--after",
        &format!("j{}", base36(jobs as u64 - 1)),
    ]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&format!("job-{}", jobs - 1)),
        "every job imported"
    );
    println!(
        "{jobs} jobs: `jobs import` in {:.1} s ({:.0} jobs/s), peak RSS {peak:.0} MiB",
        took.as_secs_f64(),
        jobs as f64 / took.as_secs_f64()
    );
    println!(
        "(a command's peak RSS below is at least this benchmark's own, {:.1} MiB: wait4 counts the memory it started from)",
        memory_mib(std::process::id()).1
    );
    home.write_config("[cron]\ntick_interval_ms = 1000\n");
    let mut starts = Vec::new();
    for round in 0..3 {
        let (running, took) = start_to_first_tick(&home);
        starts.push(took.as_millis());
        std::thread::sleep(Duration::from_secs(2));
        let (rss, peak) = memory_mib(running.pid());
        if round == 2 {
            println!(
                "{jobs} jobs: RSS {rss:.1} MiB, peak {peak:.1} MiB (2 s after the first tick)"
            );
        }
        let (status, log) = running.terminate();
        assert_eq!(status.code(), Some(0), "{log}");
    }
    println!("{jobs} jobs: process start → first clean tick: {starts:?} ms (3 runs in order)");
    // A page near the end: two index ranges, however far in.
    let near_the_end = format!("j{}", base36(jobs.saturating_sub(1000) as u64));
    for args in [
        &["status", "--json"][..],
        &["jobs", "list", "--limit", "1000", "--after", &near_the_end],
        &["jobs", "list"],
        &["jobs", "list", "--json"],
    ] {
        let (took, peak) = timed_command(&home, args);
        println!(
            "{jobs} jobs: `cronhost {}` in {:.2} s, peak RSS {peak:.1} MiB",
            args.join(" "),
            took.as_secs_f64()
        );
    }
}

/// Process start → first clean tick with a provider selected and a plugins dir of 50 files
/// (10 provider libraries, 40 other files): what discovery adds to every start.
fn provider_start() {
    let home = TestHome::new();
    let providers = [
        &cronhost_e2e::artifacts().example,
        &cronhost_e2e::artifacts().zoo,
    ];
    for n in 0..10 {
        home.install(providers[n % 2], &format!("provider-{n:02}.so"));
    }
    for n in 0..40 {
        home.write_plugin_file(&format!("notes-{n:02}.txt"), b"not a library");
    }
    add_jobs(&home, 10, |i| format!("{} 3 * * *", i));
    home.write_config("[cron]\nprovider = \"example\"\n");
    let mut starts = Vec::new();
    for _ in 0..5 {
        let (running, took) = start_to_first_tick(&home);
        starts.push(took.as_millis());
        let (status, log) = running.terminate();
        assert_eq!(status.code(), Some(0), "{log}");
        assert!(log.contains("provider `example`"), "{log}");
    }
    println!(
        "provider `example` selected, 50 files in plugins.d: process start → first clean tick: {starts:?} ms (5 runs in order; the first is cold)"
    );
}

fn idle_and_stop() {
    let home = TestHome::new();
    add_jobs(&home, 10, |i| format!("{} 3 * * *", i));
    home.write_config("[cron]\n");
    let mut stops = Vec::new();
    for round in 0..5 {
        let (running, _) = start_to_first_tick(&home);
        if round == 0 {
            std::thread::sleep(Duration::from_secs(3));
            let (rss, peak) = memory_mib(running.pid());
            println!("10 jobs, idle: RSS {rss:.1} MiB, peak {peak:.1} MiB");
        }
        let began = Instant::now();
        let (status, log) = running.terminate();
        stops.push(began.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status.code(), Some(0), "{log}");
    }
    stops.sort_by(f64::total_cmp);
    println!(
        "SIGTERM → exit, no job running: {} ms (5 runs)",
        stops
            .iter()
            .map(|ms| format!("{ms:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The same burst with an embedded host running the jobs in-process (a handler each): what
/// the host itself adds when no process has to start.
fn in_process_burst(seconds: u64) {
    let dir = tempfile::tempdir().expect("temporary home");
    let host = cronhost::Host::builder()
        .home(dir.path())
        .build()
        .expect("host");
    for i in 0..100 {
        host.schedule(
            &format!("job-{i}"),
            "*/5 * * * * *",
            |_: &mut cronhost::RunContext| {},
        )
        .expect("schedule job");
    }
    host.start().expect("start");
    let from = chrono::Utc::now() + chrono::Duration::seconds(1);
    std::thread::sleep(Duration::from_secs(seconds));
    let to = chrono::Utc::now() - chrono::Duration::seconds(1);
    assert!(host.stop(), "stopped in time");
    let late = host
        .runs(None, 1_000_000)
        .expect("runs")
        .into_iter()
        .filter(|run| run.scheduled_at >= from && run.scheduled_at <= to)
        .filter_map(|run| run.lateness_ms)
        .collect();
    report(
        "100 in-process jobs due in the same second (embedded host, handlers)",
        late,
    );
}

fn main() {
    cronhost_e2e::floor::serve_if_asked();
    let quick = quick();
    let window = if quick { 8 } else { 62 };
    let artifacts = cronhost_e2e::ready_to_measure();
    println!(
        "cronhost daemon figures ({} build{}, {} cores)",
        if artifacts.cronhost.to_string_lossy().contains("release") {
            "release"
        } else {
            "debug"
        },
        if quick { ", quick mode" } else { "" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    assert!(Path::new(&artifacts.cronhost).exists());
    // `-- --only NAME` runs one group: lone, minute, burst, in-process, provider-start, scale,
    // million, idle.
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let wanted = |name: &str| only.is_none_or(|o| o == name);

    if wanted("lone") {
        let home = TestHome::new();
        add_jobs(&home, 10, |i| format!("{i}-59/10 * * * * *"));
        report(
            "10 jobs every 10 s, one due each second (never two at once)",
            fire_window(&home, window),
        );
    }
    if wanted("minute") {
        let home = TestHome::new();
        add_jobs(&home, 1000, |i| format!("{} * * * * *", i % 60));
        report_with_floor(
            "1,000 jobs due per minute (about 17 in each second)",
            fire_window(&home, window),
            17,
            if quick { 3 } else { 20 },
        );
    }

    if wanted("burst") {
        let home = TestHome::new();
        add_jobs(&home, 100, |_| "*/5 * * * * *".to_owned());
        report_with_floor(
            "100 jobs due in the same second (every 5 s)",
            fire_window(&home, if quick { 12 } else { 32 }),
            100,
            if quick { 2 } else { 6 },
        );
    }

    if wanted("in-process") {
        in_process_burst(if quick { 12 } else { 32 });
    }
    if wanted("provider-start") {
        provider_start();
    }
    if wanted("scale") {
        scale(if quick { 10_000 } else { 100_000 });
    }
    if wanted("million") {
        million(if quick { 2_000 } else { 1_000_000 });
    }
    if wanted("idle") {
        idle_and_stop();
    }
}
