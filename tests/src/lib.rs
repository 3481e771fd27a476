//! Helpers for cronhost's end-to-end tests: built artifacts, temporary homes with plugins
//! dirs, captured logs, a scriptable engine and deadline-bounded waiting.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use cronhost::engine::{Engine, EngineError, FireOutcome, TickReport};

pub mod cluster;
mod daemon;
pub mod embedded;
pub mod floor;
pub mod postgres;
pub mod proxy;

pub use daemon::{
    assert_each_occurrence_ran_once, count_lines, cpu_secs, marking_job, memory_mib,
    run_lateness_ms, Running, PATIENCE,
};

/// Paths of everything the tests load or run, freshly built.
#[derive(Debug)]
pub struct Artifacts {
    /// The `cronhost` binary.
    pub cronhost: PathBuf,
    /// The bundled example provider.
    pub example: PathBuf,
    /// The provider template (`providers/template`).
    pub template: PathBuf,
    /// The zoo of faulty providers.
    pub zoo: PathBuf,
    /// A library duplicating a zoo provider name.
    pub duplicate: PathBuf,
    /// A real shared library that is not a provider.
    pub not_a_plugin: PathBuf,
    /// The bundled PostgreSQL cluster provider.
    pub postgres: PathBuf,
    /// A provider built against the frozen 1.0 interface.
    pub compat_1_0: PathBuf,
    /// A provider built against the frozen 1.1 interface (`compat-1.1`).
    pub compat_1_1: PathBuf,
    /// A provider built against the frozen 1.2 interface (`compat-1.2`).
    pub compat_1_2: PathBuf,
    /// A provider built against a 2.0 interface (refused by version).
    pub api_v2: PathBuf,
    /// A provider built against another application's interface (refused by layout).
    pub foreign: PathBuf,
    /// A provider built with `-C panic=abort` whose `start` panics.
    pub panic_abort: PathBuf,
    /// A provider built with `-C panic=abort` that panics while registering (at load).
    pub panic_abort_register: PathBuf,
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
        .to_path_buf()
}

fn cargo_build(args: &[&str], target_dir: &Path) {
    cargo("build", args, &[], target_dir);
}

/// `cargo SUBCOMMAND --quiet [--release] ARGS --target-dir DIR [-- RUSTC_ARGS]`.
fn cargo(subcommand: &str, args: &[&str], rustc_args: &[&str], target_dir: &Path) {
    let release = std::env::var_os("CRONHOST_E2E_RELEASE").is_some();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(workspace_root())
        .arg(subcommand)
        .arg("--quiet")
        .args(release.then_some("--release"))
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        .args((!rustc_args.is_empty()).then_some("--"))
        .args(rustc_args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert!(status.success(), "cargo build {args:?} failed ({status})");
}

/// `libNAME.so` (or this platform's equivalent) for a crate named `name`.
pub fn library_file_name(name: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// Build the artifacts, then write the machine's dirty pages out (`sync`): a benchmark run
/// right after a build can measure the build's hundreds of MiB of writeback too (2026-12-03:
/// the daemon's CPU per 1,000 fires read 0.75 s in both runs that began with a build, 0.48 s in
/// one that did not).
pub fn ready_to_measure() -> &'static Artifacts {
    let built = artifacts();
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    built
}

/// Build the binary and every provider library once per test process, into target dirs of
/// their own (so this never waits on the outer cargo's lock), and return their paths.
pub fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let root = workspace_root();
        let target = root.join("target").join("e2e");
        cargo_build(
            &[
                "-p",
                "cronhost-cli",
                "-p",
                "cronhost-provider-example",
                "-p",
                "cronhost-provider-template",
                "-p",
                "cronhost-provider-postgres",
                "-p",
                "cronhost-fixture-zoo",
                "-p",
                "cronhost-fixture-duplicate",
                "-p",
                "cronhost-fixture-not-a-plugin",
            ],
            &target,
        );
        // Only the fixture itself is built with panic=abort: that decides the panic runtime of
        // the library, as a `panic = "abort"` profile would. Its own target dir keeps the flag
        // from flipping fingerprints in the build above.
        let abort_target = root.join("target").join("e2e-abort");
        for fixture in [
            "cronhost-fixture-panic-abort",
            "cronhost-fixture-panic-abort-register",
        ] {
            cargo(
                "rustc",
                &["-p", fixture, "--lib"],
                &["-C", "panic=abort"],
                &abort_target,
            );
        }
        let compat_target = root.join("target").join("e2e-compat");
        let compat_manifest = root.join("tests/fixtures/other-apis/Cargo.toml");
        cargo_build(
            &[
                "--manifest-path",
                compat_manifest.to_str().expect("utf-8 path"),
            ],
            &compat_target,
        );
        let frozen = |version: &str| {
            let target = root.join("target").join(format!("e2e-compat-{version}"));
            let manifest = root.join(format!("tests/fixtures/api-{version}/Cargo.toml"));
            cargo_build(
                &["--manifest-path", manifest.to_str().expect("utf-8 path")],
                &target,
            );
            target
        };
        let (compat_1_1_target, compat_1_2_target) = (frozen("1.1"), frozen("1.2"));
        // Benchmarks set CRONHOST_E2E_RELEASE to measure optimised builds.
        let profile = if std::env::var_os("CRONHOST_E2E_RELEASE").is_some() {
            "release"
        } else {
            "debug"
        };
        let built = target.join(profile);
        Artifacts {
            cronhost: built.join(format!("cronhost{}", std::env::consts::EXE_SUFFIX)),
            example: built.join(library_file_name("cronhost-provider-example")),
            template: built.join(library_file_name("cronhost-provider-template")),
            postgres: built.join(library_file_name("cronhost-provider-postgres")),
            zoo: built.join(library_file_name("cronhost-fixture-zoo")),
            duplicate: built.join(library_file_name("cronhost-fixture-duplicate")),
            not_a_plugin: built.join(library_file_name("cronhost-fixture-not-a-plugin")),
            compat_1_0: compat_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-compat")),
            compat_1_1: compat_1_1_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-compat-1-1")),
            compat_1_2: compat_1_2_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-compat-1-2")),
            api_v2: compat_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-v2")),
            foreign: compat_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-foreign")),
            panic_abort: abort_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-panic-abort")),
            panic_abort_register: abort_target
                .join(profile)
                .join(library_file_name("cronhost-fixture-panic-abort-register")),
        }
    })
}

/// The C zoo (`tests/fixtures/c-zoo`): libraries whose constructors attack whoever loads them.
#[derive(Debug)]
pub struct CZoo {
    /// Calls `abort()` at load.
    pub abort: PathBuf,
    /// Segfaults at load.
    pub segv: PathBuf,
    /// Calls `exit(0)` at load.
    pub exit: PathBuf,
    /// Never returns from its constructor (and ignores SIGTERM).
    pub hang: PathBuf,
    /// Needs a library that does not exist: `dlopen` refuses it.
    pub missing_dep: PathBuf,
}

/// Compile C sources of the C zoo into `out/NAME` with the system's `cc`.
fn cc(out: &Path, name: &str, args: &[&str]) -> PathBuf {
    let source_dir = workspace_root().join("tests/fixtures/c-zoo");
    let library = out.join(name);
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .current_dir(&source_dir)
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&library)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cc (the C zoo needs a C compiler): {e}"));
    assert!(status.success(), "cc {args:?} failed ({status})");
    library
}

/// Build the C zoo once per test process.
pub fn c_zoo() -> &'static CZoo {
    static C_ZOO: OnceLock<CZoo> = OnceLock::new();
    C_ZOO.get_or_init(|| {
        let out = workspace_root().join("target").join("e2e-c").join(format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&out).expect("C zoo output dir");
        let gone = cc(&out, "libzoo_gone.so", &["gone.c"]);
        let out_arg = format!("-L{}", out.display());
        let missing_dep = cc(
            &out,
            "libzoo_missing_dep.so",
            &["missing_dep.c", &out_arg, "-lzoo_gone"],
        );
        std::fs::remove_file(gone).expect("delete the dependency");
        CZoo {
            abort: cc(&out, "libzoo_ctor_abort.so", &["ctor_abort.c"]),
            segv: cc(&out, "libzoo_ctor_segv.so", &["ctor_segv.c"]),
            exit: cc(&out, "libzoo_ctor_exit.so", &["ctor_exit.c"]),
            hang: cc(&out, "libzoo_ctor_hang.so", &["ctor_hang.c"]),
            missing_dep,
        }
    })
}

/// Build `ctor_escape.c` into `out`: at load it tries to create `marker` and to reach
/// `127.0.0.1:port` over TCP and UDP, and reports how each went on stderr.
pub fn escape_library(out: &Path, marker: &Path, port: u16) -> PathBuf {
    cc(
        out,
        "libzoo_escape.so",
        &[
            "ctor_escape.c",
            &format!("-DZOO_MARKER=\"{}\"", marker.display()),
            &format!("-DZOO_PORT={port}"),
        ],
    )
}

/// Make the host library in this test process start its helper children (plugin probe,
/// isolated providers) from the built `cronhost` binary, as an embedding program would with
/// `CRONHOST_PROVIDER_HOST`: the test harness itself cannot serve them.
pub fn helpers_from_built_cronhost() {
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| std::env::set_var("CRONHOST_PROVIDER_HOST", &artifacts().cronhost));
}

/// Scan `dir` as the host does: vetting with `policy`, then the sandboxed probe run by the
/// built `cronhost` binary (10 s per file), no cache.
pub fn discover_with(
    dir: &Path,
    policy: cronhost::plugins::VetPolicy,
) -> cronhost::plugins::Discovery {
    let mut options =
        cronhost::plugins::DiscoverOptions::new(&artifacts().cronhost, Duration::from_secs(10));
    options.policy = policy;
    cronhost::plugins::discover(dir, &options)
}

/// [`discover_with`] the default policy.
pub fn discover_in(dir: &Path) -> cronhost::plugins::Discovery {
    discover_with(dir, cronhost::plugins::VetPolicy::default())
}

/// A temporary cronhost home with a `plugins.d/`.
pub struct TestHome {
    dir: tempfile::TempDir,
}

impl TestHome {
    /// A new empty home with an empty plugins dir.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir(dir.path().join("plugins.d")).expect("plugins.d");
        Self { dir }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The plugins dir.
    pub fn plugins_dir(&self) -> PathBuf {
        self.dir.path().join("plugins.d")
    }

    /// The state dir (`cron/`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("cron")
    }

    /// Copy `library` into the plugins dir as `file_name`; returns the installed path.
    pub fn install(&self, library: &Path, file_name: &str) -> PathBuf {
        let to = self.plugins_dir().join(file_name);
        std::fs::copy(library, &to)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", library.display(), to.display()));
        to
    }

    /// Write a file in the plugins dir.
    pub fn write_plugin_file(&self, file_name: &str, contents: &[u8]) -> PathBuf {
        let to = self.plugins_dir().join(file_name);
        std::fs::write(&to, contents).expect("write plugin file");
        to
    }

    /// Write `cronhost.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("cronhost.toml"), text).expect("write config");
    }

    /// Start `cronhost --home HOME run` in the background with extra environment `env`; its
    /// stderr (the log, at INFO) goes to `HOME/LOG_NAME`, whose path is returned with the child.
    pub fn spawn_daemon(
        &self,
        log_name: &str,
        env: &[(&str, &str)],
    ) -> (std::process::Child, PathBuf) {
        let log = self.path().join(log_name);
        let child = Command::new(&artifacts().cronhost)
            .arg("--home")
            .arg(self.path())
            .arg("run")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .env_remove("CRONHOST_HOME")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("daemon log file"))
            .spawn()
            .expect("cronhost run starts");
        (child, log)
    }

    /// `cronhost --home HOME` with neither `CRONHOST_HOME` nor `RUST_LOG` from the test's
    /// environment: what an operator's shell runs, for tests of what the CLI prints by default.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&artifacts().cronhost);
        command
            .arg("--home")
            .arg(self.path())
            .env_remove("CRONHOST_HOME")
            .env_remove("RUST_LOG");
        command
    }

    /// Run `cronhost --home HOME ARGS...` to completion.
    pub fn cronhost(&self, args: &[&str]) -> std::process::Output {
        Command::new(&artifacts().cronhost)
            .arg("--home")
            .arg(self.path())
            .args(args)
            .env_remove("CRONHOST_HOME")
            .env("RUST_LOG", "warn")
            .output()
            .expect("cronhost runs")
    }

    /// Run `cronhost --home HOME ARGS...` and read its stdout as JSON (panics, with the
    /// output, when it is not).
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let output = self.cronhost(args);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// The newest 1,000 runs of `job` (newest first), as `cronhost runs --json` lists them.
    pub fn runs(&self, job: &str) -> Vec<serde_json::Value> {
        self.json(&["runs", job, "--limit", "1000", "--json"])["runs"]
            .as_array()
            .expect("runs --json lists runs")
            .clone()
    }

    /// Add a job through the CLI; returns its id. Panics with the CLI's message on failure.
    pub fn add_job(&self, args: &[&str]) -> String {
        let mut full = vec!["jobs", "add"];
        full.extend_from_slice(args);
        let output = self.cronhost(&full);
        assert!(
            output.status.success(),
            "jobs add {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The home as cronhost's type.
    pub fn home(&self) -> cronhost::Home {
        cronhost::Home::open(self.path()).expect("open home")
    }
}

impl Default for TestHome {
    fn default() -> Self {
        Self::new()
    }
}

/// Poll `condition` until it holds; panic naming `what` after `timeout`. A bound on behaviour,
/// not a timing assertion: timeouts are generous.
pub fn wait_for(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A logger that keeps every record, so tests can assert on log lines.
struct Capture;

static LOG_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}", record.level(), record.args());
            LOG_LINES
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line);
        }
    }

    fn flush(&self) {}
}

/// Install the capturing logger (once per test process).
pub fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).expect("no other logger installed");
        log::set_max_level(log::LevelFilter::Debug);
    });
}

/// Captured log lines (`LEVEL message`) containing `needle`.
pub fn logs_containing(needle: &str) -> Vec<String> {
    LOG_LINES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|line| line.contains(needle))
        .cloned()
        .collect()
}

/// What a [`ScriptedEngine`] does on tick number N (1-based).
pub type TickScript = Box<dyn Fn(usize) -> Result<TickReport, EngineError> + Send + Sync>;

/// An engine whose ticks follow a script and are counted; `fire_due` records the ids asked for,
/// `fire_occurrence` the occurrences (`JOB@MS`).
pub struct ScriptedEngine {
    ticks: AtomicUsize,
    fired: Mutex<Vec<String>>,
    script: TickScript,
}

impl ScriptedEngine {
    /// An engine running `script` on each tick.
    pub fn new(
        script: impl Fn(usize) -> Result<TickReport, EngineError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            ticks: AtomicUsize::new(0),
            fired: Mutex::new(Vec::new()),
            script: Box::new(script),
        }
    }

    /// An engine whose every tick succeeds.
    pub fn clean() -> Self {
        Self::new(|_| Ok(TickReport::default()))
    }

    /// How many ticks ran (or started, for a panicking one).
    pub fn ticks(&self) -> usize {
        self.ticks.load(Ordering::SeqCst)
    }

    /// The job ids `fire_due` was called with, and the occurrences `fire_occurrence` was.
    pub fn fired(&self) -> Vec<String> {
        self.fired.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Engine for ScriptedEngine {
    fn tick(&self) -> Result<TickReport, EngineError> {
        let n = self.ticks.fetch_add(1, Ordering::SeqCst) + 1;
        (self.script)(n)
    }

    fn fire_due(&self, job_id: &str) -> Result<FireOutcome, EngineError> {
        self.fired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job_id.to_owned());
        Ok(FireOutcome::Fired)
    }

    fn due_job_ids(&self) -> Result<Vec<String>, EngineError> {
        Ok(Vec::new())
    }

    fn fire_occurrence(
        &self,
        job_id: &str,
        scheduled_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<FireOutcome, EngineError> {
        let occurrence = format!("{job_id}@{}", scheduled_at.timestamp_millis());
        self.fired
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(occurrence);
        Ok(FireOutcome::Fired)
    }
}
