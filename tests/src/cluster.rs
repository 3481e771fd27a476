//! Several cronhost hosts sharing one job set through the PostgreSQL provider: homes with the
//! same config and imported jobs, daemons started and stopped, and what they did, read back
//! from the marker file the jobs write and from PostgreSQL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::postgres::{database_url, unique_cluster};
use crate::{artifacts, TestHome};

const PATIENCE: Duration = Duration::from_secs(60);

/// One host of a cluster.
pub struct Host {
    /// Its home.
    pub home: TestHome,
    /// Its daemon, while it runs.
    pub child: Option<Child>,
}

/// A cluster of hosts in one PostgreSQL cluster namespace.
pub struct Cluster {
    /// The cluster name (unique per test).
    pub name: String,
    /// The hosts.
    pub hosts: Vec<Host>,
    /// The file every per-second job appends "JOB SCHEDULED" to.
    pub marks: PathBuf,
    /// A scratch directory that lives as long as the cluster.
    pub dir: tempfile::TempDir,
}

impl Cluster {
    /// `count` hosts with the same cluster config and the same imported jobs: `per_second`
    /// jobs firing every second, each appending "JOB SCHEDULED" to a shared file. The provider
    /// scans at least every 50 ms.
    pub fn new(test: &str, count: usize, url: &str, lease_secs: u64, per_second: usize) -> Self {
        Self::with_settings(
            test,
            count,
            url,
            lease_secs,
            per_second,
            ("", "poll_ms = 50\n"),
        )
    }

    /// As [`Cluster::new`], with TOML lines added to `[cron]` and to `[providers.postgres]`.
    pub fn with_settings(
        test: &str,
        count: usize,
        url: &str,
        lease_secs: u64,
        per_second: usize,
        (cron, settings): (&str, &str),
    ) -> Self {
        let name = unique_cluster(test);
        let dir = tempfile::tempdir().unwrap();
        let marks = dir.path().join("marks");
        let hosts: Vec<Host> = (0..count)
            .map(|_| {
                let home = TestHome::new();
                home.install(&artifacts().postgres, "postgres.so");
                home.write_config(&format!(
                    "[cron]\nprovider = \"postgres\"\nfallback = \"none\"\n{cron}[providers.postgres]\nurl = \"{url}\"\ncluster = \"{name}\"\nlease_secs = {lease_secs}\n{settings}"
                ));
                Host { home, child: None }
            })
            .collect();
        let cluster = Self {
            name,
            hosts,
            marks,
            dir,
        };
        cluster.add_per_second_jobs(0, per_second);
        cluster
    }

    /// Add `count` jobs firing every second (named `every-second-N` from `first`) on the first
    /// host, and share the first host's jobs with the others.
    pub fn add_per_second_jobs(&self, first: usize, count: usize) {
        for n in first..first + count {
            self.hosts[0].home.add_job(&[
                "*/1 * * * * *",
                "--name",
                &format!("every-second-{n}"),
                "--shell",
                "--",
                &format!(
                    "echo \"$CRONHOST_JOB_ID $CRONHOST_SCHEDULED_AT\" >> '{}'",
                    self.marks.display()
                ),
            ]);
        }
        self.share_jobs();
    }

    /// Copy the first host's jobs (ids kept) to the others.
    pub fn share_jobs(&self) {
        let export = self.hosts[0].home.cronhost(&["jobs", "export"]);
        assert!(export.status.success());
        let file = self.dir.path().join("jobs.json");
        std::fs::write(&file, &export.stdout).unwrap();
        for host in &self.hosts[1..] {
            let imported = host
                .home
                .cronhost(&["jobs", "import", file.to_str().unwrap()]);
            assert!(
                imported.status.success(),
                "{}",
                String::from_utf8_lossy(&imported.stderr)
            );
        }
    }

    /// Start host `index`'s daemon, its scheduling clock skewed by `skew_ms`.
    pub fn start(&mut self, index: usize, skew_ms: i64) {
        let host = &mut self.hosts[index];
        let skew = skew_ms.to_string();
        let (child, _log) = host
            .home
            .spawn_daemon("daemon.log", &[("CRONHOST_CLOCK_SKEW_MS", &skew)]);
        host.child = Some(child);
    }

    pub fn stop_all(&mut self) {
        for host in &mut self.hosts {
            if let Some(mut child) = host.child.take() {
                // SAFETY: kill(2) on our own child.
                unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                let deadline = Instant::now() + PATIENCE;
                while child.try_wait().unwrap().is_none() {
                    assert!(Instant::now() < deadline, "a host did not stop");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    pub fn log(&self, index: usize) -> String {
        std::fs::read_to_string(self.hosts[index].home.path().join("daemon.log"))
            .unwrap_or_default()
    }

    /// Every (job, scheduled) executed, with how many times.
    pub fn executions(&self) -> BTreeMap<(String, String), usize> {
        let mut seen = BTreeMap::new();
        for line in std::fs::read_to_string(&self.marks)
            .unwrap_or_default()
            .lines()
        {
            let (job, at) = line.split_once(' ').unwrap();
            *seen.entry((job.to_owned(), at.to_owned())).or_insert(0) += 1;
        }
        seen
    }

    /// Claims in PostgreSQL: (job, scheduled ms) -> (member, status); none before a host has
    /// created the schema.
    pub fn claims(&self) -> BTreeMap<(String, i64), (String, String)> {
        let mut client = postgres::Client::connect(database_url(), postgres::NoTls).unwrap();
        let rows = match client.query(
            "SELECT job_id, scheduled_at, member, status FROM cronhost.claims WHERE cluster = $1",
            &[&self.name],
        ) {
            Ok(rows) => rows,
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => Vec::new(),
            Err(e) => panic!("querying the claims: {e}"),
        };
        rows.into_iter()
            .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            if let Some(mut child) = host.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// host:port of the server behind `url`.
pub fn server_address(url: &str) -> String {
    let config: postgres::Config = url.parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".into(),
    };
    format!(
        "{host}:{}",
        config.get_ports().first().copied().unwrap_or(5432)
    )
}

/// `url` rewritten to go through a local proxy on `port`.
pub fn proxied_url(url: &str, port: u16) -> String {
    let config: postgres::Config = url.parse().unwrap();
    format!(
        "postgres://{}@127.0.0.1:{port}/{}",
        config.get_user().unwrap_or("postgres"),
        config.get_dbname().unwrap_or("postgres")
    )
}

/// Now, in milliseconds since the epoch.
pub fn epoch_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
