//! Large job sets through the real binary (issue 16): `jobs list --limit/--after` pages every
//! job exactly once while jobs come and go, and a daemon, `status` and `jobs list` over a big
//! store stay within a memory bound that holding every job would break.

use std::collections::BTreeSet;
use std::time::Duration;

use cronhost_e2e::{memory_mib, wait_for, Running, TestHome};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One `jobs list --json` page: its job ids and `next_after`.
fn page(home: &TestHome, extra: &[&str]) -> (Vec<String>, Option<String>) {
    let mut args = vec!["jobs", "list", "--json"];
    args.extend_from_slice(extra);
    let document = home.json(&args);
    assert_eq!(document["format"], "cronhost-job-list", "{document}");
    assert_eq!(document["version"], 1, "{document}");
    let ids = document["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| job["id"].as_str().expect("id").to_owned())
        .collect();
    (ids, document["next_after"].as_str().map(str::to_owned))
}

/// The sequence number of a job id (`j` and base-36 digits).
fn sequence(id: &str) -> u64 {
    u64::from_str_radix(&id[1..], 36).expect("a job id")
}

#[test]
fn pages_hold_every_job_exactly_once_in_id_order_while_jobs_are_added_and_removed() {
    let home = TestHome::new();
    let mut ids: Vec<String> = (0..23)
        .map(|i| {
            home.add_job(&[
                &format!("{} 3 * * *", i % 60),
                "--name",
                &format!("job-{i}"),
                "--",
                "true",
            ])
        })
        .collect();
    // A paused job is left out of pages without `--all`, as from the whole listing.
    let paused = ids.remove(4);
    assert!(home.cronhost(&["jobs", "pause", &paused]).status.success());
    let (first, mut after) = page(&home, &["--limit", "5"]);
    assert_eq!(
        first,
        ids[..5],
        "the first page: the oldest active jobs, in id order"
    );
    let mut seen = first;
    // Between pages: a job added (it comes last, after every job there is), a job removed
    // that was not listed yet (it is never listed), one removed that was (no shift).
    let added = home.add_job(&["5 4 * * *", "--name", "late", "--", "true"]);
    let removed_ahead = ids[9].clone();
    let removed_behind = ids[1].clone();
    for job in [&removed_ahead, &removed_behind] {
        assert!(home.cronhost(&["jobs", "remove", job]).status.success());
    }
    let mut pages = 1;
    while let Some(cursor) = after.take() {
        let (ids, next) = page(&home, &["--limit", "5", "--after", &cursor]);
        assert!(ids.len() <= 5);
        assert!(
            !ids.is_empty(),
            "a page that says more follow is never followed by none"
        );
        seen.extend(ids);
        after = next;
        pages += 1;
        assert!(pages < 20, "paging ends");
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no job twice: {seen:?}");
    assert!(
        seen.windows(2).all(|w| sequence(&w[0]) < sequence(&w[1])),
        "id order: {seen:?}"
    );
    let mut expected: Vec<String> = ids
        .iter()
        .filter(|id| **id != removed_ahead)
        .cloned()
        .collect();
    expected.push(added);
    assert_eq!(
        seen, expected,
        "every job there throughout, once, and the one added"
    );
    assert!(!seen.contains(&paused));

    // `--all` pages include the paused job; the last page says no more follow.
    let (all, next) = page(&home, &["--all", "--limit", "100"]);
    assert!(all.contains(&paused));
    assert_eq!(next, None);
    // The table pages too, and says on standard error how to go on.
    let output = home.cronhost(&["jobs", "list", "--limit", "2"]);
    assert!(output.status.success());
    let table = text(&output.stdout);
    let listed: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    // ids[1] was removed: the first two active jobs now are ids[0] and ids[2].
    assert_eq!(listed, [ids[0].as_str(), ids[2].as_str()], "{table}");
    let hint = text(&output.stderr);
    assert!(
        hint.contains(&format!("cronhost jobs list --after {} --limit 2", ids[2])),
        "{hint}"
    );
}

#[test]
fn a_page_refuses_what_is_not_a_job_id_or_a_size() {
    let home = TestHome::new();
    home.add_job(&["5 3 * * *", "--", "true"]);
    for args in [
        &["jobs", "list", "--after", "../etc"][..],
        &["jobs", "list", "--after", "backup"],
        &["jobs", "list", "--limit", "0"],
        &["jobs", "list", "--limit", "100001"],
    ] {
        let output = home.cronhost(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    // Past the last job: an empty page, not an error.
    let (ids, next) = page(&home, &["--after", "jzzz"]);
    assert!(ids.is_empty() && next.is_none());
}

/// Fill the home's store with `count` jobs straight through SQLite, a copy of one job added
/// through the CLI each (ids `j2`, `j3`, ...), in one statement.
fn fill_store(home: &TestHome, count: u64) {
    home.add_job(&["7 5 29 2 *", "--name", "template", "--", "true"]);
    let conn = rusqlite::Connection::open(home.state_dir().join("cronhost.db")).expect("store");
    let columns = "command, shell, workdir, env, schedule_text, schedule, timezone, repeat_limit, completed_count, enabled, next_run, catch_up, overlap, created_at";
    conn.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < {last})
         INSERT INTO jobs (id, name, name_key, {columns})
         SELECT 'j' || i, 'job-' || i, 'job-' || i, {columns} FROM n, jobs WHERE jobs.name = 'template';
         UPDATE sequence SET value = {last} WHERE name = 'job';",
        last = count + 1,
    ))
    .expect("fill the store");
}

/// How far every path that reads the whole job set may grow a process: holding 100,000 jobs
/// takes about 70 MiB more than the process's own ~12 MiB.
const BOUND_MIB: f64 = 48.0;

#[test]
fn a_daemon_status_and_listing_over_100000_jobs_never_hold_them_all() {
    let home = TestHome::new();
    let jobs = 100_000;
    fill_store(&home, jobs);
    home.write_config("[cron]\ntick_interval_ms = 1000\n");
    let success = home.state_dir().join("ticker_last_success");
    let running = Running::start(&home);
    wait_for("the first clean tick", Duration::from_secs(60), || {
        success.exists()
    });
    running.wait_for_log("active job(s),");
    assert!(
        running
            .log()
            .contains(&format!("{} active job(s), {0} in all", jobs + 1)),
        "{}",
        running.log()
    );
    let (_, peak) = memory_mib(running.pid());
    assert!(
        peak < BOUND_MIB,
        "the daemon's peak RSS over {jobs} jobs: {peak:.1} MiB"
    );

    let status = home.json(&["status", "--json"]);
    assert_eq!(status["active_jobs"], jobs + 1, "{status}");
    for args in [&["status", "--json"][..], &["jobs", "list"]] {
        let child = home
            .command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("cronhost");
        let pid = child.id();
        let watcher = std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                peak = peak.max(memory_mib(pid).1);
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        });
        let output = child.wait_with_output().expect("cronhost");
        let peak = watcher.join().expect("watcher");
        assert!(output.status.code().is_some_and(|c| c <= 3), "{args:?}");
        if args[0] == "jobs" {
            assert_eq!(
                text(&output.stdout).lines().count() as u64,
                jobs + 2,
                "a header and every job"
            );
        }
        assert!(
            peak < BOUND_MIB,
            "`cronhost {}` peak RSS over {jobs} jobs: {peak:.1} MiB",
            args.join(" ")
        );
    }
    let (status, log) = running.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
}
