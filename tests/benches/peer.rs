//! Side by side, in one run: cronhost and tokio-cron-scheduler on the same job set (1,000
//! jobs, 6-field second-resolution schedules `S * * * * *`, about 17 due in each second), each
//! job starting the same child process (`true`). For each: lateness (scheduled instant → child
//! started) p50/p99/max, CPU seconds of the scheduler process per 1,000 fires, peak RSS.
//!
//! `CRONHOST_E2E_RELEASE=1 cargo bench -p cronhost-e2e --bench peer` (`-- --quick` for a short
//! window). The peer runs in a child process of this benchmark, so its memory and CPU are its
//! own. The floor (`cronhost_e2e::floor`, 17 `posix_spawn`s at each whole second from a bare
//! loop) shows what starting the same processes costs at the least.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cronhost::store::{JobSpec, Store};
use cronhost_e2e::{run_lateness_ms, Running, TestHome};

const JOBS: usize = 1000;
const PEER_CHILD: &str = "CRONHOST_PEER_CHILD";

fn schedule(i: usize) -> String {
    format!("{} * * * * *", i % 60)
}

fn window() -> u64 {
    if std::env::args().any(|a| a == "--quick") || std::env::var_os("CRONHOST_PEER_QUICK").is_some()
    {
        10
    } else {
        62
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// CPU seconds (user + system) and peak RSS (MiB) of a process, from /proc.
fn cpu_and_peak(pid: u32) -> (f64, f64) {
    (cronhost_e2e::cpu_secs(pid), cronhost_e2e::memory_mib(pid).1)
}

struct Figures {
    late: Vec<i64>,
    cpu_secs: f64,
    peak_mib: f64,
}

fn print(name: &str, mut figures: Figures) {
    figures.late.sort_unstable();
    let fires = figures.late.len();
    println!(
        "{name:<22} fires {fires:>6}  lateness ms p50 {:>4} p99 {:>4} max {:>4}  CPU s per 1,000 fires {:>6.3}  peak RSS {:>6.1} MiB",
        percentile(&figures.late, 0.5),
        percentile(&figures.late, 0.99),
        figures.late.last().copied().unwrap_or(0),
        figures.cpu_secs * 1000.0 / fires.max(1) as f64,
        figures.peak_mib,
    );
}

fn cronhost_run(seconds: u64) -> Figures {
    let home = TestHome::new();
    let store = Store::open(&home.home().store_file()).expect("store");
    let now = chrono::Utc::now();
    for i in 0..JOBS {
        let mut spec = JobSpec::new(&schedule(i), ["true"]);
        spec.name = Some(format!("job-{i}"));
        store.add_job(&spec, "UTC", now).expect("add job");
    }
    drop(store);
    let running = Running::start(&home);
    running.wait_for_log("running in");
    let (cpu_before, _) = cpu_and_peak(running.pid());
    let from = chrono::Utc::now().timestamp_millis() + 1_000;
    std::thread::sleep(Duration::from_secs(seconds));
    let to = chrono::Utc::now().timestamp_millis() - 1_000;
    let (cpu_after, peak_mib) = cpu_and_peak(running.pid());
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    let late = run_lateness_ms(&home, from, to);
    // CPU over the whole window, scaled to the fires counted inside it.
    let window_fires = late.len() as f64 * seconds as f64 / ((to - from) as f64 / 1000.0).max(1.0);
    Figures {
        cpu_secs: (cpu_after - cpu_before) * late.len() as f64 / window_fires.max(1.0),
        late,
        peak_mib,
    }
}

/// In the child process: run tokio-cron-scheduler on the job set and print one JSON line.
fn peer_child(seconds: u64) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let late = Arc::new(Mutex::new(Vec::<i64>::new()));
    let counting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    runtime.block_on(async {
        let scheduler = tokio_cron_scheduler::JobScheduler::new()
            .await
            .expect("scheduler");
        for i in 0..JOBS {
            let (late, counting) = (Arc::clone(&late), Arc::clone(&counting));
            let job = tokio_cron_scheduler::Job::new_async(
                schedule(i).as_str(),
                move |_id, _scheduler| {
                    let (late, counting) = (Arc::clone(&late), Arc::clone(&counting));
                    Box::pin(async move {
                        // The instant it was due: the whole second it fired in (it fires late by
                        // less than a second).
                        let started = match std::process::Command::new("true").spawn() {
                            Ok(mut child) => {
                                let at = chrono::Utc::now().timestamp_millis();
                                tokio::task::spawn_blocking(move || child.wait());
                                at
                            }
                            Err(_) => return,
                        };
                        if counting.load(std::sync::atomic::Ordering::Relaxed) {
                            late.lock().unwrap().push(started % 1000);
                        }
                    })
                },
            )
            .expect("job");
            scheduler.add(job).await.expect("add");
        }
        scheduler.start().await.expect("start");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let cpu_before = cpu_and_peak(std::process::id()).0;
        counting.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        counting.store(false, std::sync::atomic::Ordering::Relaxed);
        let (cpu_after, peak) = cpu_and_peak(std::process::id());
        let late = late.lock().unwrap().clone();
        println!(
            "{}",
            serde_json::json!({ "late": late, "cpu": cpu_after - cpu_before, "peak": peak })
        );
    });
    std::process::exit(0);
}

fn peer_run(seconds: u64) -> Figures {
    let began = Instant::now();
    let output = std::process::Command::new(std::env::current_exe().expect("bench binary"))
        .env(PEER_CHILD, seconds.to_string())
        .output()
        .expect("peer child runs");
    assert!(
        output.status.success(),
        "peer child: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value =
        serde_json::from_str(line.lines().last().unwrap_or("{}")).expect("peer JSON");
    let _ = began;
    Figures {
        late: json["late"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_i64())
            .collect(),
        cpu_secs: json["cpu"].as_f64().unwrap_or(0.0),
        peak_mib: json["peak"].as_f64().unwrap_or(0.0),
    }
}

fn main() {
    cronhost_e2e::floor::serve_if_asked();
    if let Some(seconds) = std::env::var_os(PEER_CHILD) {
        peer_child(seconds.to_string_lossy().parse().unwrap_or(10));
    }
    let seconds = window();
    cronhost_e2e::ready_to_measure();
    println!(
        "{JOBS} jobs `S * * * * *` (about 17 due each second), each starting `true`; {seconds} s window; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    print("cronhost (built-in)", cronhost_run(seconds));
    print("tokio-cron-scheduler", peer_run(seconds));
    // The floor: the same starts from the cheapest loop (17 at each whole second).
    let floor = cronhost_e2e::floor::burst_floor(17, seconds as usize, Duration::from_secs(1));
    print(
        "floor (posix_spawn loop)",
        Figures {
            late: floor.late_ms,
            cpu_secs: floor.cpu_secs,
            peak_mib: 0.0,
        },
    );
}
