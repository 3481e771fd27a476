//! Several hosts sharing one job set through the PostgreSQL provider, against a real server:
//! every occurrence runs exactly once, a killed host's run is lost and the others carry on, a
//! database outage never causes a double run, and skewed clocks do not either.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use cronhost_e2e::cluster::{epoch_ms, proxied_url, server_address, Cluster};
use cronhost_e2e::postgres::database_url;
use cronhost_e2e::proxy::Proxy;
use cronhost_e2e::{artifacts, wait_for, TestHome};

const PATIENCE: Duration = Duration::from_secs(60);

/// The cluster tests run one at a time: each drives several daemons, and on a small machine
/// running them together would measure the machine, not the cluster.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn assert_no_double_run(cluster: &Cluster) -> usize {
    let executions = cluster.executions();
    let doubles: Vec<_> = executions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubles.is_empty(),
        "occurrences ran more than once: {doubles:?}"
    );
    executions.len()
}

/// Every per-second job has a succeeded claim for every whole second in [from, to] (ms).
fn assert_every_occurrence(cluster: &Cluster, jobs: usize, from: i64, to: i64) {
    let claims = cluster.claims();
    let listed = cluster.hosts[0].home.cronhost(&["jobs", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let ids: Vec<String> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| job["name"].as_str().unwrap().starts_with("every-second-"))
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), jobs);
    let mut missing = Vec::new();
    let first = from / 1000 + 1;
    let last = to / 1000 - 1;
    for job in ids {
        for second in first..=last {
            match claims.get(&(job.clone(), second * 1000)) {
                Some((_, status)) if status == "succeeded" => {}
                other => missing.push((job.clone(), second, other.cloned())),
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} occurrence(s) not run exactly once: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn three_hosts_run_every_occurrence_exactly_once() {
    let _serial = serial();
    let mut cluster = Cluster::new("three", 3, database_url(), 5, 20);
    for index in 0..3 {
        cluster.start(index, 0);
    }
    wait_for("all three members in the database", PATIENCE, || {
        let status = cluster.hosts[0].home.cronhost(&["status"]);
        String::from_utf8_lossy(&status.stdout).contains("(3 member(s))")
    });
    let from = epoch_ms();
    std::thread::sleep(Duration::from_secs(30));
    let to = epoch_ms();
    cluster.stop_all();
    assert_every_occurrence(&cluster, 20, from, to);
    let executed = assert_no_double_run(&cluster);
    assert!(executed >= 20 * 28, "only {executed} executions in 30 s");
    let members: BTreeSet<String> = cluster.claims().values().map(|(m, _)| m.clone()).collect();
    assert!(
        members.len() >= 2,
        "the work spread over the members: {members:?}"
    );
    let runs = cluster.hosts[1]
        .home
        .cronhost(&["runs", "--cluster", "--limit", "5"]);
    let text = String::from_utf8_lossy(&runs.stdout);
    assert!(
        text.contains("MEMBER") && text.contains("succeeded"),
        "{text}"
    );
}

#[test]
fn a_killed_host_loses_its_run_and_the_others_carry_on() {
    let _serial = serial();
    let mut cluster = Cluster::new("kill", 3, database_url(), 3, 5);
    let slow_marker = cluster.dir.path().join("slow-started");
    let line = format!(
        "echo started >> '{}'; exec sleep 41.5",
        slow_marker.display()
    );
    let slow = cluster.hosts[0].home.add_job(&[
        "*/20 * * * * *",
        "--name",
        "slow",
        "--shell",
        "--",
        &line,
    ]);
    cluster.share_jobs();
    for index in 0..3 {
        cluster.start(index, 0);
    }
    // Wait for the slow job to be running somewhere; kill that host with SIGKILL.
    let mut victim = None;
    wait_for("the slow job to run", PATIENCE, || {
        victim = cluster
            .claims()
            .iter()
            .find(|((job, _), (_, status))| *job == slow && status == "running")
            .map(|((_, at), (member, _))| (*at, member.clone()));
        victim.is_some()
    });
    let (slow_at, member) = victim.unwrap();
    let pid: u32 = member.split('/').nth(1).unwrap().parse().unwrap();
    let index = cluster
        .hosts
        .iter()
        .position(|h| h.child.as_ref().is_some_and(|c| c.id() == pid))
        .unwrap();
    let mut child = cluster.hosts[index].child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = epoch_ms();

    wait_for("the killed host's run to be lost", PATIENCE, || {
        cluster
            .claims()
            .get(&(slow.clone(), slow_at))
            .is_some_and(|(_, status)| status == "lost")
    });
    // After the lease, every occurrence fires on the survivors.
    let from = killed_at + 3_000;
    std::thread::sleep(Duration::from_secs(8));
    let to = epoch_ms();
    cluster.stop_all();
    let _ = Command::new("pkill")
        .args(["-x", "-f", "sleep 41.5"])
        .status();
    assert_every_occurrence(&cluster, 5, from, to);
    assert_no_double_run(&cluster);
    let claims = cluster.claims();
    assert!(
        claims
            .iter()
            .filter(|((_, at), _)| *at > from)
            .all(|(_, (m, _))| *m != member),
        "the dead member claimed nothing after its death"
    );
    let survivors: Vec<String> = (0..3)
        .filter(|i| *i != index)
        .map(|i| cluster.log(i))
        .collect();
    assert!(
        survivors
            .iter()
            .any(|log| log.contains("is lost: its lease expired")),
        "a survivor reported the loss"
    );
}

#[test]
fn a_database_outage_never_causes_a_double_run_and_firing_resumes_by_itself() {
    let _serial = serial();
    let proxy = Proxy::start(server_address(database_url()));
    let proxied = proxied_url(database_url(), proxy.port);
    let mut cluster = Cluster::new("outage", 2, &proxied, 5, 5);
    cluster.start(0, 0);
    cluster.start(1, 0);
    wait_for("firing", PATIENCE, || cluster.claims().len() >= 10);
    proxy.cut();
    let cut_at = epoch_ms();
    wait_for("the outage to reach the hosts", PATIENCE, || {
        cluster.log(0).contains("database unreachable")
    });
    // The provider's own status comes from a fresh child connecting through the cut proxy;
    // the first attempt may see the connection closed before it sees it unreachable.
    let status = || {
        String::from_utf8_lossy(&cluster.hosts[0].home.cronhost(&["status"]).stdout).into_owned()
    };
    wait_for("status to show the error", PATIENCE, || {
        status().contains("database unreachable")
    });
    let during = cluster
        .claims()
        .keys()
        .filter(|(_, at)| *at > cut_at + 1_000)
        .count();
    std::thread::sleep(Duration::from_secs(5));
    proxy.restore();
    let restored_at = epoch_ms();
    wait_for("firing to resume without a restart", PATIENCE, || {
        cluster
            .claims()
            .keys()
            .any(|(_, at)| *at > restored_at + 1_000)
    });
    let from = restored_at + 2_000;
    std::thread::sleep(Duration::from_secs(4));
    let to = epoch_ms();
    cluster.stop_all();
    assert_eq!(
        during, 0,
        "nothing was claimed while the database was unreachable"
    );
    assert_no_double_run(&cluster);
    assert_every_occurrence(&cluster, 5, from, to);
    assert!(cluster.log(0).contains("connected to the database"));
}

#[test]
fn on_db_down_local_keeps_firing_alone_and_says_so() {
    let _serial = serial();
    let proxy = Proxy::start(server_address(database_url()));
    let mut cluster = Cluster::new("local", 1, &proxied_url(database_url(), proxy.port), 5, 2);
    let config =
        std::fs::read_to_string(cluster.hosts[0].home.path().join("cronhost.toml")).unwrap();
    cluster.hosts[0]
        .home
        .write_config(&format!("{config}on_db_down = \"local\"\n"));
    cluster.start(0, 0);
    wait_for("firing", PATIENCE, || cluster.claims().len() >= 4);
    proxy.cut();
    let cut_at = epoch_ms();
    wait_for("the loud warning", PATIENCE, || {
        cluster.log(0).contains("DATABASE UNREACHABLE")
    });
    let executed_before = cluster.executions().len();
    wait_for("local fires during the outage", PATIENCE, || {
        cluster.executions().len() >= executed_before + 4
    });
    proxy.restore();
    cluster.stop_all();
    assert!(
        cluster
            .claims()
            .keys()
            .all(|(_, at)| *at < cut_at + 1_000 || *at > cut_at + 3_000),
        "no claims were made while it was cut off"
    );
    assert_no_double_run(&cluster);
}

#[test]
fn repeat_limits_count_across_the_cluster() {
    let _serial = serial();
    let mut cluster = Cluster::new("repeat", 2, database_url(), 5, 0);
    let marks = cluster.marks.clone();
    let line = format!(
        "echo \"$CRONHOST_JOB_ID $CRONHOST_SCHEDULED_AT\" >> '{}'",
        marks.display()
    );
    let id = cluster.hosts[0].home.add_job(&[
        "*/1 * * * * *",
        "--name",
        "thrice",
        "--repeat",
        "3",
        "--shell",
        "--",
        &line,
    ]);
    cluster.share_jobs();
    cluster.start(0, 0);
    cluster.start(1, 0);
    wait_for("three fires", PATIENCE, || cluster.executions().len() >= 3);
    wait_for("both hosts to complete the job", PATIENCE, || {
        cluster.hosts.iter().all(|host| {
            let show = host.home.cronhost(&["jobs", "show", &id, "--json"]);
            serde_json::from_slice::<serde_json::Value>(&show.stdout).unwrap()["completed_at"]
                .is_string()
        })
    });
    std::thread::sleep(Duration::from_secs(2));
    cluster.stop_all();
    assert_eq!(
        assert_no_double_run(&cluster),
        3,
        "--repeat 3 fires three times across the cluster"
    );
}

#[test]
fn a_cluster_host_whose_provider_is_broken_fires_nothing_and_says_so() {
    let _serial = serial();
    let mut cluster = Cluster::new("broken", 1, database_url(), 5, 1);
    let home = &cluster.hosts[0].home;
    let config = std::fs::read_to_string(home.path().join("cronhost.toml")).unwrap();
    home.write_config(&format!("{config}lease_sec = 5\n")); // a typo: the provider refuses its config
    cluster.start(0, 0);
    let home = &cluster.hosts[0].home;
    wait_for("the paused status", PATIENCE, || {
        let text = String::from_utf8_lossy(&home.cronhost(&["status"]).stdout).into_owned();
        text.contains("paused, nothing fires") && text.contains("lease_sec")
    });
    let tick = home.cronhost(&["tick"]);
    assert_eq!(tick.status.code(), Some(2), "a local tick is refused");
    assert!(
        String::from_utf8_lossy(&tick.stderr).contains("fires only through provider `postgres`")
    );
    std::thread::sleep(Duration::from_secs(2));
    cluster.stop_all();
    assert!(
        cluster.executions().is_empty(),
        "nothing fired without a claim"
    );
    assert!(cluster.log(0).contains("NOTHING FIRES"));
}

#[test]
fn is_available_exactly_when_a_url_is_configured() {
    let home = TestHome::new();
    home.install(&artifacts().postgres, "postgres.so");
    let available = |home: &TestHome| {
        let output = home.cronhost(&["providers", "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "postgres")
            .unwrap()["available"]
            .clone()
    };
    assert_eq!(available(&home), false, "no url");
    // An unreachable address: availability never touches the network.
    home.write_config("[providers.postgres]\nurl = \"postgres://nobody@192.0.2.1:1/none\"\n");
    assert_eq!(available(&home), true);
}

#[test]
fn a_host_with_a_skewed_clock_never_causes_a_double_run() {
    let _serial = serial();
    let mut cluster = Cluster::new("skew", 2, database_url(), 5, 5);
    cluster.start(0, 0);
    cluster.start(1, 2_500); // its clock runs 2.5 s ahead
    wait_for("firing", PATIENCE, || cluster.claims().len() >= 10);
    let from = epoch_ms();
    std::thread::sleep(Duration::from_secs(8));
    let to = epoch_ms();
    cluster.stop_all();
    assert_no_double_run(&cluster);
    assert_every_occurrence(&cluster, 5, from, to);
}

/// Lateness (ms, command started minus scheduled instant) of every claim in [from, to]; `None`
/// where no start was written back.
fn lateness(cluster: &Cluster, from: i64, to: i64) -> Vec<(String, i64, Option<i64>)> {
    let mut client = postgres::Client::connect(database_url(), postgres::NoTls).unwrap();
    client
        .query(
            "SELECT job_id, scheduled_at, started_at - scheduled_at FROM cronhost.claims
             WHERE cluster = $1 AND scheduled_at BETWEEN $2 AND $3 ORDER BY scheduled_at",
            &[&cluster.name, &from, &to],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

/// A scan every 20 s (`poll_ms`, and a tick interval to match so the heartbeat allows it), yet
/// every occurrence of per-second jobs runs, on time: the provider sleeps until the host says
/// the next occurrence is due (API 1.2's `next_due_in`). Scanning on the cadence alone, as
/// before, ran at most one catch-up per job every 20 s and most seconds had no run at all.
#[test]
fn a_long_poll_cadence_no_longer_delays_the_cluster_s_fires() {
    let _serial = serial();
    let mut cluster = Cluster::with_settings(
        "long-poll",
        3,
        database_url(),
        30,
        2,
        ("tick_interval_ms = 20000\n", "poll_ms = 20000\n"),
    );
    for index in 0..3 {
        cluster.start(index, 0);
    }
    wait_for("firing", PATIENCE, || cluster.claims().len() >= 2);
    let from = epoch_ms();
    std::thread::sleep(Duration::from_secs(6));
    let to = epoch_ms();
    // Leaving writes the outcomes back.
    cluster.stop_all();
    assert_every_occurrence(&cluster, 2, from, to);
    assert_no_double_run(&cluster);
    let late: Vec<_> = lateness(&cluster, from, to)
        .into_iter()
        .filter(|(_, _, ms)| ms.is_none_or(|ms| !(0..2_000).contains(&ms)))
        .collect();
    assert!(
        late.is_empty(),
        "started 2 s or more after the scheduled instant (the cadence is 20 s): {late:?}"
    );
}

/// A job added while the provider sleeps (nothing scheduled, the next scan a minute away)
/// fires within seconds: the host nudges the stop signal the provider waits on when the job
/// set changes (for an isolated provider, the child nudges its own on `on_jobs_changed`).
#[test]
fn a_job_added_while_the_provider_sleeps_fires_without_waiting_for_the_cadence() {
    let _serial = serial();
    for isolation in ["in-process", "process"] {
        let mut cluster = Cluster::with_settings(
            "added",
            1,
            database_url(),
            30,
            0,
            (
                "tick_interval_ms = 60000\n",
                &format!("poll_ms = 60000\nisolation = \"{isolation}\"\n"),
            ),
        );
        cluster.start(0, 0);
        wait_for("the member in the database", PATIENCE, || {
            let status = cluster.hosts[0].home.cronhost(&["status"]);
            String::from_utf8_lossy(&status.stdout).contains("(1 member(s))")
        });
        let added = std::time::Instant::now();
        cluster.add_per_second_jobs(0, 1);
        wait_for("the added job's first claim", PATIENCE, || {
            !cluster.claims().is_empty()
        });
        let waited = added.elapsed();
        cluster.stop_all();
        assert!(
            waited < Duration::from_secs(20),
            "{isolation}: the added job waited {waited:?} for its first run (the cadence is 60 s)\n{}",
            cluster.log(0)
        );
    }
}

/// A host hands a scan's won claims to its engine in one `fire_occurrences` call (API 1.3);
/// an isolated provider's batch crosses to the host in messages of at most 64 occurrences.
/// With 80 jobs due every second on one isolated host, each scan's batch takes two messages,
/// and every occurrence still runs exactly once.
#[test]
fn an_isolated_host_fires_a_batch_larger_than_one_message_exactly_once() {
    let _serial = serial();
    let mut cluster = Cluster::with_settings(
        "batch",
        1,
        database_url(),
        5,
        80,
        ("", "poll_ms = 50\nisolation = \"process\"\n"),
    );
    cluster.start(0, 0);
    wait_for("the member in the database", PATIENCE, || {
        let status = cluster.hosts[0].home.cronhost(&["status"]);
        String::from_utf8_lossy(&status.stdout).contains("(1 member(s))")
    });
    let from = epoch_ms();
    std::thread::sleep(Duration::from_secs(6));
    let to = epoch_ms();
    cluster.stop_all();
    assert_every_occurrence(&cluster, 80, from, to);
    let executed = assert_no_double_run(&cluster);
    assert!(executed >= 80 * 4, "only {executed} executions in 6 s");
}
