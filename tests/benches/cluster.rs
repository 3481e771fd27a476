//! Cluster benchmark: claims per second on the PostgreSQL server, and fire lateness (scheduled
//! instant → command started) and the hosts' CPU per fire, with 1 and 3 hosts sharing
//! per-second jobs; and the machine's floor for 20 commands started at once, in the same run.
//!
//! `CRONHOST_E2E_RELEASE=1 cargo bench -p cronhost-e2e --bench cluster` (uses `DATABASE_URL`,
//! or starts a throwaway server). `CRONHOST_BENCH_SECONDS` sets the firing window (default 20;
//! 5 with `-- --quick`, as CI runs it). `CRONHOST_BENCH_POSTGRES_BEFORE=PATH` also measures 3
//! hosts running that build of the provider (an earlier version, for a before/after in one run).

use std::time::{Duration, Instant};

use cronhost_e2e::cluster::{epoch_ms, Cluster};
use cronhost_e2e::postgres::{database_url, unique_cluster};
use cronhost_e2e::wait_for;

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

/// Raw claim inserts, one transaction each, the way a host claims.
fn claim_throughput(url: &str, count: i64) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    client
        .batch_execute("CREATE SCHEMA IF NOT EXISTS cronhost")
        .expect("schema");
    // The provider's schema, created by a provider run; make sure it exists.
    let _ = client.batch_execute(
        "CREATE TABLE IF NOT EXISTS cronhost.claims (cluster text NOT NULL, job_id text NOT NULL, scheduled_at bigint NOT NULL, member text NOT NULL, claimed_at timestamptz NOT NULL DEFAULT now(), lease_until timestamptz NOT NULL, status text NOT NULL, started_at bigint, finished_at bigint, exit_code integer, error text, PRIMARY KEY (cluster, job_id, scheduled_at))",
    );
    let cluster = unique_cluster("bench-claims");
    let insert_all = |client: &mut postgres::Client| {
        let began = Instant::now();
        for n in 0..count {
            client
                .execute(
                    "INSERT INTO cronhost.claims (cluster, job_id, scheduled_at, member, lease_until, status)
                     VALUES ($1, 'j1', $2, 'bench', now() + make_interval(secs => 30), 'claimed') ON CONFLICT DO NOTHING",
                    &[&cluster, &n],
                )
                .expect("insert");
        }
        began.elapsed()
    };
    let elapsed = insert_all(&mut client);
    // The losing side of a race: the same keys again, all conflicts.
    let lost = insert_all(&mut client);
    client
        .execute(
            "DELETE FROM cronhost.claims WHERE cluster = $1",
            &[&cluster],
        )
        .expect("clean up");
    println!(
        "claims: {count} won in {:.2}s = {:.0}/s; {count} lost (conflicts) in {:.2}s = {:.0}/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        lost.as_secs_f64(),
        count as f64 / lost.as_secs_f64()
    );
}

fn fire_lateness(hosts: usize, jobs: usize, seconds: u64, library: Option<&std::path::Path>) {
    let mut cluster = Cluster::new("bench", hosts, database_url(), 10, jobs);
    if let Some(library) = library {
        for host in &cluster.hosts {
            host.home.install(library, "postgres.so");
        }
    }
    for index in 0..hosts {
        cluster.start(index, 0);
    }
    wait_for("firing", Duration::from_secs(60), || {
        cluster.claims().len() >= jobs
    });
    let pids: Vec<u32> = cluster
        .hosts
        .iter()
        .filter_map(|host| host.child.as_ref().map(|child| child.id()))
        .collect();
    let cpu = || {
        pids.iter()
            .map(|pid| cronhost_e2e::cpu_secs(*pid))
            .sum::<f64>()
    };
    // The CPU of the whole window, whose fires are those of the whole seconds inside it.
    let cpu_before = cpu();
    let from = epoch_ms() + 1_000;
    std::thread::sleep(Duration::from_secs(seconds));
    let to = epoch_ms() - 1_000;
    let cpu_used = cpu() - cpu_before;
    let mut client = postgres::Client::connect(database_url(), postgres::NoTls).expect("connect");
    let rows = client
        .query(
            "SELECT started_at - scheduled_at FROM cronhost.claims
             WHERE cluster = $1 AND scheduled_at BETWEEN $2 AND $3 AND started_at IS NOT NULL",
            &[&cluster.name, &from, &to],
        )
        .expect("query");
    cluster.stop_all();
    let mut lateness: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
    lateness.sort_unstable();
    let window = (to - from) as f64 / 1000.0;
    let which = library.map_or(String::new(), |l| format!(" [{}]", l.display()));
    let fires_in_window = (jobs as f64) * (seconds as f64);
    println!(
        "{hosts} host(s){which}, {jobs} jobs every second, {window:.0}s: {} fires ({:.0}/s); lateness p50 {} ms, p99 {} ms, max {} ms; hosts' CPU {:.3} s per 1,000 fires",
        lateness.len(),
        lateness.len() as f64 / window,
        percentile(&lateness, 0.50),
        percentile(&lateness, 0.99),
        lateness.last().copied().unwrap_or(0),
        cpu_used / fires_in_window * 1000.0,
    );
}

/// What this machine needs to start `jobs` commands at once (the cheapest loop, in the same
/// run): the floor under any host's lateness for that many fires in one second.
fn floor(jobs: usize, bursts: usize) {
    let floor = cronhost_e2e::floor::burst_floor(jobs, bursts, Duration::from_secs(1));
    let mut late = floor.late_ms;
    late.sort_unstable();
    println!(
        "floor (posix_spawn loop, {jobs} at once, {bursts} bursts): lateness p50 {} ms, p99 {} ms, max {} ms",
        percentile(&late, 0.50),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(0),
    );
}

fn main() {
    cronhost_e2e::floor::serve_if_asked();
    let quick = std::env::args().any(|a| a == "--quick");
    let seconds = std::env::var("CRONHOST_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 5 } else { 20 });
    let url = database_url();
    claim_throughput(url, if quick { 500 } else { 5_000 });
    floor(20, seconds as usize);
    for hosts in [1, 3] {
        fire_lateness(hosts, 20, seconds, None);
    }
    // One job alone: wake-up, claim and start, without 19 other fires queued before it.
    fire_lateness(3, 1, seconds, None);
    if let Some(before) = std::env::var_os("CRONHOST_BENCH_POSTGRES_BEFORE") {
        let before = std::path::Path::new(&before);
        fire_lateness(3, 20, seconds, Some(before));
        fire_lateness(3, 1, seconds, Some(before));
    }
}
