//! A `cronhost run` process under test: started in a [`TestHome`], its log read back, stopped
//! with SIGTERM; and jobs that leave a mark each time they fire.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use crate::TestHome;

/// How long a test waits for something that should happen within a few seconds.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running `cronhost run`, its stderr captured to a file. Killed when dropped.
pub struct Running {
    child: Child,
    stderr: PathBuf,
}

impl Running {
    /// Start `cronhost run` in `home`.
    pub fn start(home: &TestHome) -> Self {
        let (child, stderr) = home.spawn_daemon("stderr.log", &[]);
        Self { child, stderr }
    }

    /// Take charge of a daemon started with [`TestHome::spawn_daemon`].
    pub fn adopt(child: Child, stderr: PathBuf) -> Self {
        Self { child, stderr }
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Wait until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !self.log().contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out after {PATIENCE:?} waiting for {needle:?} in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The address the daemon serves `/metrics` on (`[metrics] listen`), once it says so.
    pub fn metrics_address(&self) -> String {
        self.wait_for_log("metrics at http://");
        self.log()
            .split("metrics at http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .expect("the metrics address in the log")
            .to_owned()
    }

    /// Wait (bounded) for the process to exit by itself.
    pub fn wait_exit(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("cronhost did not exit; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Send SIGTERM and wait (bounded) for the exit.
    pub fn terminate(self) -> (ExitStatus, String) {
        let pid = i32::try_from(self.child.id()).expect("pid fits i32");
        // SAFETY: plain kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        self.wait_exit()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Panic if any occurrence in a marks file ran more than once; returns how many ran.
pub fn assert_each_occurrence_ran_once(marks: &Path) -> usize {
    let text = std::fs::read_to_string(marks).unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        assert!(seen.insert(line), "{line} ran twice ({})", marks.display());
    }
    seen.len()
}

/// Lines in a file (0 when it does not exist).
pub fn count_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Add a job firing every second that appends a line to `marks/NAME` (the occurrence it ran
/// for: `CRONHOST_SCHEDULED_AT`); returns that file.
pub fn marking_job(home: &TestHome, name: &str) -> PathBuf {
    let marks = home.path().join("marks");
    std::fs::create_dir_all(&marks).expect("marks dir");
    let out = marks.join(name);
    let line = format!("echo \"$CRONHOST_SCHEDULED_AT\" >> '{}'", out.display());
    home.add_job(&["*/1 * * * * *", "--name", name, "--", "sh", "-c", &line]);
    out
}

/// Lateness (ms: started − scheduled) of the runs in `home` scheduled in [from, to] (epoch ms),
/// as `cronhost runs --json` reports them.
pub fn run_lateness_ms(home: &TestHome, from: i64, to: i64) -> Vec<i64> {
    let output = home.cronhost(&["runs", "--json", "--limit", "1000000"]);
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("runs JSON");
    runs["runs"]
        .as_array()
        .expect("runs JSON lists runs")
        .iter()
        .filter(|run| {
            run["scheduled_at"]
                .as_str()
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                .is_some_and(|at| (from..=to).contains(&at.timestamp_millis()))
        })
        .filter_map(|run| run["lateness_ms"].as_i64())
        .collect()
}

/// CPU seconds (user + system) process `pid` has used, its own threads only (not its
/// children's), from `/proc` (0 when unknown).
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(14) + ticks(15)) / hz
}

/// Resident (`VmRSS`) and peak (`VmHWM`) memory of process `pid`, in MiB (0 when unknown).
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}
